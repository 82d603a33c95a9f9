import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { StoredFileKind, StoredFileRole } from '../../db/schema.js';
import { decodeFrame, type Frame } from '../../dicom/pixels.js';
import { DicomReadError, readDicom, UnsupportedTransferSyntaxError, type ParsedDicom, type ReadOptions } from '../../dicom/reader.js';
import { renderFrame, type Rendered, type RenderOptions } from '../../dicom/render.js';
import type { AuthUser } from '../../http/context.js';
import { AppError } from '../../http/errors.js';
import type { BlobStore } from '../../storage/blob-store.js';
import { nowIso } from '../../util/time.js';
import type { StudiesRepository, StudyRow } from '../studies/repository.js';
import type { Executor } from '../../db/index.js';
import type { StudiesService } from '../studies/service.js';
import type { ConfigService } from '../system/config-service.js';
import type { RenderCache } from './render-cache.js';
import type { FilesRepository, NewStoredFile, StoredFileRow } from './repository.js';

export const FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** A file about to be written: its registry row (less bookkeeping) and its bytes. */
export interface PendingFile {
  name: string;
  kind: StoredFileKind;
  role: StoredFileRole;
  contentType: string;
  /** Whole, in consecutive parts, or a promise when still being made (the other files are written meanwhile). */
  bytes: Buffer | readonly Uint8Array[] | Promise<Buffer>;
  sopInstanceUid?: string;
  imagePk?: number | null;
}

/** A DICOM object this server wrote: its consecutive parts (header first) and its first frame. */
export interface WrittenImage {
  parts: readonly Uint8Array[];
  frame: Frame;
}

export interface OpenedFile {
  row: StoredFileRow;
  stream: Readable;
  etag: string;
}

const PUBLIC_CONFIG: Record<StoredFileKind, string> = {
  thumbnail: 'files.public_thumbnails', dicom: 'files.public_dicom', capture: 'files.public_captures',
};

export function parseOrReject(bytes: Uint8Array, options?: ReadOptions): ParsedDicom {
  try {
    return readDicom(bytes, options);
  } catch (error) {
    if (error instanceof DicomReadError) throw new AppError('INVALID_DICOM', [{ field: 'file', message: error.message }]);
    throw error;
  }
}

/** Renders frame 1, turning decoder refusals into the catalogue's errors. */
export async function renderParsed(parsed: ParsedDicom, options: RenderOptions): Promise<Rendered> {
  try {
    return await renderFrame(await decodeFrame(parsed, 0), parsed.meta, options);
  } catch (error) {
    if (error instanceof UnsupportedTransferSyntaxError) throw new AppError('UNSUPPORTED_IMAGE', [], error.message);
    if (error instanceof DicomReadError) throw new AppError('INVALID_DICOM', [{ field: 'file', message: error.message }]);
    throw error;
  }
}

/**
 * Stored files of studies: writing (blob first, registry row after, in one transaction with the
 * image's columns), finding by name with the public/private rules, previews and downloads.
 */
export class ImageFilesService {
  constructor(
    readonly repo: FilesRepository,
    readonly studiesRepo: StudiesRepository,
    private readonly studies: StudiesService,
    readonly blobs: BlobStore,
    private readonly configs: ConfigService,
    private readonly cache: RenderCache,
  ) {}

  /**
   * Writes the blobs, then registers them and runs `alsoInTransaction`; if the database step
   * fails the new blobs are removed, so neither a row without a file nor a stray file is left.
   */
  async writeFiles(studyPk: number, files: PendingFile[], alsoInTransaction?: (trx: Executor) => Promise<void>): Promise<void> {
    const written: string[] = [];
    try {
      // Side by side (a DX object and the thumbnail being rendered), every write awaited even when one fails.
      const puts = await Promise.allSettled(files.map(async (file): Promise<NewStoredFile> => {
        const key = `${file.kind}/${file.name}`;
        const info = await this.blobs.put(key, await file.bytes);
        written.push(key);
        return {
          name: file.name, kind: file.kind, role: file.role, blob_key: key, content_type: file.contentType, size: info.size,
          sha256: info.sha256 ?? '', study_pk: studyPk, image_pk: file.imagePk ?? null, sop_instance_uid: file.sopInstanceUid ?? null,
          created_at: nowIso(),
        };
      }));
      const failed = puts.find((p): p is PromiseRejectedResult => p.status === 'rejected');
      if (failed) throw failed.reason;
      const rows = puts.map((p) => (p as PromiseFulfilledResult<NewStoredFile>).value);
      await this.repo.db.transaction().execute(async (trx) => {
        await this.repo.register(rows, trx);
        await alsoInTransaction?.(trx);
      });
    } catch (error) {
      for (const key of written) await this.blobs.delete(key).catch(() => undefined);
      throw error;
    }
  }

  /**
   * Stores the DICOM object of an image (what an exposure produces): the object itself and a
   * 256 px WebP thumbnail, named after the SOP Instance UID as the spec's samples show. An
   * object we wrote ourselves comes as its parts with its frame at hand: the header is parsed
   * for identity and attributes and the thumbnail made from the frame, with no copy of either.
   */
  async storeImage(sopInstanceUid: string, dicom: Buffer | WrittenImage): Promise<{ dcm: string; thumbnail: string }> {
    const image = await this.studiesRepo.image(sopInstanceUid);
    if (!image) throw new AppError('IMAGE_NOT_FOUND', [], sopInstanceUid);
    const parsed = parseOrReject(Buffer.isBuffer(dicom) ? dicom : dicom.parts[0]!);
    if (parsed.meta.sopInstanceUid !== sopInstanceUid) {
      throw new AppError('INVALID_DICOM', [{ field: 'file', message: `SOP Instance UID ${parsed.meta.sopInstanceUid} is not the image's ${sopInstanceUid}` }]);
    }
    const thumbnailOptions = { size: 'thumbnail', format: 'webp' } as const;
    const thumbnail = (Buffer.isBuffer(dicom) ? renderParsed(parsed, thumbnailOptions) : renderFrame(dicom.frame, parsed.meta, thumbnailOptions)).then((rendered) => rendered.data);
    const dcm = `${sopInstanceUid}.dcm`;
    const webp = `${sopInstanceUid}.webp`;
    await this.writeFiles(image.study_pk, [
      { name: dcm, kind: 'dicom', role: 'image', contentType: 'application/dicom', bytes: Buffer.isBuffer(dicom) ? dicom : dicom.parts, sopInstanceUid, imagePk: image.id },
      { name: webp, kind: 'thumbnail', role: 'image', contentType: 'image/webp', bytes: thumbnail, imagePk: image.id },
    ], (trx) => this.repo.setImageFiles(image.id, { image_file: dcm, thumbnail_file: webp, storage_status: 'Saved' }, trx));
    return { dcm, thumbnail: webp };
  }

  /** Who may read a study's files: readers of studies, or the guest for its own emergency study. */
  private async readableStudy(studyPk: number, user: AuthUser): Promise<StudyRow> {
    const study = await this.studiesRepo.studyByPk(studyPk);
    if (study.deleted_at !== null && !user.permissions.has('recycle:read')) throw new AppError('FILE_NOT_FOUND');
    this.studies.assertAccess(user, study, false);
    return study;
  }

  /**
   * A file by the name a client asked for. The name is only ever a lookup key; `viaPublic` is the
   * /pub route, which answers without a token for the kinds the deployment made public.
   */
  async open(name: string, kind: StoredFileKind, user: AuthUser | undefined, viaPublic: boolean): Promise<OpenedFile> {
    if (!FILE_NAME.test(name)) throw new AppError('FILE_NOT_FOUND', [], name);
    const row = await this.repo.byName(name, kind);
    if (!row) throw new AppError('FILE_NOT_FOUND', [], name);
    const isPublic = viaPublic && (await this.configs.getBoolean(PUBLIC_CONFIG[kind]));
    if (isPublic) {
      // Public files of a study in the recycle bin are no longer public.
      if ((await this.studiesRepo.studyByPk(row.study_pk)).deleted_at !== null) throw new AppError('FILE_NOT_FOUND', [], name);
    } else {
      if (!user) throw new AppError('FILE_NOT_PUBLIC');
      await this.readableStudy(row.study_pk, user);
    }
    const stream = await this.blobs.stream(row.blob_key).catch(() => {
      throw new AppError('FILE_NOT_FOUND', [], `${name} is registered but its content is missing`);
    });
    return { row, stream, etag: `"${row.sha256.slice(0, 32)}"` };
  }

  private async readableDicom(uid: string, user: AuthUser): Promise<StoredFileRow> {
    const row = await this.repo.dicomBySopUid(uid);
    if (!row) {
      const image = await this.studiesRepo.image(uid);
      if (image) throw new AppError('IMAGE_NOT_STORED', [], uid);
      throw new AppError('IMAGE_NOT_FOUND', [], uid);
    }
    await this.readableStudy(row.study_pk, user);
    return row;
  }

  async download(uid: string, user: AuthUser): Promise<OpenedFile> {
    const row = await this.readableDicom(uid, user);
    return { row, stream: await this.blobs.stream(row.blob_key), etag: `"${row.sha256.slice(0, 32)}"` };
  }

  /** A rendered preview, from the cache when the same file was rendered the same way before. */
  async preview(uid: string, options: RenderOptions, user: AuthUser): Promise<Rendered & { etag: string }> {
    const row = await this.readableDicom(uid, user);
    const variant = `${row.sha256}|${options.size}|${options.format}|${options.window ? `${options.window.center}/${options.window.width}` : ''}`;
    const etag = `"${createHash('sha1').update(variant).digest('hex')}"`;
    const cached = this.cache.get(variant);
    if (cached) return { ...cached, etag };
    const rendered = await renderParsed(parseOrReject(await this.blobs.read(row.blob_key)), options);
    this.cache.set(variant, rendered);
    return { ...rendered, etag };
  }
}
