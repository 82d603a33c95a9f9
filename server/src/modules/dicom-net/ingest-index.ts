import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import type { ParsedDicom } from '../../dicom/reader.js';
import type { BlobInfo, BlobStore } from '../../storage/blob-store.js';
import { nowIso } from '../../util/time.js';
import { nextStudyId } from '../../util/uid.js';
import type { FilesRepository } from '../images/repository.js';
import { parseOrReject } from '../images/service.js';
import type { StudyDetails } from '../studies/dto.js';
import type { StudiesRepository } from '../studies/repository.js';
import type { JournalEntry } from './ingest-journal.js';
import { readRecord } from './segment-log.js';
import type { Executor } from '../../db/index.js';

const str = (p: ParsedDicom, tag: string) => (p.dataSet.string(tag) ?? '').trim();

function dicomDateTime(date: string, time: string): string | undefined {
  const d = /^(\d{4})(\d{2})(\d{2})$/.exec(date);
  if (!d) return undefined;
  const t = /^(\d{2})(\d{2})?(\d{2})?/.exec(time) ?? [];
  const iso = `${d[1]}-${d[2]}-${d[3]}T${t[1] ?? '00'}:${t[2] ?? '00'}:${t[3] ?? '00'}Z`;
  return Number.isNaN(Date.parse(iso)) ? undefined : new Date(iso).toISOString();
}

export interface IndexedKeys {
  studyPk: number;
  imagePk: number;
  /** False when the image was already in the index (the same SOP Instance sent again). */
  created: boolean;
}

/**
 * Finds or creates the patient, study, series and image of a received object, with the image
 * pointing at its stored file `dcmName`. Received series and images keep the sender's numbering
 * as their order; a species (0010,2201) makes the study veterinary.
 */
export async function indexReceived(studies: StudiesRepository, defaultProduct: string, p: ParsedDicom, dcmName: string, trx: Executor): Promise<IndexedKeys> {
  const existing = await studies.image(p.meta.sopInstanceUid, trx);
  if (existing) return { studyPk: existing.study_pk, imagePk: existing.id, created: false };
  const now = nowIso();
  const study = await trx.selectFrom('studies').select(['id', 'product']).where('study_instance_uid', '=', p.meta.studyInstanceUid).executeTakeFirst()
    ?? await createStudy(studies, defaultProduct, p, now, trx);
  const series = await trx.selectFrom('series').select('id').where('series_instance_uid', '=', p.meta.seriesInstanceUid).executeTakeFirst();
  const seriesPk = series?.id ?? await studies.insertSeries({
    series_instance_uid: p.meta.seriesInstanceUid, study_pk: study.id, procedure_id: '', body_part: str(p, 'x00180015'),
    performed_datetime: dicomDateTime(str(p, 'x00080021'), str(p, 'x00080031')) ?? null, protocol_code_meaning: str(p, 'x0008103e'),
    sort: Number(str(p, 'x00200011')) || 1, product: study.product,
  }, trx);
  const imagePk = await studies.insertImage({
    sop_instance_uid: p.meta.sopInstanceUid, series_pk: seriesPk, study_pk: study.id, view_id: '',
    view_description: (str(p, 'x0008103e') || str(p, 'x00185101')).slice(0, 64), secondary_sop_uid: '', image_file_path: '',
    acquisition_mode: p.meta.modality || 'OT', expose_status: 'Exposed', judged_status: 'NotJudged', send_status: 'Unsent',
    export_status: 'NotExported', storage_status: 'Saved', image_file: dcmName, acquisition_context: null, img_proc_context: null,
    sort: Number(str(p, 'x00200013')) || 1, product: study.product, created_at: now,
  }, trx);
  return { studyPk: study.id, imagePk, created: true };
}

async function createStudy(studies: StudiesRepository, defaultProduct: string, p: ParsedDicom, now: string, trx: Executor): Promise<{ id: number; product: string }> {
  const species = str(p, 'x00102201');
  const product = species ? 'VETDROS' : defaultProduct;
  const patientId = str(p, 'x00100020') || `UNKNOWN-${p.meta.studyInstanceUid.slice(-12)}`;
  const patientName = str(p, 'x00100010');
  const dob = dicomDateTime(str(p, 'x00100030'), '') ?? null;
  const patient = await studies.patient(patientId, trx);
  const patientType = patient?.patient_type ?? (species ? species.replace(/^\w/, (c) => c.toUpperCase()) : 'Human');
  const patientPk = patient?.id ?? await studies.insertPatient({
    patient_id: patientId, name: patientName, english_name: '', former_name: '', sex: str(p, 'x00100040'), birth_date: dob,
    patient_type: patientType, sex_neutered: str(p, 'x00102203'), owner_name: str(p, 'x00102297'), chip_number: '',
    variety: str(p, 'x00102292'), product, created_at: now, updated_at: now,
  }, trx);
  const details: StudyDetails = {
    ref_physician: str(p, 'x00080090'), patient_english_name: '', patient_former_name: '', patient_size: 'Medium', patient_age: str(p, 'x00101010'),
    patient_dob: dob ?? '', patient_sex: str(p, 'x00100040'), sex_neutered: str(p, 'x00102203'), pregnancy_status: '',
    patient_type: patientType, owner_name: str(p, 'x00102297'), chip_number: '', variety: str(p, 'x00102292'),
    is_anaesthesia: false, is_sedation: false, operator_name: str(p, 'x00081070'), weight: Number(str(p, 'x00101030')) || 0,
    thickness: 0, length: 0, comment: str(p, 'x00081030'), mwl: '', is_edited: false, portrait_status: '', portrait_file: '', registered_by: 0,
  };
  let studyId = nextStudyId();
  while (await studies.studyIdTaken(studyId, trx)) studyId = nextStudyId(studyId);
  const started = dicomDateTime(str(p, 'x00080020'), str(p, 'x00080030')) ?? now;
  const id = await studies.insertStudy({
    study_id: studyId, study_instance_uid: p.meta.studyInstanceUid, patient_pk: patientPk, product, accession_number: str(p, 'x00080050'),
    patient_id: patientId, patient_name: patientName, study_status: 'Completed', study_lock: 'Unlocked', study_type: 'Normal',
    study_start_datetime: started, study_end_datetime: started, create_time: now, updated_at: now, deleted_at: null, deleted_by: null,
    details: JSON.stringify(details),
  }, trx);
  return { id, product };
}

export interface IndexedObject extends IndexedKeys {
  entry: JournalEntry;
  sopInstanceUid: string;
  blobKey: string;
}

export interface IndexDeps {
  studies: StudiesRepository;
  files: FilesRepository;
  blobs: BlobStore;
  defaultProduct: string;
}

export interface IndexOutcome {
  indexed: IndexedObject[];
  /** Journal entries that do not hold a readable object (a file cut short by a crash before its acknowledgement). */
  unreadable: { entry: JournalEntry; reason: string }[];
}

/**
 * A batch of journalled objects into the archive: blobs first (a file is linked from the
 * journal, a record copied out of its segment), then one transaction for the batch's rows (one
 * commit shared by all). The entries are the caller's to settle once this returns; a crash
 * before that leaves them, and indexing them again is idempotent (the image is found, its file
 * row rewritten).
 */
export async function indexObjects(deps: IndexDeps, entries: readonly JournalEntry[]): Promise<IndexOutcome> {
  const readable: { entry: JournalEntry; parsed: ParsedDicom; blob: BlobInfo }[] = [];
  const unreadable: IndexOutcome['unreadable'] = [];
  for (const entry of entries) {
    let object: JournalObject;
    try {
      object = await journalObject(entry, deps.blobs);
    } catch (error) {
      unreadable.push({ entry, reason: (error as Error).message });
      continue;
    }
    readable.push({ entry, parsed: object.parsed, blob: await object.store(`dicom/${object.parsed.meta.sopInstanceUid}.dcm`) });
  }
  const indexed = await deps.files.db.transaction().execute(async (trx) => {
    const done: IndexedObject[] = [];
    for (const { entry, parsed, blob } of readable) {
      const sopInstanceUid = parsed.meta.sopInstanceUid;
      const dcmName = `${sopInstanceUid}.dcm`;
      const keys = await indexReceived(deps.studies, deps.defaultProduct, parsed, dcmName, trx);
      await deps.files.register([{
        name: dcmName, kind: 'dicom', role: 'image', blob_key: blob.key, content_type: 'application/dicom', size: blob.size,
        sha256: blob.sha256 ?? '', study_pk: keys.studyPk, image_pk: keys.imagePk, sop_instance_uid: sopInstanceUid, created_at: nowIso(),
      }], trx);
      if (!keys.created) await deps.files.setImageFiles(keys.imagePk, { image_file: dcmName, storage_status: 'Saved' }, trx);
      done.push({ ...keys, entry, sopInstanceUid, blobKey: blob.key });
    }
    return done;
  });
  return { indexed, unreadable };
}

interface JournalObject {
  parsed: ParsedDicom;
  /** Makes the object the blob under `key`. */
  store(key: string): Promise<BlobInfo>;
}

/**
 * A journal entry's attributes, and how it becomes a blob: a file is linked (hashed while it was
 * read here), a record's bytes are copied out of their segment (hashed as the blob is written).
 */
async function journalObject(entry: JournalEntry, blobs: BlobStore): Promise<JournalObject> {
  if ('file' in entry) {
    const { parsed, digest } = await readJournalFile(entry.file);
    return { parsed, store: (key) => blobs.adopt(key, entry.file, digest) };
  }
  const bytes = await readRecord(entry);
  return { parsed: indexable(parseOrReject(bytes)), store: (key) => blobs.put(key, bytes) };
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
      return { parsed: indexable(parseOrReject(file)), digest: { size, sha256: createHash('sha256').update(file).digest('hex') } };
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
      parsed = parseOrReject(head!, { untilPixelData: true });
    } catch {
      // Attributes past the head (large private data before Pixel Data): the whole file, once.
      parsed = parseOrReject(await handle.readFile());
    }
    return { parsed: indexable(parsed), digest: { size, sha256: hash.digest('hex') } };
  } finally {
    await handle.close();
  }
}

function indexable(parsed: ParsedDicom): ParsedDicom {
  if (!parsed.meta.studyInstanceUid || !parsed.meta.seriesInstanceUid) throw new Error('no Study or Series Instance UID');
  return parsed;
}
