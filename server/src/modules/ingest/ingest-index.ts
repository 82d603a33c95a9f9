import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import { readDicom, type ParsedDicom } from '../../dicom/reader.js';
import { unindexableReason } from '../archive/rows.js';
import type { Archive, InstanceObject } from '../archive/service.js';
import type { JournalEntry } from '../../storage/journal/ingest-journal.js';
import { readRecord } from '../../storage/journal/segment-log.js';

export interface IndexedObject {
  studyPk: number;
  imagePk: number;
  /** False when the image was already in the index (the same SOP Instance sent again). */
  created: boolean;
  entry: JournalEntry;
  sopInstanceUid: string;
  blobKey: string;
}

export interface IndexDeps {
  archive: Archive;
}

export interface IndexOutcome {
  indexed: IndexedObject[];
  /**
   * Objects whose SOP Instance UID the index holds already (the SCP's check before acknowledging
   * missed them: a crash, two copies in the journal at start-up): done when the bytes are the
   * same, refused (kept in the journal's failed/ folder, audited) when not. Nothing was written for them.
   */
  duplicates: { entry: JournalEntry; sopInstanceUid: string; refused: boolean }[];
  /** Journal entries that do not hold a readable object (a file cut short by a crash before its acknowledgement). */
  unreadable: { entry: JournalEntry; reason: string }[];
}

/**
 * A batch of journalled objects into the archive: blobs first (a file is linked from the
 * journal, a record copied out of its segment), then one transaction for the batch's rows (one
 * commit shared by all). The entries are the caller's to settle once this returns; a crash
 * before that leaves them, and indexing them again is idempotent (the object is found stored
 * with the same bytes, nothing is written).
 */
export async function indexObjects(deps: IndexDeps, entries: readonly JournalEntry[]): Promise<IndexOutcome> {
  const readable: { entry: JournalEntry; object: InstanceObject }[] = [];
  const unreadable: IndexOutcome['unreadable'] = [];
  for (const entry of entries) {
    try {
      readable.push({ entry, object: await journalObject(entry) });
    } catch (error) {
      unreadable.push({ entry, reason: (error as Error).message });
    }
  }
  const stored = await deps.archive.storeReceived(
    readable.map((r) => r.object),
    'scp',
  );
  const indexed: IndexedObject[] = [];
  const duplicates: IndexOutcome['duplicates'] = [];
  for (const [i, s] of stored.entries()) {
    const { entry } = readable[i];
    if (s.duplicate) duplicates.push({ entry, sopInstanceUid: s.sopInstanceUid, refused: s.duplicate === 'refused' });
    else
      indexed.push({
        studyPk: s.studyPk,
        imagePk: s.imagePk!,
        created: s.created,
        entry,
        sopInstanceUid: s.sopInstanceUid,
        blobKey: s.blobKey,
      });
  }
  return { indexed, duplicates, unreadable };
}

/**
 * A journal entry's attributes, and how it becomes a blob: a file is linked (hashed while it was
 * read here), a record's bytes are copied out of their segment (hashed as the blob is written).
 */
async function journalObject(entry: JournalEntry): Promise<InstanceObject> {
  if ('file' in entry) {
    const { parsed, digest } = await readJournalFile(entry.file);
    return { parsed, content: { file: entry.file, digest } };
  }
  const bytes = await readRecord(entry);
  return { parsed: indexable(readDicom(bytes)), content: { bytes } };
}

/** Files up to this size are read whole; larger ones are hashed through a reused buffer. */
const READ_WHOLE = 1024 * 1024;
/** Where the attributes of a large object are looked for: everything before its Pixel Data. */
const HEAD = 256 * 1024;
let scratch: Buffer | undefined;

/**
 * A journal file's attributes (up to Pixel Data), size and SHA-256. A large object is not read
 * into a new buffer of its size: on this VM fresh memory costs a page fault per 4 KB (~50 ms for
 * 18 MB) and those faults slowed the SCP's thread too; its head is parsed and the rest hashed
 * through one buffer kept for the thread.
 */
async function readJournalFile(journalFile: string): Promise<{ parsed: ParsedDicom; digest: { size: number; sha256: string } }> {
  const handle = await fs.open(journalFile, 'r');
  try {
    const { size } = await handle.stat();
    if (size <= READ_WHOLE) {
      const file = await handle.readFile();
      return { parsed: indexable(readDicom(file)), digest: { size, sha256: createHash('sha256').update(file).digest('hex') } };
    }
    scratch ??= Buffer.allocUnsafe(4 * 1024 * 1024);
    const hash = createHash('sha256');
    let head: Buffer | undefined;
    for (let at = 0; at < size;) {
      const { bytesRead } = await handle.read(scratch, 0, Math.min(scratch.length, size - at), at);
      if (bytesRead === 0) throw new Error(`${journalFile} ended at ${at} of ${size} bytes`);
      if (at === 0) head = Buffer.from(scratch.subarray(0, Math.min(bytesRead, HEAD)));
      hash.update(scratch.subarray(0, bytesRead));
      at += bytesRead;
    }
    let parsed: ParsedDicom;
    try {
      parsed = readDicom(head!, { untilPixelData: true });
    } catch {
      // Attributes past the head (large private data before Pixel Data): the whole file, once.
      parsed = readDicom(await handle.readFile());
    }
    return { parsed: indexable(parsed), digest: { size, sha256: hash.digest('hex') } };
  } finally {
    await handle.close();
  }
}

/** An object the index cannot take is set aside as unreadable rather than failing its batch. */
function indexable(parsed: ParsedDicom): ParsedDicom {
  const reason = unindexableReason(parsed.meta);
  if (reason) throw new Error(reason);
  return parsed;
}
