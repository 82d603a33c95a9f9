import { sql, type Kysely } from 'kysely';
import type { DialectName } from '../index.js';

/**
 * The diagnosis face's patient record on the one `patients` table the DR console writes: the
 * DICOM Patient ID stays `patient_id` (the diagnosis face calls it `patient_no`), the DICOM sex
 * stays `sex` (M/F/O, shown as male/female/other). Phone, ID card, address and emergency phone
 * are stored only sealed (`*_enc`, AES-256-GCM); phone and ID card are found through keyed
 * blind indexes (`*_hash`, HMAC-SHA256), so a dump of the database reveals none of them.
 * A soft-deleted or merged-away record gives up its Patient ID (kept in `deleted_patient_no`):
 * the console or a modality sending that ID again then creates or finds a live patient.
 */
export function patientRecords(dialect: DialectName) {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      const columns: [string, 'text' | 'integer' | 'double precision'][] = [
        ['phone_enc', 'text'],
        ['phone_hash', 'text'],
        ['id_card_enc', 'text'],
        ['id_card_hash', 'text'],
        ['address_enc', 'text'],
        ['emergency_contact', 'text'],
        ['emergency_phone_enc', 'text'],
        ['blood_type', 'text'],
        ['height', 'double precision'],
        ['weight', 'double precision'],
        ['insurance_type', 'text'],
        ['insurance_no', 'text'],
        ['created_by', 'integer'],
        ['deleted_at', 'text'],
        ['deleted_patient_no', 'text'],
        ['merged_into', 'integer'],
      ];
      // SQLite takes one column per ALTER TABLE.
      for (const [name, type] of columns) await db.schema.alterTable('patients').addColumn(name, type).execute();
      await db.schema
        .alterTable('patients')
        .addColumn('allergies', 'text', (c) => c.notNull().defaultTo('[]'))
        .execute();
      await db.schema
        .alterTable('patients')
        .addColumn('medical_history', 'text', (c) => c.notNull().defaultTo('{}'))
        .execute();

      await db.schema.createIndex('patients_phone_hash').on('patients').column('phone_hash').execute();
      // One live record per ID card number: a second registration of the same person is refused (merge instead).
      await db.schema
        .createIndex('patients_id_card_live')
        .on('patients')
        .column('id_card_hash')
        .unique()
        .where(sql.ref('deleted_at'), 'is', null)
        .execute();
      await db.schema.createIndex('patients_created').on('patients').columns(['created_at', 'id']).execute();
      if (dialect === 'postgres') {
        // Substring search on names and numbers (three characters or more); the extension exists since 002.
        await sql`create index patients_name_trgm on patients using gin (name public.gin_trgm_ops)`.execute(db);
        await sql`create index patients_patient_id_trgm on patients using gin (patient_id public.gin_trgm_ops)`.execute(db);
      }

      // `P` + yyyyMM + sequence: one counter row per month, incremented in the creating transaction.
      await db.schema
        .createTable('patient_no_counters')
        .addColumn('period', 'text', (c) => c.primaryKey())
        .addColumn('n', 'integer', (c) => c.notNull())
        .execute();
    },
  };
}
