import fsSync from 'node:fs';
import { ALIGN, BLOCK_BYTES, roundUp, type AlignedBlocks } from './aligned-blocks.js';

/** One object's journal file being written (objects too large for a segment record). */
export interface FileJournalWriter {
  readonly file: string;
  failed?: Error;
  /** Appends `bytes` (copied or written before this returns, or kept unchanged by the caller until finish()/discard(): see the implementations). */
  write(bytes: Uint8Array): void;
  /** Waits for the writes, fsyncs and closes the file; returns its path. Removes it and throws if any write failed. */
  finish(): Promise<string>;
  /** Abandons the object: waits for the writes in flight and removes the file. */
  discard(): Promise<void>;
}

/** What both writers share: writes in flight on the thread pool, one fsync at the end, removal on failure. */
abstract class FileWriter implements FileJournalWriter {
  failed?: Error;
  protected fd: number | undefined;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    readonly file: string,
    fd: number,
  ) {
    this.fd = fd;
  }

  abstract write(bytes: Uint8Array): void;

  /** The last writes before the fsync; returns the length to cut the file to, if it must be cut. */
  protected abstract beforeSync(): number | undefined;

  /** Gives back what an abandoned object holds. */
  protected beforeDiscard(): void {}

  protected openFd(): number {
    if (this.fd === undefined) throw new Error('the journal file is closed');
    if (this.failed) throw this.failed;
    return this.fd;
  }

  /** A write on the thread pool; a failure fails the object at finish(). */
  protected track(write: Promise<void>): void {
    const tracked = write
      .catch((error: unknown) => {
        this.failed ??= error as Error;
      })
      .finally(() => this.inFlight.delete(tracked));
    this.inFlight.add(tracked);
  }

  async finish(): Promise<string> {
    try {
      const cutTo = this.beforeSync();
      await Promise.all(this.inFlight);
      const fd = this.openFd();
      if (cutTo !== undefined) fsSync.ftruncateSync(fd, cutTo);
      fsSync.fsyncSync(fd);
      fsSync.closeSync(fd);
      this.fd = undefined;
      return this.file;
    } catch (error) {
      await this.discard();
      throw error;
    }
  }

  async discard(): Promise<void> {
    this.beforeDiscard();
    await Promise.all(this.inFlight);
    if (this.fd !== undefined) {
      try {
        fsSync.closeSync(this.fd);
      } catch {
        /* already closed */
      }
      this.fd = undefined;
    }
    fsSync.rmSync(this.file, { force: true });
  }
}

/** Writes at least this large go to the thread pool. */
const POOL_WRITE_BYTES = 512 * 1024;

/**
 * Through the page cache, where O_DIRECT is not available. Large writes go to the thread pool
 * at explicit offsets, so the file fills while the rest of the object arrives: written from the
 * SCP's thread, an 18 MB object's page-cache writes (~3 ms a MB of page faults on this VM) held
 * up its receiving. The bytes given to write() must stay unchanged until finish() or discard()
 * returns (the link appends after them and reuses its buffer only for a later object).
 */
export class BufferedJournalWriter extends FileWriter {
  private position = 0;

  write(bytes: Uint8Array): void {
    const fd = this.openFd();
    const at = this.position;
    this.position += bytes.length;
    if (bytes.length >= POOL_WRITE_BYTES) {
      this.track(writeAll(fd, bytes, at));
      return;
    }
    // A thread-pool round trip costs more than a small write (most objects are one).
    try {
      for (let done = 0; done < bytes.length;) done += fsSync.writeSync(fd, bytes, done, bytes.length - done, at + done);
    } catch (error) {
      this.failed ??= error as Error;
      throw error;
    }
  }

  protected beforeSync(): undefined {
    return undefined;
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
export class DirectJournalWriter extends FileWriter {
  private block: Buffer | undefined;
  private fill = 0;
  /** File offset of the block being filled. */
  private blockAt = 0;

  constructor(
    file: string,
    fd: number,
    private readonly blocks: AlignedBlocks,
  ) {
    super(file, fd);
  }

  write(bytes: Uint8Array): void {
    this.openFd();
    for (let done = 0; done < bytes.length;) {
      if (!this.block) {
        this.block = this.blocks.take();
        if (!this.block)
          throw (this.failed = new Error('the ingest journal is behind by more than its write buffers (the disk is too slow)'));
      }
      const n = Math.min(bytes.length - done, BLOCK_BYTES - this.fill);
      this.block.set(bytes.subarray(done, done + n), this.fill);
      this.fill += n;
      done += n;
      if (this.fill === BLOCK_BYTES) this.submitBlock();
    }
  }

  private submitBlock(): void {
    const [block, at] = [this.block!, this.blockAt];
    this.block = undefined;
    this.blockAt += BLOCK_BYTES;
    this.fill = 0;
    this.track(writeAligned(this.fd!, block, BLOCK_BYTES, at).finally(() => this.blocks.give(block)));
  }

  protected beforeSync(): number | undefined {
    const length = this.blockAt + this.fill;
    if (this.block && this.fill > 0) {
      // The last (often the only) block, here: the fsync that follows waits for it anyway.
      const tail = roundUp(this.fill);
      if (fsSync.writeSync(this.openFd(), this.block, 0, tail, this.blockAt) !== tail)
        throw new Error('short write to the ingest journal (disk full?)');
    }
    this.beforeDiscard();
    return length % ALIGN === 0 ? undefined : length;
  }

  protected override beforeDiscard(): void {
    if (this.block) this.blocks.give(this.block);
    this.block = undefined;
  }
}

async function writeAll(fd: number, bytes: Uint8Array, position: number): Promise<void> {
  for (let done = 0; done < bytes.length;) {
    done += await new Promise<number>((resolve, reject) =>
      fsSync.write(fd, bytes, done, bytes.length - done, position + done, (error, n) => (error ? reject(error) : resolve(n))),
    );
  }
}

function writeAligned(fd: number, block: Buffer, length: number, position: number): Promise<void> {
  return new Promise((resolve, reject) =>
    fsSync.write(fd, block, 0, length, position, (error, n) => {
      if (error) reject(error);
      else if (n !== length) reject(new Error('short write to the ingest journal (disk full?)'));
      else resolve();
    }),
  );
}
