import type { Kysely } from 'kysely';
import { addIdColumn } from '../columns.js';
import type { DialectName } from '../index.js';

/**
 * The file registry: every file we serve (DICOM objects, thumbnails, captures) is a row naming
 * its blob key. File routes look names up here; a client's string never becomes a path.
 */
export function files(dialect: DialectName) {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await addIdColumn(db.schema.createTable('stored_files'), dialect)
        .addColumn('name', 'text', (c) => c.notNull().unique())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('role', 'text', (c) => c.notNull())
        .addColumn('blob_key', 'text', (c) => c.notNull())
        .addColumn('content_type', 'text', (c) => c.notNull())
        .addColumn('size', 'bigint', (c) => c.notNull())
        .addColumn('sha256', 'text', (c) => c.notNull())
        .addColumn('study_pk', 'integer', (c) => c.notNull().references('studies.id').onDelete('cascade'))
        .addColumn('image_pk', 'integer', (c) => c.references('images.id').onDelete('set null'))
        .addColumn('sop_instance_uid', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('stored_files_study').on('stored_files').column('study_pk').execute();
      await db.schema.createIndex('stored_files_image').on('stored_files').column('image_pk').execute();
      await db.schema.createIndex('stored_files_sop').on('stored_files').column('sop_instance_uid').execute();
      await db.schema
        .alterTable('images')
        .addColumn('image_file', 'text', (c) => c.notNull().defaultTo(''))
        .execute();
      await db.schema
        .alterTable('images')
        .addColumn('thumbnail_file', 'text', (c) => c.notNull().defaultTo(''))
        .execute();
    },
  };
}
