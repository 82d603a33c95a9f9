import { sql, type Insertable, type Selectable, type Updateable } from 'kysely';
import type { Db, Executor } from '../../db/index.js';
import type { PatientsTable } from '../../db/schema.js';
import { likePattern } from '../../db/sql.js';

export type PatientRecord = Selectable<PatientsTable>;
export type PatientListRow = PatientRecord & { study_count: number; last_study_at: string | null };

export const PATIENT_SORTS = ['created_at', 'updated_at', 'name', 'patient_no', 'birth_date', 'age', 'id'] as const;
export type PatientSort = (typeof PATIENT_SORTS)[number];

export interface PatientListFilter {
  /** Substring of name or patient number. */
  text?: string;
  /** Blind indexes the search term would have as a phone or ID card number (exact match). */
  phoneHash?: string;
  idCardHash?: string;
  sex?: string;
  /** Stored birth date bounds (`birth_date < bornBefore`, `birth_date >= bornFrom`). */
  bornBefore?: string;
  bornFrom?: string;
  createdFrom?: string;
  createdBefore?: string;
  sort: PatientSort;
  order: 'asc' | 'desc';
  limit: number;
  offset: number;
}

export interface PatientStudyFilter {
  from?: string;
  before?: string;
  limit: number;
  offset: number;
}

export interface PatientStudyRow {
  id: number;
  study_id: string;
  study_instance_uid: string;
  accession_number: string;
  study_status: string;
  study_start_datetime: string;
  details: string;
}

/**
 * SQL of the diagnosis face's patient records. Studies are read here with queries of our own (the
 * studies module owns their writes); the only study columns written are the patient link and
 * the patient's identity copied into the index (merge, rename).
 */
export class PatientsRepository {
  constructor(private readonly sql: Db) {}

  private get kysely() {
    return this.sql.kysely;
  }

  transaction<T>(work: (trx: Executor) => Promise<T>): Promise<T> {
    return this.kysely.transaction().execute(work);
  }

  /** The next number of the period's sequence; the counter row is locked until the transaction ends. */
  async nextSequence(period: string, trx: Executor): Promise<number> {
    const row = await trx
      .insertInto('patient_no_counters')
      .values({ period, n: 1 })
      .onConflict((oc) => oc.column('period').doUpdateSet((eb) => ({ n: eb('patient_no_counters.n', '+', 1) })))
      .returning('n')
      .executeTakeFirstOrThrow();
    return row.n;
  }

  async patientIdTaken(patientId: string, trx: Executor): Promise<boolean> {
    return (await trx.selectFrom('patients').select('id').where('patient_id', '=', patientId).executeTakeFirst()) !== undefined;
  }

  async insert(values: Insertable<PatientsTable>, trx: Executor): Promise<number> {
    return (await trx.insertInto('patients').values(values).returning('id').executeTakeFirstOrThrow()).id;
  }

  async update(id: number, values: Updateable<PatientsTable>, trx: Executor): Promise<void> {
    await trx.updateTable('patients').set(values).where('id', '=', id).execute();
  }

  /** A live (not deleted, not merged away) patient. */
  live(id: number, db: Executor = this.kysely): Promise<PatientRecord | undefined> {
    return db.selectFrom('patients').selectAll().where('id', '=', id).where('deleted_at', 'is', null).executeTakeFirst();
  }

  /**
   * A live patient, its row locked until the transaction ends (PostgreSQL; SQLite has one writer):
   * a delete or merge decides on the studies it sees while a console registration for the same
   * patient waits.
   */
  lockLive(id: number, trx: Executor): Promise<PatientRecord | undefined> {
    const query = trx.selectFrom('patients').selectAll().where('id', '=', id).where('deleted_at', 'is', null);
    return (this.sql.dialect === 'postgres' ? query.forUpdate() : query).executeTakeFirst();
  }

  /** The live patient holding this ID card blind index, other than `exceptId`. */
  async idCardHolder(hash: string, exceptId: number | undefined, db: Executor = this.kysely): Promise<number | undefined> {
    let query = db.selectFrom('patients').select('id').where('id_card_hash', '=', hash).where('deleted_at', 'is', null);
    if (exceptId !== undefined) query = query.where('id', '!=', exceptId);
    return (await query.executeTakeFirst())?.id;
  }

  /** Records merged into this one (the history a merge keeps). */
  mergedInto(id: number): Promise<{ id: number; deleted_patient_no: string | null; name: string; deleted_at: string | null }[]> {
    return this.kysely
      .selectFrom('patients')
      .select(['id', 'deleted_patient_no', 'name', 'deleted_at'])
      .where('merged_into', '=', id)
      .orderBy('id')
      .execute();
  }

  async list(filter: PatientListFilter): Promise<{ rows: PatientListRow[]; total: number }> {
    let query = this.kysely.selectFrom('patients').where('patients.deleted_at', 'is', null);
    const { text, phoneHash, idCardHash } = filter;
    if (text !== undefined || phoneHash !== undefined || idCardHash !== undefined) {
      query = query.where((eb) => {
        const any = [];
        if (text !== undefined) {
          const pattern = likePattern(text);
          any.push(this.sql.ilike(eb.ref('patients.name'), pattern), this.sql.ilike(eb.ref('patients.patient_id'), pattern));
        }
        if (phoneHash !== undefined) any.push(eb('patients.phone_hash', '=', phoneHash));
        if (idCardHash !== undefined) any.push(eb('patients.id_card_hash', '=', idCardHash));
        return eb.or(any);
      });
    }
    if (filter.sex !== undefined) query = query.where('patients.sex', '=', filter.sex);
    if (filter.bornBefore !== undefined) query = query.where('patients.birth_date', '<', filter.bornBefore);
    if (filter.bornFrom !== undefined) query = query.where('patients.birth_date', '>=', filter.bornFrom);
    if (filter.createdFrom !== undefined) query = query.where('patients.created_at', '>=', filter.createdFrom);
    if (filter.createdBefore !== undefined) query = query.where('patients.created_at', '<', filter.createdBefore);
    const total = (await query.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n;
    const column = {
      created_at: 'patients.created_at',
      updated_at: 'patients.updated_at',
      name: 'patients.name',
      patient_no: 'patients.patient_id',
      birth_date: 'patients.birth_date',
      age: 'patients.birth_date',
      id: 'patients.id',
    } as const;
    // Older is larger age: age ascending is birth date descending. Unknown birth dates go last either way.
    const direction = filter.sort === 'age' ? (filter.order === 'asc' ? 'desc' : 'asc') : filter.order;
    let ordered = query.selectAll('patients').select((eb) => [
      eb
        .selectFrom('studies')
        .select((sub) => sub.fn.countAll<number>().as('n'))
        .whereRef('studies.patient_pk', '=', 'patients.id')
        .where('studies.deleted_at', 'is', null)
        .as('study_count'),
      eb
        .selectFrom('studies')
        .select((sub) => sub.fn.max('studies.study_start_datetime').as('last'))
        .whereRef('studies.patient_pk', '=', 'patients.id')
        .where('studies.deleted_at', 'is', null)
        .as('last_study_at'),
    ]);
    if (filter.sort === 'age' || filter.sort === 'birth_date') ordered = ordered.orderBy(sql`(patients.birth_date is null)`);
    const rows = await ordered
      .orderBy(column[filter.sort], direction)
      .orderBy('patients.id', direction)
      .limit(filter.limit)
      .offset(filter.offset)
      .execute();
    return {
      rows: rows.map((r) => ({ ...r, study_count: r.study_count ?? 0, last_study_at: r.last_study_at ?? null })),
      total,
    };
  }

  /** Live studies of a patient (the recycle bin's are not the patient's history any more), newest first. */
  async studies(patientPk: number, filter: PatientStudyFilter): Promise<{ rows: PatientStudyRow[]; total: number }> {
    let query = this.kysely.selectFrom('studies').where('patient_pk', '=', patientPk).where('deleted_at', 'is', null);
    if (filter.from !== undefined) query = query.where('study_start_datetime', '>=', filter.from);
    if (filter.before !== undefined) query = query.where('study_start_datetime', '<', filter.before);
    const total = (await query.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n;
    const rows = await query
      .select(['id', 'study_id', 'study_instance_uid', 'accession_number', 'study_status', 'study_start_datetime', 'details'])
      .orderBy('study_start_datetime', 'desc')
      .orderBy('id', 'desc')
      .limit(filter.limit)
      .offset(filter.offset)
      .execute();
    return { rows, total };
  }

  /** The first series (by its order) of each study: where its body part and procedure name come from. */
  async firstSeries(studyPks: number[]): Promise<Map<number, { body_part: string; protocol_code_meaning: string }>> {
    const result = new Map<number, { body_part: string; protocol_code_meaning: string }>();
    if (studyPks.length === 0) return result;
    const rows = await this.kysely
      .selectFrom('series')
      .select(['study_pk', 'body_part', 'protocol_code_meaning'])
      .where('study_pk', 'in', studyPks)
      .orderBy('study_pk')
      .orderBy('sort')
      .orderBy('id')
      .execute();
    for (const row of rows) if (!result.has(row.study_pk)) result.set(row.study_pk, row);
    return result;
  }

  /** Live studies (not in the recycle bin) of a patient, for the refusal of a delete. */
  liveStudies(patientPk: number, trx: Executor): Promise<{ study_id: string; study_instance_uid: string }[]> {
    return trx
      .selectFrom('studies')
      .select(['study_id', 'study_instance_uid'])
      .where('patient_pk', '=', patientPk)
      .where('deleted_at', 'is', null)
      .orderBy('id')
      .execute();
  }

  /** Moves every study (binned ones too) to another patient, with that patient's identity in the index. */
  async moveStudies(fromPk: number, to: { id: number; patient_id: string; name: string }, trx: Executor): Promise<number> {
    const result = await trx
      .updateTable('studies')
      .set({ patient_pk: to.id, patient_id: to.patient_id, patient_name: to.name })
      .where('patient_pk', '=', fromPk)
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  /** Copies a renamed patient's name into the index of its studies (the worklist searches it there). */
  async renameInStudies(patientPk: number, name: string, trx: Executor): Promise<void> {
    await trx
      .updateTable('studies')
      .set({ patient_name: name })
      .where('patient_pk', '=', patientPk)
      .where('patient_name', '!=', name)
      .execute();
  }
}
