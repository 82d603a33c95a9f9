import { sql, type Kysely } from 'kysely';
import { addIdColumn } from '../columns.js';
import type { DialectName } from '../index.js';

/** Protocol library (per product), patients, studies, series and images. */
export function drCore(dialect: DialectName) {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      const common = <T extends string>(name: T) =>
        addIdColumn(db.schema.createTable(name), dialect)
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
      await db.schema
        .createIndex('protocol_procedures_part')
        .on('protocol_procedures')
        .columns(['product', 'patient_type', 'body_part_id'])
        .execute();
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
      await db.schema
        .createIndex('protocol_views_part')
        .on('protocol_views')
        .columns(['product', 'patient_type', 'body_part_id'])
        .execute();
      await db.schema
        .createTable('protocol_procedure_views')
        .addColumn('product', 'text', (c) => c.notNull())
        .addColumn('procedure_id', 'text', (c) => c.notNull())
        .addColumn('view_id', 'text', (c) => c.notNull())
        .addColumn('sort', 'integer', (c) => c.notNull())
        .addPrimaryKeyConstraint('protocol_procedure_views_pk', ['product', 'procedure_id', 'view_id'])
        .execute();
      await db.schema
        .createTable('protocol_apr_exposures')
        .addColumn('product', 'text', (c) => c.notNull())
        .addColumn('apr_id', 'text', (c) => c.notNull())
        .addColumn('work_station_id', 'integer', (c) => c.notNull())
        .addColumn('patient_size', 'text', (c) => c.notNull())
        .addColumn('config_object', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text')
        .addColumn('updated_by', 'integer')
        .addPrimaryKeyConstraint('protocol_apr_exposures_pk', ['product', 'apr_id', 'work_station_id', 'patient_size'])
        .execute();
      await db.schema
        .createTable('protocol_apr_devices')
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
        // ISO times compare as bytes; PostgreSQL's locale collation made sorting them ~10x slower.
        .addColumn('study_start_datetime', 'text', (c) => (dialect === 'postgres' ? c.notNull().modifyEnd(sql`collate "C"`) : c.notNull()))
        .addColumn('study_end_datetime', 'text')
        .addColumn('create_time', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        /** Set when moved to the recycle bin; null for live studies. */
        .addColumn('deleted_at', 'text')
        .addColumn('deleted_by', 'integer')
        /** Every other field of the DR Study message, as JSON (demographic snapshot, vet fields, flags). */
        .addColumn('details', 'text', (c) => c.notNull())
        .execute();
      // The worklist reads newest first; with id in the index the scan stops after one page.
      await db.schema
        .createIndex('studies_live_start')
        .on('studies')
        .columns(['study_start_datetime', 'id'])
        .where(sql.ref('deleted_at'), 'is', null)
        .execute();
      await db.schema
        .createIndex('studies_bin_start')
        .on('studies')
        .columns(['study_start_datetime', 'id'])
        .where(sql.ref('deleted_at'), 'is not', null)
        .execute();
      await fuzzySearchIndexes(db, dialect);
      await studyCounters(db, dialect);
      await nameGrams(db, dialect);
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

/**
 * Substring search on study id, patient id, patient name and accession number without a table
 * scan: trigram GIN indexes on PostgreSQL, an FTS5 trigram index kept by triggers on SQLite.
 * Both need terms of three or more characters; shorter terms fall back to a scan.
 */
async function fuzzySearchIndexes(db: Kysely<unknown>, dialect: DialectName): Promise<void> {
  if (dialect === 'postgres') {
    // The extension is per database; schemas migrating side by side must not both create it.
    await sql`select pg_advisory_xact_lock(7310002)`.execute(db);
    await sql`create extension if not exists pg_trgm schema public`.execute(db);
    for (const column of ['study_id', 'patient_id', 'patient_name', 'accession_number']) {
      await sql`create index ${sql.id(`studies_${column}_trgm`)} on studies using gin (${sql.id(column)} public.gin_trgm_ops)`.execute(db);
    }
    return;
  }
  await sql`create virtual table studies_search using fts5(study_id, patient_id, patient_name, accession_number,
    content='studies', content_rowid='id', tokenize='trigram')`.execute(db);
  await sql`create trigger studies_search_insert after insert on studies begin
    insert into studies_search(rowid, study_id, patient_id, patient_name, accession_number)
    values (new.id, new.study_id, new.patient_id, new.patient_name, new.accession_number); end`.execute(db);
  await sql`create trigger studies_search_delete after delete on studies begin
    insert into studies_search(studies_search, rowid, study_id, patient_id, patient_name, accession_number)
    values ('delete', old.id, old.study_id, old.patient_id, old.patient_name, old.accession_number); end`.execute(db);
  await sql`create trigger studies_search_update after update of study_id, patient_id, patient_name, accession_number on studies begin
    insert into studies_search(studies_search, rowid, study_id, patient_id, patient_name, accession_number)
    values ('delete', old.id, old.study_id, old.patient_id, old.patient_name, old.accession_number);
    insert into studies_search(rowid, study_id, patient_id, patient_name, accession_number)
    values (new.id, new.study_id, new.patient_id, new.patient_name, new.accession_number); end`.execute(db);
}

/**
 * Study counts per (recycle bin, status), kept by triggers in the same transaction as the
 * change: an unfiltered worklist needs its total, and counting a million rows took 76 ms
 * (PostgreSQL) to 325 ms (SQLite) where this takes one indexed read.
 */
async function studyCounters(db: Kysely<unknown>, dialect: DialectName): Promise<void> {
  await db.schema
    .createTable('study_counts')
    .addColumn('in_bin', 'integer', (c) => c.notNull())
    .addColumn('study_status', 'text', (c) => c.notNull())
    .addColumn('n', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('study_counts_pk', ['in_bin', 'study_status'])
    .execute();
  if (dialect === 'postgres') {
    await sql`create function study_counts_track() returns trigger language plpgsql as $$
      begin
        if tg_op in ('UPDATE', 'DELETE') then
          update study_counts set n = n - 1
            where in_bin = (case when old.deleted_at is null then 0 else 1 end) and study_status = old.study_status;
        end if;
        if tg_op in ('UPDATE', 'INSERT') then
          insert into study_counts values (case when new.deleted_at is null then 0 else 1 end, new.study_status, 1)
            on conflict (in_bin, study_status) do update set n = study_counts.n + 1;
        end if;
        return null;
      end $$`.execute(db);
    await sql`create trigger study_counts_track after insert or delete or update of deleted_at, study_status on studies
      for each row execute function study_counts_track()`.execute(db);
    return;
  }
  const add = (row: 'new') =>
    sql.raw(`insert into study_counts values (${row}.deleted_at is not null, ${row}.study_status, 1)
    on conflict (in_bin, study_status) do update set n = n + 1;`);
  const remove = sql.raw(
    `update study_counts set n = n - 1 where in_bin = (old.deleted_at is not null) and study_status = old.study_status;`,
  );
  await sql`create trigger study_counts_insert after insert on studies begin ${add('new')} end`.execute(db);
  await sql`create trigger study_counts_delete after delete on studies begin ${remove} end`.execute(db);
  await sql`create trigger study_counts_update after update of deleted_at, study_status on studies begin ${remove} ${add('new')} end`.execute(
    db,
  );
}

/**
 * One- and two-character substrings of patient names, kept by triggers, with the columns a
 * worklist filters and sorts on (bin flag, start time, status). Trigram indexes cannot serve the
 * shortest searches, and a two-character name ("张三") is the commonest search on a Chinese
 * worklist: at a million studies the scans took 370–800 ms, and joining each match to its wide
 * study row still 55–106 ms; from this index a page is read without touching other studies.
 */
async function nameGrams(db: Kysely<unknown>, dialect: DialectName): Promise<void> {
  await db.schema
    .createTable('study_name_grams')
    .addColumn('gram', 'text', (c) => c.notNull())
    .addColumn('study_pk', 'integer', (c) => c.notNull())
    .addColumn('in_bin', 'integer', (c) => c.notNull())
    .addColumn('study_start_datetime', 'text', (c) => (dialect === 'postgres' ? c.notNull().modifyEnd(sql`collate "C"`) : c.notNull()))
    .addColumn('study_status', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('study_name_grams_pk', ['gram', 'study_pk'])
    .execute();
  await db.schema
    .createIndex('study_name_grams_page')
    .on('study_name_grams')
    .columns(['gram', 'in_bin', 'study_start_datetime', 'study_pk', 'study_status'])
    .execute();
  await db.schema.createIndex('study_name_grams_study').on('study_name_grams').column('study_pk').execute();
  if (dialect === 'postgres') {
    await sql`create function study_name_grams_track() returns trigger language plpgsql as $$
      begin
        if tg_op in ('UPDATE', 'DELETE') then delete from study_name_grams where study_pk = old.id; end if;
        if tg_op in ('UPDATE', 'INSERT') then
          insert into study_name_grams
            select distinct substr(lower(new.patient_name), k, len), new.id, case when new.deleted_at is null then 0 else 1 end,
              new.study_start_datetime, new.study_status
            from generate_series(1, char_length(new.patient_name)) as k, (values (1), (2)) as l(len)
            where k + len - 1 <= char_length(new.patient_name)
            on conflict do nothing;
        end if;
        return null;
      end $$`.execute(db);
    await sql`create trigger study_name_grams_track
      after insert or delete or update of patient_name, deleted_at, study_start_datetime, study_status on studies
      for each row execute function study_name_grams_track()`.execute(db);
    return;
  }
  // SQLite triggers cannot use CTEs; a fixed table of positions stands in for generate_series.
  await db.schema
    .createTable('gram_positions')
    .addColumn('k', 'integer', (c) => c.primaryKey())
    .execute();
  await sql`insert into gram_positions (k) values ${sql.join(Array.from({ length: 64 }, (_, i) => sql`(${i + 1})`))}`.execute(db);
  const add = sql.raw(`insert or ignore into study_name_grams
    select distinct substr(lower(new.patient_name), k, len), new.id, new.deleted_at is not null, new.study_start_datetime, new.study_status
    from gram_positions, (select 1 as len union all select 2)
    where k + len - 1 <= length(new.patient_name);`);
  const remove = sql.raw('delete from study_name_grams where study_pk = old.id;');
  await sql`create trigger study_name_grams_insert after insert on studies begin ${add} end`.execute(db);
  await sql`create trigger study_name_grams_delete after delete on studies begin ${remove} end`.execute(db);
  await sql`create trigger study_name_grams_update after update of patient_name, deleted_at, study_start_datetime, study_status on studies
    begin ${remove} ${add} end`.execute(db);
}
