import type { Db } from '../../db/index.js';
import type { FilesRepository, NewStoredFile } from '../images/repository.js';

/** A received image whose thumbnail is still to be made. */
export interface ThumbnailPayload {
  imagePk: number;
  studyPk: number;
  sopInstanceUid: string;
  blobKey: string;
}

/** The statements of the thumbnail job: which images lack one, and registering one made. */
export class ThumbnailRepository {
  constructor(private readonly sql: Db, private readonly files: FilesRepository) {}

  /** Received images (a stored object, no thumbnail yet), oldest first. */
  withoutThumbnail(limit: number): Promise<ThumbnailPayload[]> {
    return this.sql.kysely.selectFrom('images')
      .innerJoin('stored_files', (join) => join.onRef('stored_files.image_pk', '=', 'images.id').on('stored_files.kind', '=', 'dicom').on('stored_files.role', '=', 'image'))
      .select(['images.id as imagePk', 'images.study_pk as studyPk', 'images.sop_instance_uid as sopInstanceUid', 'stored_files.blob_key as blobKey'])
      .where('images.thumbnail_file', '=', '').where('images.storage_status', '=', 'Saved')
      .orderBy('images.id').limit(limit).execute();
  }

  /** The image's thumbnail file name ('' when it has none), or undefined when the image is gone. */
  async thumbnailOf(imagePk: number): Promise<string | undefined> {
    return (await this.sql.kysely.selectFrom('images').select('thumbnail_file').where('id', '=', imagePk).executeTakeFirst())?.thumbnail_file;
  }

  /** Registers the thumbnail and points the image at it; false when the image was deleted meanwhile. */
  register(imagePk: number, file: NewStoredFile): Promise<boolean> {
    return this.sql.kysely.transaction().execute(async (trx) => {
      if (!(await trx.selectFrom('images').select('id').where('id', '=', imagePk).executeTakeFirst())) return false;
      await this.files.register([file], trx);
      await this.files.setImageFiles(imagePk, { thumbnail_file: file.name }, trx);
      return true;
    });
  }
}
