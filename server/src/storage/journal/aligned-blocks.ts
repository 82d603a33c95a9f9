import fs from 'node:fs';
import path from 'node:path';

/**
 * Memory for O_DIRECT writes, which need their buffer, file offset and length aligned to the
 * device's block. Node has no aligned allocation; a WebAssembly.Memory is page-aligned (V8 maps
 * it with the page allocator), so the pool is one such memory cut into equal blocks. Whether
 * the directory's filesystem takes O_DIRECT at all (tmpfs does not) is probed once.
 *
 * Why O_DIRECT: on this VM an 18 MB object written through the page cache cost ~30 ms of page
 * allocation and ~70 ms more in fsync (measured: 20 × 18 MB, new file + write + fsync 2065 ms,
 * O_DIRECT + fsync 411 ms), and that was most of what our SCP spent per large object.
 */
export const ALIGN = 4096;
export const BLOCK_BYTES = 1024 * 1024;
const POOL_BYTES = 64 * 1024 * 1024;

export class AlignedBlocks {
  private readonly free: Buffer[] = [];

  constructor(bytes = POOL_BYTES) {
    const memory = new WebAssembly.Memory({ initial: bytes / 65536, maximum: bytes / 65536 });
    // A view of the memory, not a copy; the memory is never grown, so the views stay valid.
    const all = Buffer.from(memory.buffer);
    for (let at = 0; at < bytes; at += BLOCK_BYTES) this.free.push(all.subarray(at, at + BLOCK_BYTES));
  }

  /** A block, or undefined when all are out (writes slower than arrivals by 64 MB). */
  take(): Buffer | undefined {
    return this.free.pop();
  }

  give(block: Buffer): void {
    this.free.push(block);
  }
}

/** True when `dir`'s filesystem accepts an O_DIRECT write from `block`. */
export function directIoWorks(dir: string, block: Buffer): boolean {
  const probe = path.join(dir, `.direct-io-probe-${process.pid}`);
  let fd: number | undefined;
  try {
    fd = fs.openSync(probe, fs.constants.O_CREAT | fs.constants.O_WRONLY | fs.constants.O_TRUNC | fs.constants.O_DIRECT, 0o600);
    return fs.writeSync(fd, block, 0, ALIGN, 0) === ALIGN;
  } catch {
    return false;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
    fs.rmSync(probe, { force: true });
  }
}

export const roundUp = (n: number) => Math.ceil(n / ALIGN) * ALIGN;
