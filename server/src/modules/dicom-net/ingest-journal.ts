import { randomUUID } from 'node:crypto';
import fsSync from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { AlignedBlocks, directIoWorks } from './aligned-blocks.js';
import { BufferedJournalWriter, DirectJournalWriter, type JournalWriter } from './journal-writers.js';

export type { JournalWriter } from './journal-writers.js';

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
