import type { Insertable } from 'kysely';
import type { ImagesTable, StoredFileKind, StoredFileRole, StoredFilesTable } from '../../db/schema.js';
import type { ImageMeta } from '../../dicom/reader.js';
import type { BlobInfo } from '../../storage/blob-store.js';
import { nowIso } from '../../util/time.js';

/** Stored file names follow the SOP Instance UID, as the spec's samples show. */
export const dicomName = (sopInstanceUid: string) => `${sopInstanceUid}.dcm`;
export const thumbnailName = (sopInstanceUid: string) => `${sopInstanceUid}.webp`;
export const captureName = (sopInstanceUid: string) => `${sopInstanceUid}.png`;

/** What tells one image row from another; everything else starts the same for every image. */
export interface ImageFields {
  sopInstanceUid: string;
  seriesPk: number;
  studyPk: number;
  viewId: string;
  viewDescription: string;
  acquisitionMode: string;
  sort: number;
  product: string;
  createdAt: string;
  /**
   * A received object is exposed and saved already, with its file; an image planned at
   * registration (or copied) waits for its exposure.
   */
  storedAs?: string;
}

/** The one mapping of an image to its row, for planned images and received objects alike. */
export function imageRow(f: ImageFields): Insertable<ImagesTable> {
  return {
    sop_instance_uid: f.sopInstanceUid,
    series_pk: f.seriesPk,
    study_pk: f.studyPk,
    view_id: f.viewId,
    view_description: f.viewDescription,
    secondary_sop_uid: '',
    image_file_path: '',
    acquisition_mode: f.acquisitionMode,
    expose_status: f.storedAs === undefined ? 'Unexposed' : 'Exposed',
    judged_status: 'NotJudged',
    send_status: 'Unsent',
    export_status: 'NotExported',
    storage_status: f.storedAs === undefined ? 'NotSaved' : 'Saved',
    ...(f.storedAs === undefined ? {} : { image_file: f.storedAs }),
    acquisition_context: null,
    img_proc_context: null,
    sort: f.sort,
    product: f.product,
    created_at: f.createdAt,
  };
}

/** A file about to be stored: its registry entry (less bookkeeping) and where its bytes come from. */
export interface FileEntry {
  name: string;
  kind: StoredFileKind;
  role: StoredFileRole;
  contentType: string;
  /** Set on DICOM files: finds the file of an instance. */
  sopInstanceUid?: string;
  imagePk?: number | null;
}

/** The registry row of a file once its blob is written. */
export function storedFileRow(file: FileEntry, blob: BlobInfo, studyPk: number): Insertable<StoredFilesTable> {
  return {
    name: file.name,
    kind: file.kind,
    role: file.role,
    blob_key: blob.key,
    content_type: file.contentType,
    size: blob.size,
    sha256: blob.sha256 ?? '',
    study_pk: studyPk,
    image_pk: file.imagePk ?? null,
    sop_instance_uid: file.sopInstanceUid ?? null,
    created_at: nowIso(),
  };
}

/**
 * Why an object cannot go into the index, or undefined when it can: it needs its Study and
 * Series Instance UIDs, and the SOP Instance UID a command or request named (when one did).
 */
export function unindexableReason(
  meta: Pick<ImageMeta, 'sopInstanceUid' | 'studyInstanceUid' | 'seriesInstanceUid'>,
  namedSopInstanceUid?: string,
): string | undefined {
  if (namedSopInstanceUid !== undefined && meta.sopInstanceUid !== namedSopInstanceUid)
    return `SOP Instance UID ${meta.sopInstanceUid} is not the named ${namedSopInstanceUid}`;
  if (!meta.studyInstanceUid || !meta.seriesInstanceUid) return 'no Study or Series Instance UID';
  return undefined;
}
