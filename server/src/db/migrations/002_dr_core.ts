import type { Kysely } from 'kysely';
import { addIdColumn } from '../columns.js';
import type { DialectName } from '../index.js';

/** Protocol library (per product), patients, studies, series and images. */
export function drCore(dialect: DialectName) {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      const common = <T extends string>(name: T) => addIdColumn(db.schema.createTable(name), dialect)
        .addColumn('product', 'text', (c) => c.notNull())
        .addColumn('sort', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('is_enabled', 'integer', (c) => c.notNull().defaultTo(1))
        .addColumn('is_pre_install', 'integer', (c) => c.notNull().defaultTo(1));

      await common('protocol_patient_types')
        .addColumn('patient_type_id', 'text', (c) => c.notNull())
        .addColumn('name_en', 'text', (c) => c.notNull())
        .addColumn('name_zh', 'text', (c) => c.notNull())
        .addUniqueConstraint('protocol_patient_types_key', ['product', 'patient_type_id'])
        .execute();
      await common('protocol_body_parts')
        .addColumn('body_part_id', 'text', (c) => c.notNull())
        .addColumn('patient_type', 'text', (c) => c.notNull())
        .addColumn('name_en', 'text', (c) => c.notNull())
        .addColumn('name_zh', 'text', (c) => c.notNull())
        .addColumn('category', 'text', (c) => c.notNull())
        .addUniqueConstraint('protocol_body_parts_key', ['product', 'body_part_id'])
        .execute();
      await common('protocol_procedures')
        .addColumn('procedure_id', 'text', (c) => c.notNull())
        .addColumn('patient_type', 'text', (c) => c.notNull())
        .addColumn('body_part_id', 'text', (c) => c.notNull())
        .addColumn('name_en', 'text', (c) => c.notNull())
        .addColumn('name_zh', 'text', (c) => c.notNull())
        .addColumn('procedure_type', 'text', (c) => c.notNull())
        .addColumn('procedure_category', 'text', (c) => c.notNull())
        .addColumn('protocol_laterality', 'text', (c) => c.notNull())
        .addColumn('fast_search', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('modality', 'text', (c) => c.notNull())
        .addUniqueConstraint('protocol_procedures_key', ['product', 'procedure_id'])
        .execute();
      await db.schema.createIndex('protocol_procedures_part').on('protocol_procedures').columns(['product', 'patient_type', 'body_part_id']).execute();
      await common('protocol_views')
        .addColumn('view_id', 'text', (c) => c.notNull())
        .addColumn('patient_type', 'text', (c) => c.notNull())
        .addColumn('body_part_id', 'text', (c) => c.notNull())
        .addColumn('name_en', 'text', (c) => c.notNull())
        .addColumn('name_zh', 'text', (c) => c.notNull())
        .addColumn('view_position', 'text', (c) => c.notNull())
        .addColumn('anatomic_region', 'text', (c) => c.notNull())
        .addColumn('laterality', 'text', (c) => c.notNull())
        .addColumn('apr_category', 'text', (c) => c.notNull())
        .addColumn('icon', 'text', (c) => c.notNull())
        .addColumn('work_station_id', 'integer', (c) => c.notNull())
        .addColumn('modality', 'text', (c) => c.notNull())
        .addColumn('config_object', 'text', (c) => c.notNull())
        .addUniqueConstraint('protocol_views_key', ['product', 'view_id'])
        .execute();
      await db.schema.createIndex('protocol_views_part').on('protocol_views').columns(['product', 'patient_type', 'body_part_id']).execute();
      await db.schema.createTable('protocol_procedure_views')
        .addColumn('product', 'text', (c) => c.notNull())
        .addColumn('procedure_id', 'text', (c) => c.notNull())
        .addColumn('view_id', 'text', (c) => c.notNull())
        .addColumn('sort', 'integer', (c) => c.notNull())
        .addPrimaryKeyConstraint('protocol_procedure_views_pk', ['product', 'procedure_id', 'view_id'])
        .execute();
      await db.schema.createTable('protocol_apr_exposures')
        .addColumn('product', 'text', (c) => c.notNull())
        .addColumn('apr_id', 'text', (c) => c.notNull())
        .addColumn('work_station_id', 'integer', (c) => c.notNull())
        .addColumn('patient_size', 'text', (c) => c.notNull())
        .addColumn('config_object', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text')
        .addColumn('updated_by', 'integer')
        .addPrimaryKeyConstraint('protocol_apr_exposures_pk', ['product', 'apr_id', 'work_station_id', 'patient_size'])
        .execute();
      await db.schema.createTable('protocol_apr_devices')
        .addColumn('product', 'text', (c) => c.notNull())
        .addColumn('apr_id', 'text', (c) => c.notNull())
        .addColumn('work_station_id', 'integer', (c) => c.notNull())
        .addColumn('config_object', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('protocol_apr_devices_pk', ['product', 'apr_id', 'work_station_id'])
        .execute();

      await addIdColumn(db.schema.createTable('patients'), dialect)
        .addColumn('patient_id', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('english_name', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('former_name', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('sex', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('birth_date', 'text')
        .addColumn('patient_type', 'text', (c) => c.notNull())
        .addColumn('sex_neutered', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('owner_name', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('chip_number', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('variety', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('product', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addUniqueConstraint('patients_patient_id', ['patient_id'])
        .execute();

      await addIdColumn(db.schema.createTable('studies'), dialect)
        .addColumn('study_id', 'text', (c) => c.notNull().unique())
        .addColumn('study_instance_uid', 'text', (c) => c.notNull().unique())
        .addColumn('patient_pk', 'integer', (c) => c.notNull().references('patients.id'))
        .addColumn('product', 'text', (c) => c.notNull())
        .addColumn('accession_number', 'text', (c) => c.notNull())
        .addColumn('patient_id', 'text', (c) => c.notNull())
        .addColumn('patient_name', 'text', (c) => c.notNull())
        .addColumn('study_status', 'text', (c) => c.notNull())
        .addColumn('study_lock', 'text', (c) => c.notNull())
        .addColumn('study_type', 'text', (c) => c.notNull())
        .addColumn('study_start_datetime', 'text', (c) => c.notNull())
        .addColumn('study_end_datetime', 'text')
        .addColumn('create_time', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        /** Set when moved to the recycle bin; null for live studies. */
        .addColumn('deleted_at', 'text')
        .addColumn('deleted_by', 'integer')
        /** Every other field of the DR Study message, as JSON (demographic snapshot, vet fields, flags). */
        .addColumn('details', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('studies_live_start').on('studies').columns(['deleted_at', 'study_start_datetime']).execute();
      await db.schema.createIndex('studies_patient').on('studies').column('patient_pk').execute();
      await db.schema.createIndex('studies_accession').on('studies').column('accession_number').execute();

      await addIdColumn(db.schema.createTable('series'), dialect)
        .addColumn('series_instance_uid', 'text', (c) => c.notNull().unique())
        .addColumn('study_pk', 'integer', (c) => c.notNull().references('studies.id').onDelete('cascade'))
        .addColumn('procedure_id', 'text', (c) => c.notNull())
        .addColumn('body_part', 'text', (c) => c.notNull())
        .addColumn('performed_datetime', 'text')
        .addColumn('protocol_code_meaning', 'text', (c) => c.notNull())
        .addColumn('sort', 'integer', (c) => c.notNull())
        .addColumn('product', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('series_study').on('series').column('study_pk').execute();

      await addIdColumn(db.schema.createTable('images'), dialect)
        .addColumn('sop_instance_uid', 'text', (c) => c.notNull().unique())
        .addColumn('series_pk', 'integer', (c) => c.notNull().references('series.id').onDelete('cascade'))
        .addColumn('study_pk', 'integer', (c) => c.notNull().references('studies.id').onDelete('cascade'))
        .addColumn('view_id', 'text', (c) => c.notNull())
        .addColumn('view_description', 'text', (c) => c.notNull())
        .addColumn('secondary_sop_uid', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('image_file_path', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('acquisition_mode', 'text', (c) => c.notNull())
        .addColumn('expose_status', 'text', (c) => c.notNull())
        .addColumn('judged_status', 'text', (c) => c.notNull())
        .addColumn('send_status', 'text', (c) => c.notNull())
        .addColumn('export_status', 'text', (c) => c.notNull())
        .addColumn('storage_status', 'text', (c) => c.notNull())
        .addColumn('acquisition_context', 'text')
        .addColumn('img_proc_context', 'text')
        .addColumn('sort', 'integer', (c) => c.notNull())
        .addColumn('product', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('images_study').on('images').columns(['study_pk', 'sort']).execute();
      await db.schema.createIndex('images_series').on('images').column('series_pk').execute();
    },
  };
}
