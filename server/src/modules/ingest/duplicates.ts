import fs from 'node:fs/promises';
import { readMetaHeader } from '../../dicom/reader.js';
import type { StoredDicom } from '../archive/repository.js';
import { entryKey, type JournalEntry } from '../../storage/journal/ingest-journal.js';
import { readRecord } from '../../storage/journal/segment-log.js';

/** What the SCP answers for an object whose SOP Instance UID may be taken. */
export type DuplicateVerdict = { kind: 'new' } | { kind: 'same' } | { kind: 'conflict'; reason: string };

export interface DuplicateSources {
  /** What the index holds under a SOP Instance UID (Archive.storedUnder). */
  indexed(sopInstanceUid: string): Promise<{ stored: StoredDicom } | { planned: true } | undefined>;
  readBlob(key: string): Promise<Buffer>;
}

/** A journal entry's bytes: the Part 10 file as journalled (our meta header, then the dataset as received). */
async function readJournalEntry(entry: JournalEntry): Promise<Buffer> {
  return 'file' in entry ? fs.readFile(entry.file) : readRecord(entry);
}

/**
 * Whether a received dataset is the object a stored Part 10 file holds: the same transfer
 * syntax and the same dataset bytes. The meta header is left out of the comparison (it names
 * the sender's AE title), so the same object sent again by another node is the same object.
 */
export function sameObject(part10: Buffer, transferSyntax: string, dataset: Buffer): boolean {
  const meta = readMetaHeader(part10);
  return (
    meta.transferSyntax === transferSyntax &&
    part10.length - meta.datasetOffset === dataset.length &&
    part10.subarray(meta.datasetOffset).equals(dataset)
  );
}

/**
 * The SCP's check, before it acknowledges, that an object does not take a SOP Instance UID
 * already stored (docs/architecture.md, decisions: "Duplicate SOP Instance UIDs"). Objects
 * acknowledged but not yet indexed are in the journal, so it looks there first, then in the
 * index. Stores of one UID are decided one after the other (two associations sending the same
 * UID at once cannot both be "new").
 */
export class DuplicateGuard {
  /** Journalled and not yet indexed: SOP Instance UID → its journal entry. */
  private readonly journalled = new Map<string, JournalEntry>();
  private readonly busy = new Map<string, Promise<unknown>>();

  constructor(private readonly sources: DuplicateSources) {}

  /** Runs `work` once every earlier `exclusive` of the same UID has finished. */
  async exclusive<T>(sopInstanceUid: string, work: () => Promise<T>): Promise<T> {
    const before = this.busy.get(sopInstanceUid) ?? Promise.resolve();
    const run = before.then(work);
    const tail = run.catch(() => undefined);
    this.busy.set(sopInstanceUid, tail);
    try {
      return await run;
    } finally {
      if (this.busy.get(sopInstanceUid) === tail) this.busy.delete(sopInstanceUid);
    }
  }

  async verdict(sopInstanceUid: string, transferSyntax: string, dataset: Buffer): Promise<DuplicateVerdict> {
    const conflict: DuplicateVerdict = { kind: 'conflict', reason: 'the SOP Instance UID is stored with other content' };
    const taken = await this.sources.indexed(sopInstanceUid);
    if (taken && 'planned' in taken) return { kind: 'conflict', reason: 'the SOP Instance UID is an image planned on this console' };
    let existing: Buffer | undefined;
    try {
      existing = await this.existing(sopInstanceUid, taken?.stored);
    } catch {
      // Registered but not readable (a blob gone): it is still not replaced, and cannot be shown to be the same.
      return conflict;
    }
    if (existing === undefined) return { kind: 'new' };
    let same = false;
    try {
      same = sameObject(existing, transferSyntax, dataset);
    } catch {
      // A stored file whose meta header we cannot read is not the same object.
    }
    return same ? { kind: 'same' } : conflict;
  }

  /** The bytes of the object already held under the UID: acknowledged into the journal, else stored. */
  private async existing(sopInstanceUid: string, stored: StoredDicom | undefined): Promise<Buffer | undefined> {
    const pending = this.journalled.get(sopInstanceUid);
    if (pending) {
      try {
        return await readJournalEntry(pending);
      } catch {
        // Indexed and settled meanwhile: the index has it now.
        const now = await this.sources.indexed(sopInstanceUid);
        stored = now && 'stored' in now ? now.stored : undefined;
      }
    }
    return stored ? this.sources.readBlob(stored.blob_key) : undefined;
  }

  /** An object acknowledged from the journal, until its index rows commit. */
  journal(sopInstanceUid: string, entry: JournalEntry): void {
    this.journalled.set(sopInstanceUid, entry);
  }

  /** Entries done with (indexed, or set aside): the index answers for their UIDs from now on. */
  settled(entries: readonly JournalEntry[]): void {
    const done = new Set(entries.map(entryKey));
    for (const [uid, entry] of this.journalled) if (done.has(entryKey(entry))) this.journalled.delete(uid);
  }
}
