import { randomUUID } from 'node:crypto';
import fsSync from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { AlignedBlocks, directIoWorks } from './aligned-blocks.js';
import { BufferedJournalWriter, DirectJournalWriter, type FileJournalWriter } from './journal-writers.js';
import { readRecord, RECORD_HEADER, RECORD_MAX, SegmentLog, type RecordEntry } from './segment-log.js';

/** An object in the journal: a file of its own, or a record in a segment. */
export type JournalEntry = { file: string } | RecordEntry;

/** Names an entry (a file's path, a record's segment and offset). */
export const entryKey = (e: JournalEntry) => ('file' in e ? e.file : `${e.segment}@${e.offset}`);

/** One object being journalled; the SCP's dataset sink. */
export interface JournalWriter {
  failed?: Error;
  /** Appends `bytes`; the caller may reuse them once this returns. */
  write(bytes: Uint8Array): void;
  /** Makes the object durable; rejects (and leaves nothing) if any write failed. */
  finish(): Promise<JournalEntry>;
  /** Abandons the object and removes what was written. */
  discard(): Promise<void>;
}

/**
 * Where our SCP puts an object before it acknowledges it. The index catches up from here
 * (IngestService), and on start-up whatever is still here is indexed then, so an acknowledged
 * object is never lost between the acknowledgement and its index rows.
 *
 * Objects up to RECORD_MAX (~1 MB; most of what modalities send) are appended to the segment
 * log (segment-log.ts: no file to create, nothing to allocate). Larger ones get a file each,
 * written while they arrive and adopted by the blob store as they are (a link, no copy): for
 * them the transfer dominates and a second copy of 18 MB would cost more than the file's
 * creation. Files are created under their final name and fsynced once, as Orthanc's
 * SyncStorageArea does: on ext4/xfs that one fsync also commits the new directory entry. A crash
 * mid-write can leave a partial file, but that object was never acknowledged; recovery sets
 * aside what does not parse.
 */
export class IngestJournal {
  private made = false;
  private sequence = 0;
  private spare: { fd: number; file: string } | undefined;
  private closed = false;
  /** Staging memory for records and O_DIRECT writes. */
  private readonly blocks = new AlignedBlocks();
  /** Whether objects go to the disk with O_DIRECT (probed when the directory is first made). */
  private direct = false;
  private log: SegmentLog | undefined;

  /** `tryDirectIo` false: always through the page cache (the tests cover both ways like this). */
  constructor(
    readonly dir: string,
    private readonly tryDirectIo = true,
    private readonly warn: (message: string) => void = () => undefined,
  ) {}

  /** Opens the segment log; returns what an earlier run journalled and did not index, oldest first. */
  async start(): Promise<JournalEntry[]> {
    this.prepare();
    const log = new SegmentLog(path.join(this.dir, 'segments'), this.direct, this.warn);
    const records = await log.recover();
    this.log = log;
    return [...records, ...(await this.files())];
  }

  /** A new object with `header` (its meta header) written; the dataset follows through the writer as it arrives. */
  open(header: Uint8Array): JournalWriter {
    const block = this.log && header.length <= RECORD_MAX ? this.blocks.take() : undefined;
    return block ? new ObjectWriter(this, header, block) : new FileObjectWriter(this.openFile(header));
  }

  /** A whole object at once, durable when this resolves. */
  write(parts: readonly Uint8Array[]): Promise<JournalEntry> {
    const writer = this.open(parts[0]);
    for (const part of parts.slice(1)) writer.write(part);
    return writer.finish();
  }

  /** @internal for ObjectWriter */
  appendRecord(block: Buffer, length: number): RecordEntry | undefined {
    return this.log?.append(block, length);
  }

  /** @internal for ObjectWriter */
  giveBack(block: Buffer): void {
    this.blocks.give(block);
  }

  /**
   * A new journal file with `header` written. Synchronous from open to fsync: the
   * acknowledgement waits for all of it anyway, and thread-pool round trips cost more than the
   * calls. The file is one created ahead, after the previous object (a create is ~0.25 ms).
   */
  openFile(header: Uint8Array): FileJournalWriter {
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
    const writer: FileJournalWriter = this.direct ? new DirectJournalWriter(file, fd, this.blocks) : new BufferedJournalWriter(file, fd);
    writer.write(header);
    return writer;
  }

  private prepare(): void {
    if (this.made) return;
    fsSync.mkdirSync(this.dir, { recursive: true });
    this.made = true;
    const probe = this.blocks.take()!;
    this.direct = this.tryDirectIo && directIoWorks(this.dir, probe);
    this.blocks.give(probe);
  }

  private create(): { fd: number; file: string } {
    this.prepare();
    // Time, then a per-process counter: names sort in arrival order across restarts.
    this.sequence += 1;
    const file = path.join(
      this.dir,
      `${Date.now().toString().padStart(14, '0')}-${String(this.sequence).padStart(8, '0')}-${randomUUID().slice(0, 8)}.dcm`,
    );
    const flags =
      fsSync.constants.O_CREAT | fsSync.constants.O_EXCL | fsSync.constants.O_WRONLY | (this.direct ? fsSync.constants.O_DIRECT : 0);
    return { fd: fsSync.openSync(file, flags, 0o640), file };
  }

  /** Whether objects go to the disk with O_DIRECT (known once the journal is started or a file made). */
  get directIo(): boolean {
    return this.direct;
  }

  /** Object files left by an earlier run, oldest first; empty ones (created ahead, never written) are removed. */
  private async files(): Promise<JournalEntry[]> {
    const names = (await fs.readdir(this.dir).catch(() => [] as string[])).filter((n) => n.endsWith('.dcm')).sort();
    const files: JournalEntry[] = [];
    for (const name of names) {
      const file = path.join(this.dir, name);
      if (file === this.spare?.file) continue;
      if ((await fs.stat(file)).size === 0) await fs.rm(file, { force: true });
      else files.push({ file });
    }
    return files;
  }

  /** The object's bytes, from its file or its record. */
  read(entry: JournalEntry): Promise<Buffer> {
    return 'file' in entry ? fs.readFile(entry.file) : readRecord(entry);
  }

  /** Objects indexed or set aside: their files go, the segment log's checkpoint moves past their records. */
  settle(entries: readonly JournalEntry[]): void {
    const records: RecordEntry[] = [];
    for (const e of entries) {
      if ('file' in e) fsSync.rmSync(e.file, { force: true });
      else records.push(e);
    }
    this.log?.settle(records);
  }

  /** Keeps an object the index refused in failed/ for a person to look at; returns its path there. */
  async setAside(entry: JournalEntry): Promise<string> {
    const failed = path.join(this.dir, 'failed');
    await fs.mkdir(failed, { recursive: true });
    if ('file' in entry) {
      const target = path.join(failed, path.basename(entry.file));
      await fs.rename(entry.file, target);
      return target;
    }
    const target = path.join(failed, `${path.basename(entry.segment, '.seg')}-${entry.offset}.dcm`);
    await fs.writeFile(target, await readRecord(entry), { flush: true });
    return target;
  }

  /** Removes the file created ahead and closes the segment log. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.spare) {
      fsSync.closeSync(this.spare.fd);
      fsSync.rmSync(this.spare.file, { force: true });
      this.spare = undefined;
    }
    await this.log?.close();
  }

  /** Waits for background work on the segments (checkpoint, spares): tests. */
  async idle(): Promise<void> {
    await this.log?.idle();
  }
}

/**
 * A small object is gathered in an aligned block (payload from RECORD_HEADER on) and appended
 * as one record at finish(); one that outgrows the block moves to a file of its own, as does
 * one that finds no room in the log.
 */
class ObjectWriter implements JournalWriter {
  failed?: Error;
  private length = 0;
  private file: FileJournalWriter | undefined;

  constructor(
    private readonly journal: IngestJournal,
    header: Uint8Array,
    private block: Buffer | undefined,
  ) {
    this.write(header);
  }

  write(bytes: Uint8Array): void {
    if (this.file) {
      this.file.write(bytes);
    } else if (this.length + bytes.length > RECORD_MAX) {
      this.spill();
      this.file!.write(bytes);
    } else {
      this.block!.set(bytes, RECORD_HEADER + this.length);
      this.length += bytes.length;
    }
  }

  /** What is gathered so far goes to a file, which takes the rest. */
  private spill(): void {
    // A copy: the page-cache writer keeps what it is given until finish(), and the block goes back now.
    const gathered = Buffer.from(this.block!.subarray(RECORD_HEADER, RECORD_HEADER + this.length));
    this.release();
    this.file = this.journal.openFile(gathered);
  }

  async finish(): Promise<JournalEntry> {
    if (this.failed) {
      await this.discard();
      throw this.failed;
    }
    if (!this.file) {
      let record: RecordEntry | undefined;
      try {
        record = this.journal.appendRecord(this.block!, this.length);
      } catch (error) {
        this.release();
        throw error;
      }
      if (record) {
        this.release();
        return record;
      }
      this.spill();
    }
    return { file: await this.file!.finish() };
  }

  async discard(): Promise<void> {
    this.release();
    await this.file?.discard();
  }

  private release(): void {
    if (this.block) this.journal.giveBack(this.block);
    this.block = undefined;
  }
}

/** A file writer seen as a journal writer (no block was free, or the log is not started). */
class FileObjectWriter implements JournalWriter {
  constructor(private readonly writer: FileJournalWriter) {}

  get failed(): Error | undefined {
    return this.writer.failed;
  }

  set failed(error: Error | undefined) {
    this.writer.failed = error;
  }

  write(bytes: Uint8Array): void {
    this.writer.write(bytes);
  }

  async finish(): Promise<JournalEntry> {
    return { file: await this.writer.finish() };
  }

  discard(): Promise<void> {
    return this.writer.discard();
  }
}
