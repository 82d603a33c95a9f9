import { randomUUID } from 'node:crypto';
import fsSync from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { ALIGN, AlignedBlocks, BLOCK_BYTES, directIoWorks, roundUp } from './aligned-blocks.js';

/**
 * Where our SCP puts an object before it acknowledges it: one file per object, written and
 * fsynced, in arrival order by name. The index catches up from here (IngestService), and on
 * start-up whatever is still here is indexed then, so an acknowledged object is never lost
 * between the acknowledgement and its index rows.
 *
 * Files are created under their final name and fsynced once, as Orthanc's SyncStorageArea does:
 * on ext4/xfs that one fsync also commits the new directory entry. A crash mid-write can leave
 * a partial file, but that object was never acknowledged; recovery drops what does not parse.
 */
export class IngestJournal {
  private made = false;
  private sequence = 0;
  private spare: { fd: number; file: string } | undefined;
  private closed = false;
  /** Staging memory for O_DIRECT writes; undefined where the filesystem does not take them. */
  private blocks: AlignedBlocks | undefined;

  /** `tryDirectIo` false: always through the page cache (the tests cover both writers this way). */
  constructor(readonly dir: string, private readonly tryDirectIo = true) {}

  /**
   * A new journal file with `header` (the meta header) written; the dataset follows through
   * the writer, as it arrives. Synchronous from open to fsync: the acknowledgement waits for all
   * of it anyway, and thread-pool round trips cost more than the calls (a 130 KB object: ~0.9 ms
   * this way, ~1.3 ms with the fsync on the pool; the indexer has its own thread, so nothing
   * else waits on this one). The file is one created ahead, after the previous object: creating
   * a file is ~0.25 ms on this VM, a quarter of the write.
   */
  open(header: Uint8Array): JournalWriter {
    const { fd, file } = this.spare ?? this.create();
    this.spare = undefined;
    setImmediate(() => {
      if (this.spare || this.closed) return;
      try {
        this.spare = this.create();
      } catch {
        // The next object creates its file itself (and reports what is wrong).
      }
    });
    const writer: JournalWriter = this.blocks ? new DirectJournalWriter(file, fd, this.blocks) : new BufferedJournalWriter(file, fd);
    writer.write(header);
    return writer;
  }

  /** A whole object at once: its journal file, fsynced. */
  write(parts: readonly Uint8Array[]): Promise<string> {
    const writer = this.open(parts[0]!);
    for (const part of parts.slice(1)) writer.write(part);
    return writer.finish();
  }

  private create(): { fd: number; file: string } {
    if (!this.made) {
      fsSync.mkdirSync(this.dir, { recursive: true });
      this.made = true;
      if (this.tryDirectIo) {
        const blocks = new AlignedBlocks();
        const probe = blocks.take()!;
        if (directIoWorks(this.dir, probe)) this.blocks = blocks;
        blocks.give(probe);
      }
    }
    // Time, then a per-process counter: names sort in arrival order across restarts.
    this.sequence += 1;
    const file = path.join(this.dir, `${Date.now().toString().padStart(14, '0')}-${String(this.sequence).padStart(8, '0')}-${randomUUID().slice(0, 8)}.dcm`);
    const flags = fsSync.constants.O_CREAT | fsSync.constants.O_EXCL | fsSync.constants.O_WRONLY | (this.blocks ? fsSync.constants.O_DIRECT : 0);
    return { fd: fsSync.openSync(file, flags, 0o640), file };
  }

  /** Whether objects go to the disk with O_DIRECT (known once the first file is made). */
  get directIo(): boolean {
    return this.blocks !== undefined;
  }

  /** Files left by an earlier run, oldest first; empty ones (created ahead, never written) are removed. */
  async pending(): Promise<string[]> {
    const names = (await fs.readdir(this.dir).catch(() => [] as string[])).filter((n) => n.endsWith('.dcm')).sort();
    const files: string[] = [];
    for (const name of names) {
      const file = path.join(this.dir, name);
      if (file === this.spare?.file) continue;
      if ((await fs.stat(file)).size === 0) await fs.rm(file, { force: true });
      else files.push(file);
    }
    return files;
  }

  /** Removes the file created ahead. */
  close(): void {
    this.closed = true;
    if (!this.spare) return;
    fsSync.closeSync(this.spare.fd);
    fsSync.rmSync(this.spare.file, { force: true });
    this.spare = undefined;
  }

  /** Moves an object the index refused into failed/ (kept for a person to look at); returns its new path. */
  setAside(file: string): string {
    const failed = path.join(this.dir, 'failed');
    fsSync.mkdirSync(failed, { recursive: true });
    const target = path.join(failed, path.basename(file));
    fsSync.renameSync(file, target);
    return target;
  }

  remove(file: string): void {
    fsSync.rmSync(file, { force: true });
  }
}

/** Writes at least this large go to the thread pool. */
const POOL_WRITE_BYTES = 512 * 1024;

/** One journal file being written; the SCP's dataset sink. */
export interface JournalWriter {
  readonly file: string;
  failed?: Error;
  /** Appends `bytes` (copied or written before this returns, or kept unchanged by the caller until finish()/discard(): see the implementations). */
  write(bytes: Uint8Array): void;
  /** Waits for the writes, fsyncs and closes the file; returns its path. Removes it and throws if any write failed. */
  finish(): Promise<string>;
  /** Abandons the object: waits for the writes in flight and removes the file. */
  discard(): Promise<void>;
}

/**
 * Through the page cache, where O_DIRECT is not available (tmpfs). Large writes go to the thread pool
 * at explicit offsets, so the file fills while the rest of the object arrives: written
 * from the SCP's thread, an 18 MB object's page-cache writes (~3 ms a MB of page faults on this
 * VM) held up its receiving. The bytes given to write() must stay unchanged until finish() or
 * discard() returns (the link appends after them and reuses its buffer only for a later object).
 */
class BufferedJournalWriter implements JournalWriter {
  failed?: Error;
  private fd: number | undefined;
  private position = 0;
  private readonly pending: Promise<void>[] = [];

  constructor(readonly file: string, fd: number) {
    this.fd = fd;
  }

  write(bytes: Uint8Array): void {
    const fd = this.fd;
    if (fd === undefined) throw new Error('the journal file is closed');
    if (this.failed) throw this.failed;
    const at = this.position;
    this.position += bytes.length;
    if (bytes.length < POOL_WRITE_BYTES) {
      // A thread-pool round trip costs more than a small write (most objects are one).
      try {
        for (let done = 0; done < bytes.length;) done += fsSync.writeSync(fd, bytes, done, bytes.length - done, at + done);
      } catch (error) {
        this.failed ??= error as Error;
        throw error;
      }
      return;
    }
    this.pending.push(writeAll(fd, bytes, at).catch((error: Error) => { this.failed ??= error; }));
  }

  async finish(): Promise<string> {
    try {
      await Promise.all(this.pending);
      if (this.failed) throw this.failed;
      if (this.fd === undefined) throw new Error('the journal file is closed');
      fsSync.fsyncSync(this.fd);
      fsSync.closeSync(this.fd);
      this.fd = undefined;
      return this.file;
    } catch (error) {
      await this.discard();
      throw error;
    }
  }

  async discard(): Promise<void> {
    await Promise.all(this.pending);
    if (this.fd !== undefined) {
      try { fsSync.closeSync(this.fd); } catch { /* already closed */ }
      this.fd = undefined;
    }
    fsSync.rmSync(this.file, { force: true });
  }
}

async function writeAll(fd: number, bytes: Uint8Array, position: number): Promise<void> {
  for (let done = 0; done < bytes.length;) {
    done += await new Promise<number>((resolve, reject) => fsSync.write(fd, bytes, done, bytes.length - done, position + done, (error, n) => (error ? reject(error) : resolve(n))));
  }
}

/**
 * Straight to the device (O_DIRECT), through aligned blocks the bytes are copied into: a full
 * block goes to the thread pool at once, so the disk fills while the rest of the object
 * arrives, and the page cache is not touched (see AlignedBlocks for the figures). The last block
 * is written padded to the alignment, then the file is cut to its length and fsynced: for a new
 * file that one fsync commits the data, its size and its directory entry, as the buffered
 * writer's does. Callers may reuse what they gave write() as soon as it returns.
 */
class DirectJournalWriter implements JournalWriter {
  failed?: Error;
  private fd: number | undefined;
  private block: Buffer | undefined;
  private fill = 0;
  /** File offset of the block being filled. */
  private blockAt = 0;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(readonly file: string, fd: number, private readonly blocks: AlignedBlocks) {
    this.fd = fd;
  }

  write(bytes: Uint8Array): void {
    if (this.fd === undefined) throw new Error('the journal file is closed');
    if (this.failed) throw this.failed;
    for (let done = 0; done < bytes.length;) {
      if (!this.block) {
        this.block = this.blocks.take();
        if (!this.block) throw (this.failed = new Error('the ingest journal is behind by more than its write buffers (the disk is too slow)'));
      }
      const n = Math.min(bytes.length - done, BLOCK_BYTES - this.fill);
      this.block.set(bytes.subarray(done, done + n), this.fill);
      this.fill += n;
      done += n;
      if (this.fill === BLOCK_BYTES) this.submitBlock();
    }
  }

  private submitBlock(): void {
    const [block, at, fd] = [this.block!, this.blockAt, this.fd!];
    this.block = undefined;
    this.blockAt += BLOCK_BYTES;
    this.fill = 0;
    const write = writeAligned(fd, block, BLOCK_BYTES, at)
      .catch((error: Error) => { this.failed ??= error; })
      .finally(() => {
        this.blocks.give(block);
        this.inFlight.delete(write);
      });
    this.inFlight.add(write);
  }

  async finish(): Promise<string> {
    try {
      const length = this.blockAt + this.fill;
      if (this.block && this.fill > 0) {
        // The last (often the only) block, here: the fsync that follows waits for it anyway.
        const tail = roundUp(this.fill);
        if (fsSync.writeSync(this.fd!, this.block, 0, tail, this.blockAt) !== tail) throw new Error('short write to the ingest journal (disk full?)');
      }
      this.releaseBlock();
      await Promise.all(this.inFlight);
      if (this.failed) throw this.failed;
      if (this.fd === undefined) throw new Error('the journal file is closed');
      if (length % ALIGN !== 0) fsSync.ftruncateSync(this.fd, length);
      fsSync.fsyncSync(this.fd);
      fsSync.closeSync(this.fd);
      this.fd = undefined;
      return this.file;
    } catch (error) {
      await this.discard();
      throw error;
    }
  }

  async discard(): Promise<void> {
    this.releaseBlock();
    await Promise.all(this.inFlight);
    if (this.fd !== undefined) {
      try { fsSync.closeSync(this.fd); } catch { /* already closed */ }
      this.fd = undefined;
    }
    fsSync.rmSync(this.file, { force: true });
  }

  private releaseBlock(): void {
    if (this.block) this.blocks.give(this.block);
    this.block = undefined;
  }
}

function writeAligned(fd: number, block: Buffer, length: number, position: number): Promise<void> {
  return new Promise((resolve, reject) => fsSync.write(fd, block, 0, length, position, (error, n) => {
    if (error) reject(error);
    else if (n !== length) reject(new Error('short write to the ingest journal (disk full?)'));
    else resolve();
  }));
}
