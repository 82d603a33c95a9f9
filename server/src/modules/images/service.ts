import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { StoredFileKind } from '../../db/schema.js';
import type { Frame } from '../../dicom/pixels.js';
import { readDicom } from '../../dicom/reader.js';
import { decodeImage, renderDecoded, type DecodedImage, type Rendered, type RenderOptions } from '../../dicom/render.js';
import type { BlobStore } from '../../storage/blob-store.js';
import { AppError } from '../../util/errors.js';
import type { Archive } from '../archive/service.js';
import type { AuthUser } from '../auth/auth-user.js';
import type { StudiesRepository, StudyRow } from '../studies/repository.js';
import type { StudiesService } from '../studies/service.js';
import type { ConfigService } from '../system/config-service.js';
import type { RenderCache } from './render-cache.js';
import type { FilesRepository, StoredFileRow } from './repository.js';

export const FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

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
  thumbnail: 'files.public_thumbnails',
  dicom: 'files.public_dicom',
  capture: 'files.public_captures',
};

/**
 * Stored files of studies: storing an exposure's object (through the archive), finding files by
 * name with the public/private rules, previews and downloads.
 */
export class ImageFilesService {
  /** Decodes under way, by file hash: concurrent requests for one image share one. */
  private readonly decoding = new Map<string, Promise<DecodedImage>>();

  constructor(
    readonly repo: FilesRepository,
    readonly studiesRepo: StudiesRepository,
    private readonly studies: StudiesService,
    readonly archive: Archive,
    readonly blobs: BlobStore,
    private readonly configs: ConfigService,
    readonly cache: RenderCache,
  ) {}

  /**
   * Stores the DICOM object of an image (what an exposure produces) with its 256 px WebP
   * thumbnail, named after the SOP Instance UID as the spec's samples show. An object we wrote
   * ourselves comes as its parts with its frame at hand: the header is parsed for identity and
   * attributes and the thumbnail made from the frame, with no copy of either.
   */
  async storeImage(sopInstanceUid: string, dicom: Buffer | WrittenImage): Promise<{ dcm: string; thumbnail: string }> {
    const whole = Buffer.isBuffer(dicom);
    const parsed = readDicom(whole ? dicom : dicom.parts[0]);
    const stored = await this.archive.storeInstance(
      { parsed, content: { bytes: whole ? dicom : dicom.parts } },
      { origin: 'exposure', sopInstanceUid, frame: whole ? undefined : dicom.frame },
    );
    return { dcm: stored.dcm, thumbnail: stored.thumbnail ?? '' };
  }

  /** Who may read a study's files: readers of studies, or a guest session for the emergency studies it registered. */
  private async readableStudy(studyPk: number, user: AuthUser): Promise<StudyRow> {
    const study = await this.studiesRepo.studyByPk(studyPk);
    if (study.deleted_at !== null && !user.permissions.has('recycle:read')) throw new AppError('FILE_NOT_FOUND');
    try {
      this.studies.assertAccess(user, study, false);
    } catch (error) {
      // Another session's study: its files do not exist for this caller either.
      if (error instanceof AppError && error.errorName === 'STUDY_NOT_FOUND') throw new AppError('FILE_NOT_FOUND');
      throw error;
    }
    return study;
  }

  /**
   * A file by the name a client asked for. The name is only ever a lookup key; `viaPublic` is the
   * /pub route, which answers without a token (or session cookie) only for the kinds an admin made
   * public (`files.public_*`, all off by default: private files by default).
   */
  async open(name: string, kind: StoredFileKind, user: AuthUser | undefined, viaPublic: boolean): Promise<OpenedFile> {
    const isPublic = viaPublic && (await this.configs.getBoolean(PUBLIC_CONFIG[kind]));
    // Before the lookup: an anonymous caller gets the same answer for a file that exists and one that does not.
    if (!isPublic && !user) throw new AppError('FILE_NOT_PUBLIC');
    if (!FILE_NAME.test(name)) throw new AppError('FILE_NOT_FOUND', [], name);
    const row = await this.repo.byName(name, kind);
    if (!row) throw new AppError('FILE_NOT_FOUND', [], name);
    if (isPublic) {
      // Public files of a study in the recycle bin are no longer public.
      if ((await this.studiesRepo.studyByPk(row.study_pk)).deleted_at !== null) throw new AppError('FILE_NOT_FOUND', [], name);
    } else if (user) {
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
    const rendered = await renderDecoded(await this.decoded(row), options);
    this.cache.set(variant, rendered);
    return { ...rendered, etag };
  }

  /**
   * The file's first frame, decoded, from the frame cache or read, parsed and decoded once for
   * all the requests that ask for it meanwhile (a viewer asks for several sizes at once).
   */
  private decoded(row: StoredFileRow): Promise<DecodedImage> {
    const key = row.sha256;
    const cached = this.cache.frames.get(key);
    if (cached) return Promise.resolve(cached);
    let pending = this.decoding.get(key);
    if (!pending) {
      pending = this.blobs
        .read(row.blob_key)
        .then((bytes) => decodeImage(readDicom(bytes)))
        .then((image) => {
          this.cache.frames.set(key, image);
          return image;
        })
        .finally(() => this.decoding.delete(key));
      this.decoding.set(key, pending);
    }
    return pending;
  }
}
