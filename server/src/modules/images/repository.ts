import type { Insertable, Selectable } from 'kysely';
import type { Db, Executor } from '../../db/index.js';
import type { StoredFileKind, StoredFilesTable } from '../../db/schema.js';

export type StoredFileRow = Selectable<StoredFilesTable>;
export type NewStoredFile = Insertable<StoredFilesTable>;

export class FilesRepository {
  constructor(private readonly sql: Db) {}

  private get kysely() {
    return this.sql.kysely;
  }

  byName(name: string, kind: StoredFileKind): Promise<StoredFileRow | undefined> {
    return this.kysely.selectFrom('stored_files').selectAll().where('name', '=', name).where('kind', '=', kind).executeTakeFirst();
  }

  /** The DICOM file of an instance: the image's own object, a portrait or a post-processed copy. */
  dicomBySopUid(uid: string): Promise<StoredFileRow | undefined> {
    return this.kysely
      .selectFrom('stored_files')
      .selectAll()
      .where('sop_instance_uid', '=', uid)
      .where('kind', '=', 'dicom')
      .executeTakeFirst();
  }

  /** Replaces any earlier registration of the same names (a re-stored image keeps its names). */
  async register(files: NewStoredFile[], db: Executor): Promise<void> {
    if (files.length === 0) return;
    await db
      .deleteFrom('stored_files')
      .where(
        'name',
        'in',
        files.map((f) => f.name),
      )
      .execute();
    await db.insertInto('stored_files').values(files).execute();
  }

  /** Saved images whose DICOM file is registered and whose thumbnail is not (received objects whose thumbnail was not made yet), oldest first. */
  imagesWithoutThumbnail(limit: number): Promise<{ imagePk: number; studyPk: number; sopInstanceUid: string; blobKey: string }[]> {
    return this.kysely
      .selectFrom('images')
      .innerJoin('stored_files', (join) =>
        join.onRef('stored_files.image_pk', '=', 'images.id').on('stored_files.kind', '=', 'dicom').on('stored_files.role', '=', 'image'),
      )
      .select([
        'images.id as imagePk',
        'images.study_pk as studyPk',
        'images.sop_instance_uid as sopInstanceUid',
        'stored_files.blob_key as blobKey',
      ])
      .where('images.thumbnail_file', '=', '')
      .where('images.storage_status', '=', 'Saved')
      .orderBy('images.id')
      .limit(limit)
      .execute();
  }

  /** Which of these blob keys a registration names (looked up by file name, which is unique and indexed). */
  async registeredBlobKeys(keys: readonly string[]): Promise<Set<string>> {
    if (keys.length === 0) return new Set();
    const names = keys.map((k) => k.slice(k.indexOf('/') + 1));
    const rows = await this.kysely.selectFrom('stored_files').select('blob_key').where('name', 'in', names).execute();
    const wanted = new Set(keys);
    return new Set(rows.map((r) => r.blob_key).filter((k) => wanted.has(k)));
  }

  async deleteById(id: number): Promise<void> {
    await this.kysely.deleteFrom('stored_files').where('id', '=', id).execute();
  }

  async setImageFiles(
    imagePk: number,
    values: { image_file?: string; thumbnail_file?: string; storage_status?: string },
    db: Executor,
  ): Promise<void> {
    await db.updateTable('images').set(values).where('id', '=', imagePk).execute();
  }

  async setSecondary(imagePk: number, secondarySopUid: string, db: Executor): Promise<void> {
    await db.updateTable('images').set({ secondary_sop_uid: secondarySopUid }).where('id', '=', imagePk).execute();
  }

  async setExported(imagePk: number): Promise<void> {
    await this.kysely.updateTable('images').set({ export_status: 'Exported' }).where('id', '=', imagePk).execute();
  }
}
