import { createHash } from 'node:crypto';
import type { Executor } from '../../db/index.js';
import type { StoredFileRole } from '../../db/schema.js';
import type { Frame } from '../../dicom/pixels.js';
import { DicomReadError, readDicom, type ParsedDicom } from '../../dicom/reader.js';
import type { BlobInfo, BlobStore } from '../../storage/blob-store.js';
import { nowIso } from '../../util/time.js';
import { nextStudyId } from '../../util/uid.js';
import { AppError } from '../../util/errors.js';
import {
  receivedImage,
  receivedPatient,
  receivedPatientId,
  receivedPatientType,
  receivedProduct,
  receivedSeries,
  receivedStudy,
} from './received.js';
import type { ArchiveRepository, StoredDicom } from './repository.js';
import { captureName, dicomName, imageRow, storedFileRow, unindexableReason, type FileEntry } from './rows.js';
import { renderThumbnail, thumbnailEntry, type ThumbnailTarget } from './thumbnail.js';

/** Where an instance comes from; each origin has its own rules (storeInstance). */
export type Origin = 'exposure' | 'derived' | 'scp' | 'upload' | 'stow';
/** Objects from outside: indexed by their own attributes, found or created patient to image. */
export type ReceivedOrigin = Extract<Origin, 'scp' | 'upload' | 'stow'>;
export type DerivedRole = Extract<StoredFileRole, 'processing' | 'portrait' | 'post_proc'>;

/**
 * How an instance's bytes become its blob: whole or in consecutive parts (written with one
 * writev), or a local file already durable (the ingest journal's) linked in, with the size and
 * SHA-256 its reader computed.
 */
export type InstanceContent = { bytes: Buffer | readonly Uint8Array[] } | { file: string; digest: { size: number; sha256: string } };

export interface InstanceObject {
  /** Its attributes (the pixels need not have been read). */
  parsed: ParsedDicom;
  content: InstanceContent;
}

/** The origin of an instance and what that origin brings along. */
export type StoreAs =
  /** The exposure of the image planned as `sopInstanceUid`; `frame` is its first frame when at hand. */
  | { origin: 'exposure'; sopInstanceUid: string; frame?: Frame }
  /**
   * Made on the console: the For Processing twin of an exposure, a portrait, a post-processed copy.
   * Filed in the study (with the image, when one), beside an optional PNG capture; `inTransaction`
   * commits with its registration.
   */
  | {
      origin: 'derived';
      role: DerivedRole;
      studyPk: number;
      imagePk?: number;
      capture?: Buffer;
      inTransaction?: (trx: Executor) => Promise<void>;
    }
  | { origin: ReceivedOrigin };

export interface StoredInstance {
  sopInstanceUid: string;
  studyPk: number;
  /** The image the instance is (exposure, received) or belongs to (derived), if any. */
  imagePk: number | null;
  /** False when a received instance was in the index already (sent again). */
  created: boolean;
  dcm: string;
  blobKey: string;
  /** Made with the instance (exposures); received objects get theirs later (makeThumbnail). */
  thumbnail?: string;
  /** A received instance whose SOP Instance UID was taken: stored with these bytes already, or refused (storeReceived). */
  duplicate?: 'same' | 'refused';
}

/** The SHA-256 of an instance's bytes (a journal file's was computed as it was read). */
function contentSha256(content: InstanceContent): string {
  if ('file' in content) return content.digest.sha256;
  const hash = createHash('sha256');
  for (const part of Buffer.isBuffer(content.bytes) ? [content.bytes] : content.bytes) hash.update(part);
  return hash.digest('hex');
}

/** A file to store: its registry entry and its bytes (a promise when still being made). */
export interface PendingFile {
  entry: FileEntry;
  content: InstanceContent | { bytes: Promise<Buffer> };
}

/** An object this server wrote (whole, or its parts with the header first) with its attributes read. */
export function ownObject(dicom: Buffer | readonly Uint8Array[]): InstanceObject {
  return { parsed: readDicom(Buffer.isBuffer(dicom) ? dicom : dicom[0]), content: { bytes: dicom } };
}

/**
 * The archive: every write of patients, studies, series, images and stored files. Blobs are
 * written first and registered after, in one transaction with the rows they belong to, so the
 * index never names a file that is not there. Needs no HTTP layer: the ingest index thread runs it.
 */
export class Archive {
  constructor(
    private readonly repo: ArchiveRepository,
    readonly blobs: BlobStore,
    /** The product of received studies that name no species. */
    private readonly defaultProduct: string,
  ) {}

  async storeInstance(object: InstanceObject, as: StoreAs): Promise<StoredInstance> {
    switch (as.origin) {
      case 'exposure':
        return this.storeExposure(object, as.sopInstanceUid, as.frame);
      case 'derived':
        return this.storeDerived(object, as);
      default:
        return (await this.storeReceived([object], as.origin))[0];
    }
  }

  /**
   * The exposure of a planned image: the object and its thumbnail (rendered meanwhile, from the
   * frame at hand when there is one), and the image marked Saved with both names.
   */
  private async storeExposure(object: InstanceObject, sopInstanceUid: string, frame: Frame | undefined): Promise<StoredInstance> {
    const image = await this.repo.image(sopInstanceUid);
    if (!image) throw new AppError('IMAGE_NOT_FOUND', [], sopInstanceUid);
    const { meta } = object.parsed;
    if (meta.sopInstanceUid !== sopInstanceUid) {
      throw new DicomReadError(`SOP Instance UID ${meta.sopInstanceUid} is not the image's ${sopInstanceUid}`);
    }
    const dcm = dicomName(sopInstanceUid);
    const thumbnail = thumbnailEntry(sopInstanceUid, image.id);
    const written = await this.writeFiles(
      image.study_pk,
      [
        {
          entry: { name: dcm, kind: 'dicom', role: 'image', contentType: 'application/dicom', sopInstanceUid, imagePk: image.id },
          content: object.content,
        },
        { entry: thumbnail, content: { bytes: renderThumbnail(frame ? { frame, meta } : object.parsed) } },
      ],
      (trx) => this.repo.setImageFiles(image.id, { image_file: dcm, thumbnail_file: thumbnail.name, storage_status: 'Saved' }, trx),
    );
    return {
      sopInstanceUid,
      studyPk: image.study_pk,
      imagePk: image.id,
      created: false,
      dcm,
      blobKey: written[0].key,
      thumbnail: thumbnail.name,
    };
  }

  private async storeDerived(object: InstanceObject, as: Extract<StoreAs, { origin: 'derived' }>): Promise<StoredInstance> {
    const { sopInstanceUid } = object.parsed.meta;
    const dcm = dicomName(sopInstanceUid);
    const files: PendingFile[] = [
      {
        entry: { name: dcm, kind: 'dicom', role: as.role, contentType: 'application/dicom', sopInstanceUid, imagePk: as.imagePk },
        content: object.content,
      },
    ];
    if (as.capture)
      files.push({
        entry: { name: captureName(sopInstanceUid), kind: 'capture', role: as.role, contentType: 'image/png', imagePk: as.imagePk },
        content: { bytes: as.capture },
      });
    const written = await this.writeFiles(as.studyPk, files, as.inTransaction);
    return { sopInstanceUid, studyPk: as.studyPk, imagePk: as.imagePk ?? null, created: false, dcm, blobKey: written[0].key };
  }

  /**
   * What the index holds under a SOP Instance UID: its stored DICOM object, an image planned on
   * this console that has none yet (its UID is not for outsiders to fill), or nothing.
   */
  async storedUnder(sopInstanceUid: string): Promise<{ stored: StoredDicom } | { planned: true } | undefined> {
    const stored = await this.repo.storedDicom(dicomName(sopInstanceUid));
    if (stored) return { stored };
    return (await this.repo.image(sopInstanceUid)) ? { planned: true } : undefined;
  }

  /**
   * Received objects: their blobs first, then one transaction for the rows of them all (one
   * commit shared). A stored object is never replaced (docs/architecture.md, decisions:
   * "Duplicate SOP Instance UIDs"): an instance already stored with the same bytes is done
   * (`duplicate: 'same'`, nothing written: a retry, or the journal indexed again after a crash),
   * one stored with other bytes, or whose UID is an image planned here, is refused (`duplicate:
   * 'refused'`, nothing written). Blobs are not removed when the transaction fails: the caller
   * keeps the objects and stores them again.
   */
  async storeReceived(objects: readonly InstanceObject[], origin: ReceivedOrigin): Promise<StoredInstance[]> {
    for (const { parsed } of objects) {
      const reason = unindexableReason(parsed.meta);
      if (reason) throw new DicomReadError(`${origin}: ${parsed.meta.sopInstanceUid}: ${reason}`);
    }
    // What is already there, and what this batch holds twice (the first copy is the one kept).
    const outcomes: ({ blob: BlobInfo } | { duplicate: StoredInstance } | { pending: InstanceContent })[] = [];
    // Hashed only when a second copy turns up (the blob store hashes what it writes anyway).
    const inBatch = new Map<string, InstanceContent>();
    for (const { parsed, content } of objects) {
      const sopInstanceUid = parsed.meta.sopInstanceUid;
      const dcm = dicomName(sopInstanceUid);
      const earlier = await this.storedUnder(sopInstanceUid);
      const first = inBatch.get(dcm);
      const known = earlier && 'stored' in earlier ? earlier.stored.sha256 : first && contentSha256(first);
      if (earlier || known !== undefined) {
        const same = known !== undefined && known === contentSha256(content);
        const kept = earlier && 'stored' in earlier ? earlier.stored : undefined;
        outcomes.push({
          duplicate: {
            sopInstanceUid,
            studyPk: kept?.study_pk ?? 0,
            imagePk: kept?.image_pk ?? null,
            created: false,
            dcm,
            blobKey: kept?.blob_key ?? `dicom/${dcm}`,
            duplicate: same ? 'same' : 'refused',
          },
        });
        continue;
      }
      inBatch.set(dcm, content);
      outcomes.push({ pending: content });
    }
    await this.putAll(objects, outcomes);
    return this.repo.transaction(async (trx) => {
      const stored: StoredInstance[] = [];
      for (const [index, { parsed }] of objects.entries()) {
        const outcome = outcomes[index];
        if ('duplicate' in outcome) {
          stored.push(outcome.duplicate);
          continue;
        }
        if ('pending' in outcome) throw new Error('putAll left a blob unwritten');
        const { blob } = outcome;
        const sopInstanceUid = parsed.meta.sopInstanceUid;
        const dcm = dicomName(sopInstanceUid);
        const keys = await this.indexReceived(parsed, dcm, trx);
        await this.repo.registerFiles(
          [
            storedFileRow(
              { name: dcm, kind: 'dicom', role: 'image', contentType: 'application/dicom', sopInstanceUid, imagePk: keys.imagePk },
              blob,
              keys.studyPk,
            ),
          ],
          trx,
        );
        if (!keys.created) await this.repo.setImageFiles(keys.imagePk, { image_file: dcm, storage_status: 'Saved' }, trx);
        stored.push({ sopInstanceUid, ...keys, dcm, blobKey: blob.key });
      }
      return stored;
    });
  }

  /** Finds or creates the patient, study, series and image of a received object, the image naming its file. */
  private async indexReceived(p: ParsedDicom, dcm: string, trx: Executor): Promise<{ studyPk: number; imagePk: number; created: boolean }> {
    const existing = await this.repo.image(p.meta.sopInstanceUid, trx);
    if (existing) return { studyPk: existing.study_pk, imagePk: existing.id, created: false };
    const now = nowIso();
    const study = (await this.repo.studyByInstanceUid(p.meta.studyInstanceUid, trx)) ?? (await this.createReceivedStudy(p, now, trx));
    const seriesPk =
      (await this.repo.seriesPkByInstanceUid(p.meta.seriesInstanceUid, trx)) ??
      (await this.repo.insertSeries(receivedSeries(p, study.id, study.product), trx));
    const imagePk = await this.repo.insertImage(
      imageRow(receivedImage(p, { seriesPk, studyPk: study.id, product: study.product, storedAs: dcm }, now)),
      trx,
    );
    return { studyPk: study.id, imagePk, created: true };
  }

  /** A received study joins the patient of its Patient ID, whose type stays as it was. */
  private async createReceivedStudy(p: ParsedDicom, now: string, trx: Executor): Promise<{ id: number; product: string }> {
    const product = receivedProduct(p, this.defaultProduct);
    const patient = await this.repo.patient(receivedPatientId(p), trx);
    const patientPk = patient?.id ?? (await this.repo.insertPatient(receivedPatient(p, product, now), trx));
    let studyId = nextStudyId();
    while (await this.repo.studyIdTaken(studyId, trx)) studyId = nextStudyId(studyId);
    const patientType = patient?.patient_type ?? receivedPatientType(p);
    const id = await this.repo.insertStudy(receivedStudy(p, { studyId, patientPk, patientType, product }, now), trx);
    return { id, product };
  }

  /**
   * Makes and registers the thumbnail of a stored image from its DICOM blob (the exposure path
   * renders through the same renderThumbnail/thumbnailEntry). False when the image was deleted
   * meanwhile: then the new blob goes too.
   */
  async makeThumbnail(target: ThumbnailTarget): Promise<boolean> {
    const data = await renderThumbnail(readDicom(await this.blobs.read(target.blobKey)));
    const entry = thumbnailEntry(target.sopInstanceUid, target.imagePk);
    const info = await this.blobs.put(`${entry.kind}/${entry.name}`, data);
    const registered = await this.repo.transaction(async (trx) => {
      if (!(await this.repo.imageExists(target.imagePk, trx))) return false;
      await this.repo.registerFiles([storedFileRow(entry, info, target.studyPk)], trx);
      await this.repo.setImageFiles(target.imagePk, { thumbnail_file: entry.name }, trx);
      return true;
    });
    if (!registered) await this.blobs.delete(info.key).catch(() => undefined);
    return registered;
  }

  /** Whether the image still wants its thumbnail (false once it has one, or when it is gone). */
  async thumbnailWanted(target: ThumbnailTarget): Promise<boolean> {
    const image = await this.repo.image(target.sopInstanceUid);
    return image !== undefined && image.id === target.imagePk && image.thumbnail_file === '';
  }

  /** Stored images still without a thumbnail (the process stopped before making them), oldest first. */
  thumbnailsMissing(limit: number): Promise<ThumbnailTarget[]> {
    return this.repo.imagesWithoutThumbnail(limit);
  }

  /**
   * Writes the blobs side by side, then registers them and runs `alsoInTransaction`; if any write
   * or the database step fails the new blobs are removed, so neither a row without a file nor a
   * stray file is left. Returns the blobs in the order of `files`.
   */
  private async writeFiles(
    studyPk: number,
    files: readonly PendingFile[],
    alsoInTransaction?: (trx: Executor) => Promise<void>,
  ): Promise<BlobInfo[]> {
    const written: string[] = [];
    try {
      // Every write awaited even when one fails, so none is left behind unnoticed.
      const puts = await Promise.allSettled(
        files.map(async ({ entry, content }) => {
          const key = `${entry.kind}/${entry.name}`;
          const info = 'file' in content ? await this.put(key, content) : await this.blobs.put(key, await content.bytes);
          written.push(key);
          return info;
        }),
      );
      const failed = puts.find((p): p is PromiseRejectedResult => p.status === 'rejected');
      if (failed) throw failed.reason;
      const blobs = puts.map((p) => (p as PromiseFulfilledResult<BlobInfo>).value);
      await this.repo.transaction(async (trx) => {
        await this.repo.registerFiles(
          files.map(({ entry }, i) => storedFileRow(entry, blobs[i], studyPk)),
          trx,
        );
        await alsoInTransaction?.(trx);
      });
      return blobs;
    } catch (error) {
      for (const key of written) await this.blobs.delete(key).catch(() => undefined);
      throw error;
    }
  }

  /**
   * The blobs of storeReceived's new objects, in place of their `pending` outcomes: buffers
   * together (putMany: their fsyncs side by side, the index thread's main cost when they were
   * one after the other), journal files linked in one by one (no fsync of their own).
   */
  private async putAll(
    objects: readonly InstanceObject[],
    outcomes: ({ blob: BlobInfo } | { duplicate: StoredInstance } | { pending: InstanceContent })[],
  ): Promise<void> {
    const buffers: { index: number; key: string; bytes: Buffer }[] = [];
    for (const [index, outcome] of outcomes.entries()) {
      if (!('pending' in outcome)) continue;
      const key = `dicom/${dicomName(objects[index].parsed.meta.sopInstanceUid)}`;
      const content = outcome.pending;
      if (this.blobs.putMany && 'bytes' in content && Buffer.isBuffer(content.bytes)) buffers.push({ index, key, bytes: content.bytes });
      else outcomes[index] = { blob: await this.put(key, content) };
    }
    if (buffers.length === 0) return;
    const written = await this.blobs.putMany!(buffers);
    for (const [i, { index }] of buffers.entries()) outcomes[index] = { blob: written[i] };
  }

  private put(key: string, content: InstanceContent): Promise<BlobInfo> {
    return 'file' in content ? this.blobs.adopt(key, content.file, content.digest) : this.blobs.put(key, content.bytes);
  }
}
