import { STATUS } from '../../dimse/command.js';
import type { ReceivedObject, StoreHeader, StoreOutcome } from '../../dimse/scp.js';
import { metaHeader } from '../../dicom/part10.js';
import { readDicom, TRANSFER_SYNTAX, type ParsedDicom } from '../../dicom/reader.js';
import { unindexableReason } from '../archive/rows.js';
import { IndexWorker, type IndexWorkerData } from './index-client.js';
import type { IndexOutcome } from './ingest-index.js';
import { entryKey, IngestJournal, type JournalEntry, type JournalWriter } from '../../storage/journal/ingest-journal.js';
import type { ThumbnailQueue } from './thumbnail-job.js';
import type { DicomAuditEvent } from './dicom-audit.js';
import type { DuplicateGuard } from './duplicates.js';

/** Objects indexed per transaction: the commit is shared. */
const BATCH = 32;
/** After a failed index transaction (the database away), the journal is tried again this much later. */
const RETRY_MS = 5_000;
/** The SCP counts as busy for this long after its last object (thumbnails wait meanwhile). */
const QUIET_MS = 500;
export type IngestLog = (level: 'warn' | 'error', message: string) => void;

/**
 * What our SCP receives becomes part of the archive: the object in the blob store, patient,
 * study, series and image in the index (so both faces show it), a thumbnail when it is an image.
 *
 * An object is acknowledged once it is readable and durable in the ingest journal; an indexer
 * thread catches up in batches while the sender goes on (one commit per batch: what arrived
 * while the previous batch was indexed), puts the object into the blob store, and the journal
 * lets go of it once its rows have committed. Indexing each object before answering had made
 * our SCP slower than Orthanc's (the acknowledgement is ~1 ms of a ~4 ms object). Indexing used
 * to wait until the sender paused, which kept the index's writes off the disk while the
 * acknowledgements needed it; once the index batch wrote its blobs with shared fsyncs
 * (BlobStore.putMany), what counted was how soon a client can find the objects (bench/dimse.ts),
 * and waiting only added to that. Objects still in the journal at start-up (a crash) are
 * indexed then, so none acknowledged is lost.
 */
export class IngestService {
  private readonly journal: IngestJournal;
  private readonly indexer: IndexWorker;
  /** Journalled objects not indexed yet, oldest first. */
  private readonly queue: { entry: JournalEntry }[] = [];
  private indexing: Promise<void> | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private lastReceived = 0;

  constructor(
    private readonly thumbnails: ThumbnailQueue,
    settings: IndexWorkerData,
    journalDir: string,
    /** Refuses what would take a stored SOP Instance UID, and audits the refusals. */
    private readonly duplicates: { guard: DuplicateGuard; audit: (event: DicomAuditEvent) => Promise<void> },
    private readonly log: IngestLog = () => undefined,
  ) {
    this.journal = new IngestJournal(journalDir, true, (message) => log('warn', message));
    this.indexer = new IndexWorker(settings);
  }

  /** Whether objects are arriving or waiting to be indexed (thumbnail jobs wait meanwhile). */
  receiving(): boolean {
    return this.queue.length > 0 || Date.now() - this.lastReceived < QUIET_MS;
  }

  /** Starts the indexer, indexes what an earlier run acknowledged but did not. */
  async start(): Promise<void> {
    await this.indexer.start();
    const left = await this.journal.start();
    if (left.length > 0) {
      this.log('warn', `ingest: ${left.length} object(s) received before the last stop are indexed now`);
      this.queue.push(...left.map((entry) => ({ entry })));
      await this.drainIndex();
    }
  }

  /**
   * Where an object is journalled while it arrives (writing 18 MB after it had all arrived kept
   * the sender waiting ~60 ms more here); ingest() then finishes or discards it.
   */
  openSink(header: StoreHeader): JournalWriter | undefined {
    this.lastReceived = Date.now();
    try {
      return this.journal.open(metaHeader({ ...header, sourceAet: header.callingAet }));
    } catch {
      return undefined; // ingest() writes it whole and reports what is wrong
    }
  }

  async ingest(o: ReceivedObject): Promise<StoreOutcome> {
    this.lastReceived = Date.now();
    // The dataset is read where it arrived (the link's buffer, valid until we answer): copying
    // 18 MB into a new buffer first cost ~15 ms of page faults here.
    const dataset = o.dataset.length === 1 ? o.dataset[0] : Buffer.concat(o.dataset);
    // The SCP's sinks are the ones openSink() made.
    const sink = o.sink && 'finish' in o.sink ? (o.sink as JournalWriter) : undefined;
    let parsed: ParsedDicom;
    try {
      parsed =
        o.transferSyntax === TRANSFER_SYNTAX.DEFLATED_LE
          ? readDicom(Buffer.concat([metaHeader({ ...o, sourceAet: o.callingAet }), dataset]))
          : readDicom(dataset, { transferSyntax: o.transferSyntax });
    } catch (error) {
      await sink?.discard();
      return { status: STATUS.CANNOT_UNDERSTAND, comment: (error as Error).message.slice(0, 64) };
    }
    // What the index needs of an object: its UIDs, the SOP Instance UID the command named.
    if (unindexableReason(parsed.meta, o.sopInstanceUid) !== undefined) {
      await sink?.discard();
      return { status: STATUS.CANNOT_UNDERSTAND, comment: "SOP Instance, Study or Series UID missing or not the command's" };
    }
    // Decided before the acknowledgement, so the status we answer is the truth: a stored object
    // is never replaced, the same bytes again are a success, other bytes under its UID a refusal.
    // The study is named for the association's audit row.
    const studyInstanceUid = parsed.meta.studyInstanceUid;
    const outcome = await this.duplicates.guard.exclusive(o.sopInstanceUid, async () => {
      const verdict = await this.duplicates.guard.verdict(o.sopInstanceUid, o.transferSyntax, dataset);
      if (verdict.kind !== 'new') {
        await sink?.discard();
        if (verdict.kind === 'same') return { status: STATUS.SUCCESS };
        const status = STATUS.DUPLICATE_INSTANCE_REFUSED;
        await this.duplicates.audit({
          kind: 'duplicate-refused',
          peer: o.peer,
          sopClassUid: o.sopClassUid,
          sopInstanceUid: o.sopInstanceUid,
          status,
          reason: verdict.reason,
        });
        return { status, comment: verdict.reason.slice(0, 64) };
      }
      return this.journalled(o, dataset, sink);
    });
    return studyInstanceUid ? { ...outcome, studyInstanceUid } : outcome;
  }

  /** Makes a new object durable in the journal and queues it for the indexer. */
  private async journalled(
    o: ReceivedObject,
    dataset: Buffer,
    sink: JournalWriter | undefined,
  ): Promise<{ status: number; comment?: string }> {
    try {
      // Written while it arrived (the SCP's sink), or here.
      const entry = await (sink ? sink.finish() : this.journal.write([metaHeader({ ...o, sourceAet: o.callingAet }), dataset]));
      this.duplicates.guard.journal(o.sopInstanceUid, entry);
      this.queue.push({ entry });
    } catch (error) {
      return { status: STATUS.OUT_OF_RESOURCES, comment: `not stored: ${(error as Error).message}`.slice(0, 64) };
    }
    this.kick();
    this.lastReceived = Date.now();
    return { status: STATUS.SUCCESS };
  }

  private kick(): void {
    if (this.indexing || this.retryTimer || this.queue.length === 0) return;
    this.indexing = this.indexAll().finally(() => {
      this.indexing = undefined;
      this.kick();
    });
  }

  private retryLater(reason: string): void {
    this.log(
      'error',
      `ingest: indexing received objects failed (${reason}); they stay in the journal and are tried again in ${RETRY_MS / 1000} s`,
    );
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.kick();
    }, RETRY_MS);
  }

  private async indexAll(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.slice(0, BATCH).map((q) => q.entry);
      let settled: JournalEntry[];
      try {
        settled = await this.indexOrSplit(batch);
      } catch (error) {
        settled = [];
        this.retryLater((error as Error).message);
      }
      if (settled.length === 0) return;
      // Their rows have committed: the index answers for their UIDs before the journal lets go of them.
      this.duplicates.guard.settled(settled);
      this.journal.settle(settled);
      const done = new Set(settled.map(entryKey));
      this.queue.splice(0, this.queue.length, ...this.queue.filter((q) => !done.has(entryKey(q.entry))));
    }
  }

  /**
   * Indexes a batch; when its transaction fails, each object alone, which tells an object the
   * index cannot take (set aside in the journal's failed/ folder for a person to look at) from a
   * database that is away (nothing done: all tried again later). Returns the journal entries done
   * with, indexed or set aside.
   */
  private async indexOrSplit(batch: JournalEntry[]): Promise<JournalEntry[]> {
    try {
      return await this.finish(await this.indexer.index(batch));
    } catch (error) {
      if (batch.length === 1) {
        this.retryLater((error as Error).message);
        return [];
      }
    }
    const done: JournalEntry[] = [];
    const failed: [JournalEntry, Error][] = [];
    for (const entry of batch) {
      try {
        done.push(...(await this.finish(await this.indexer.index([entry]))));
      } catch (error) {
        failed.push([entry, error as Error]);
      }
    }
    if (done.length === 0) {
      this.retryLater(failed[0][1].message);
      return [];
    }
    for (const [entry, error] of failed) await this.setAside(entry, error.message);
    return batch;
  }

  /** Queues thumbnails of what was indexed, sets unreadable objects aside; returns the entries done with (the caller settles them). */
  private async finish(outcome: IndexOutcome): Promise<JournalEntry[]> {
    await this.thumbnails.add(
      outcome.indexed.map((item) => ({
        imagePk: item.imagePk,
        studyPk: item.studyPk,
        sopInstanceUid: item.sopInstanceUid,
        blobKey: item.blobKey,
      })),
    );
    // Only a crash mid-write makes one (every object is read before it is acknowledged).
    for (const { entry, reason } of outcome.unreadable) await this.setAside(entry, reason);
    // Only objects the SCP's check did not see make these (journalled before a restart).
    for (const { entry, sopInstanceUid, refused } of outcome.duplicates) {
      if (!refused) continue;
      const reason = 'the SOP Instance UID is stored with other content';
      await this.duplicates.audit({ kind: 'duplicate-refused', sopClassUid: '', sopInstanceUid, reason });
      await this.setAside(entry, `${reason}; the stored object is kept`);
    }
    return [...outcome.indexed, ...outcome.unreadable, ...outcome.duplicates].map((d) => d.entry);
  }

  private async setAside(entry: JournalEntry, reason: string): Promise<void> {
    let where: string;
    try {
      where = `set aside as ${await this.journal.setAside(entry)}`;
    } catch (error) {
      where = `left in the journal (${(error as Error).message})`;
    }
    this.log('error', `ingest: ${entryKey(entry)} cannot be indexed (${reason}); ${where}`);
  }

  /** Waits until everything received is in the index (thumbnails may still be coming). */
  async drainIndex(): Promise<void> {
    this.kick();
    // Each round's end kicks the next while anything is queued (stops while retrying later).
    while (this.indexing) await this.indexing;
  }

  /** Waits until everything received is indexed and has its thumbnail (tests, benches). */
  async drain(): Promise<void> {
    await this.drainIndex();
    await this.thumbnails.drain();
  }

  /** Shutdown: the index catches up; thumbnails not made yet are jobs the next start makes. */
  async close(): Promise<void> {
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    await this.drainIndex();
    await this.journal.close();
    await this.indexer.close();
  }
}
