import { randomUUID } from 'node:crypto';
import fsSync from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';

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

  constructor(readonly dir: string) {}

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
    const writer = new JournalWriter(file, fd);
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
    }
    // Time, then a per-process counter: names sort in arrival order across restarts.
    this.sequence += 1;
    const file = path.join(this.dir, `${Date.now().toString().padStart(14, '0')}-${String(this.sequence).padStart(8, '0')}-${randomUUID().slice(0, 8)}.dcm`);
    return { fd: fsSync.openSync(file, 'wx', 0o640), file };
  }

  /** Files left by an earlier run, oldest first; empty ones (created ahead, never written) are removed. */
  async pending(): Promise<string[]> {
    const names = (await fs.readdir(this.dir).catch(() => [] as string[])).filter((n) => n.endsWith('.dcm')).sort();
    const files: string[] = [];
    for (const name of names) {
      const file = path.join(this.dir, name);
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

/**
 * One journal file being written; the SCP's dataset sink. Large writes go to the thread pool
 * at explicit offsets, so the file fills while the rest of the object arrives: written
 * from the SCP's thread, an 18 MB object's page-cache writes (~3 ms a MB of page faults on this
 * VM) held up its receiving. The bytes given to write() must stay unchanged until finish() or
 * discard() returns (the link appends after them and reuses its buffer only for a later object).
 */
export class JournalWriter {
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

  /** Waits for the writes, fsyncs and closes the file; returns its path. Removes it and throws if any write failed. */
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
