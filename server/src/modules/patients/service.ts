import type { Executor } from '../../db/index.js';
import type { AuthUser } from '../auth/auth-user.js';
import { AppError, type FieldError } from '../../util/errors.js';
import { maskIdCard, maskPhone } from '../../util/mask.js';
import type { Page } from '../../util/page.js';
import { nowIso } from '../../util/time.js';
import type { PatientFieldCrypto, SealedField } from './field-crypto.js';
import {
  ageOn,
  birthBounds,
  genderOf,
  idCardFacts,
  idCardProblem,
  isRealDate,
  maskAddress,
  normaliseIdCard,
  normalisePhone,
  sexOf,
  storedBirthDate,
  type Gender,
} from './identity.js';
import { dateOf, studyItem } from './views.js';
import type { PatientListRow, PatientRecord, PatientSort, PatientsRepository, PatientStudyRow } from './repository.js';

export interface PatientInput {
  name?: string;
  gender?: Gender | null;
  birth_date?: string | null;
  phone?: string | null;
  id_card?: string | null;
  address?: string | null;
  emergency_contact?: string | null;
  emergency_phone?: string | null;
  blood_type?: string | null;
  height?: number | null;
  weight?: number | null;
  allergies?: string[];
  medical_history?: Record<string, unknown>;
  insurance_type?: string | null;
  insurance_no?: string | null;
}

export interface PatientQuery {
  search?: string;
  gender?: Gender;
  ageMin?: number;
  ageMax?: number;
  createdStart?: string;
  createdEnd?: string;
  sort: PatientSort;
  order: 'asc' | 'desc';
}

/** Bytes of `medical_history` as JSON at most (the schema bounds its keys and values too). */
const MAX_HISTORY_BYTES = 8192;
/** Studies named in a refused delete at most (the count says how many more). */
const MAX_LISTED_STUDIES = 50;

/** Who the patient is, as both the list and the detail show it. */
function identity(row: Pick<PatientRecord, 'id' | 'patient_id' | 'name' | 'sex' | 'birth_date'>) {
  return {
    id: row.id,
    patient_no: row.patient_id,
    name: row.name,
    gender: genderOf(row.sex),
    age: ageOn(row.birth_date),
    birth_date: dateOf(row.birth_date),
  };
}

/** Marks the Patient ID a deleted record gives up; a backslash cannot occur in one (it separates DICOM values). */
const RELEASED_ID = (pk: number) => `\\deleted\\${pk}`;

function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: string } | undefined)?.code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE';
}

export class PatientsService {
  constructor(
    private readonly repo: PatientsRepository,
    private readonly crypto: PatientFieldCrypto,
  ) {}

  private opened(row: PatientRecord, field: SealedField): string | null {
    const stored = row[`${field}_enc`];
    return stored === null ? null : this.crypto.open(field, row.id, stored);
  }

  private listItem(row: PatientListRow) {
    return {
      ...identity(row),
      phone: maskPhone(this.opened(row, 'phone')),
      id_card: maskIdCard(this.opened(row, 'id_card')),
      address: maskAddress(this.opened(row, 'address')),
      created_at: row.created_at,
      updated_at: row.updated_at,
      study_count: row.study_count,
      last_study_date: dateOf(row.last_study_at),
      patient_type: row.patient_type,
    };
  }

  /** The record; personal numbers in full only with `patient:pii`. */
  private record(row: PatientRecord, pii: boolean) {
    const phone = this.opened(row, 'phone');
    const idCard = this.opened(row, 'id_card');
    const address = this.opened(row, 'address');
    const emergencyPhone = this.opened(row, 'emergency_phone');
    return {
      ...identity(row),
      phone: pii ? phone : maskPhone(phone),
      id_card: pii ? idCard : maskIdCard(idCard),
      address: pii ? address : maskAddress(address),
      emergency_contact: row.emergency_contact,
      emergency_phone: pii ? emergencyPhone : maskPhone(emergencyPhone),
      blood_type: row.blood_type,
      height: row.height,
      weight: row.weight,
      allergies: JSON.parse(row.allergies) as string[],
      medical_history: JSON.parse(row.medical_history) as Record<string, unknown>,
      insurance_type: row.insurance_type,
      insurance_no: row.insurance_no,
      patient_type: row.patient_type,
      created_at: row.created_at,
      updated_at: row.updated_at,
    };
  }

  private async studyItems(rows: PatientStudyRow[]) {
    const series = await this.repo.firstSeries(rows.map((r) => r.id));
    return rows.map((r) => studyItem(r, series.get(r.id)));
  }

  async list(query: PatientQuery, page: Page) {
    const search = query.search?.trim();
    const digits = search ? normalisePhone(search) : '';
    const idCard = search ? normaliseIdCard(search) : '';
    const { before, from } = birthBounds(query.ageMin, query.ageMax);
    const { rows, total } = await this.repo.list({
      text: search ? search : undefined,
      phoneHash: /^\+?\d{5,20}$/.test(digits) ? this.crypto.blindIndex('phone', digits) : undefined,
      idCardHash: /^\d{17}[\dX]$/.test(idCard) ? this.crypto.blindIndex('id_card', idCard) : undefined,
      sex: query.gender ? sexOf(query.gender) : undefined,
      bornBefore: before,
      bornFrom: from,
      createdFrom: query.createdStart,
      createdBefore: query.createdEnd,
      sort: query.sort,
      order: query.order,
      limit: page.limit,
      offset: page.offset,
    });
    return { items: rows.map((r) => this.listItem(r)), total };
  }

  private async requireLive(id: number, db?: Executor, lock = false): Promise<PatientRecord> {
    const row = lock && db ? await this.repo.lockLive(id, db) : await this.repo.live(id, db);
    if (!row) throw new AppError('PATIENT_NOT_FOUND', [], String(id));
    return row;
  }

  async detail(id: number, viewer: AuthUser) {
    const row = await this.requireLive(id);
    const pii = viewer.permissions.has('patient:pii');
    const merged = await this.repo.mergedInto(id);
    const body = {
      ...this.record(row, pii),
      merged_from: merged.map((m) => ({ id: m.id, patient_no: m.deleted_patient_no, name: m.name, merged_at: m.deleted_at })),
    };
    if (!viewer.permissions.has('study:read')) return { patient: body, pii };
    const studies = await this.repo.studies(id, { limit: 100, offset: 0 });
    return { patient: { ...body, studies: await this.studyItems(studies.rows) }, pii };
  }

  async studies(id: number, filter: { modality?: string; from?: string; before?: string }, page: Page) {
    await this.requireLive(id);
    if (filter.modality !== undefined && filter.modality.toUpperCase() !== 'DX') return { items: [], total: 0 };
    const { rows, total } = await this.repo.studies(id, {
      from: filter.from,
      before: filter.before,
      limit: page.limit,
      offset: page.offset,
    });
    return { items: await this.studyItems(rows), total };
  }

  /** Checks what the schema cannot and brings values to their stored form. */
  private normalised(input: PatientInput): PatientInput {
    const out: PatientInput = { ...input };
    const problems: FieldError[] = [];
    if (typeof input.id_card === 'string') {
      out.id_card = normaliseIdCard(input.id_card);
      const problem = idCardProblem(out.id_card);
      if (problem) problems.push({ field: 'id_card', message: problem });
    }
    if (typeof input.birth_date === 'string') {
      const today = new Date().toISOString().slice(0, 10);
      if (!isRealDate(input.birth_date) || input.birth_date < '1900-01-01' || input.birth_date > today)
        problems.push({ field: 'birth_date', message: 'must be a date (YYYY-MM-DD) from 1900-01-01 up to today' });
    }
    for (const field of ['phone', 'emergency_phone'] as const) {
      const value = input[field];
      if (typeof value === 'string' && !/^\+?\d{5,20}$/.test(normalisePhone(value)))
        problems.push({ field, message: 'must hold 5 to 20 digits' });
    }
    if (input.medical_history !== undefined && Buffer.byteLength(JSON.stringify(input.medical_history)) > MAX_HISTORY_BYTES)
      problems.push({ field: 'medical_history', message: `at most ${MAX_HISTORY_BYTES} bytes as JSON` });
    if (problems.length > 0) throw new AppError('VALIDATION', problems);
    return out;
  }

  /** Column values of the fields given (sealed ones need the row id: the caller seals them after the insert). */
  private plainColumns(input: PatientInput) {
    return {
      ...(input.name !== undefined ? { name: input.name } : {}),
      ...(input.gender !== undefined ? { sex: input.gender === null ? '' : sexOf(input.gender) } : {}),
      ...(input.birth_date !== undefined ? { birth_date: input.birth_date === null ? null : storedBirthDate(input.birth_date) } : {}),
      ...(input.emergency_contact !== undefined ? { emergency_contact: input.emergency_contact } : {}),
      ...(input.blood_type !== undefined ? { blood_type: input.blood_type } : {}),
      ...(input.height !== undefined ? { height: input.height } : {}),
      ...(input.weight !== undefined ? { weight: input.weight } : {}),
      ...(input.allergies !== undefined ? { allergies: JSON.stringify(input.allergies) } : {}),
      ...(input.medical_history !== undefined ? { medical_history: JSON.stringify(input.medical_history) } : {}),
      ...(input.insurance_type !== undefined ? { insurance_type: input.insurance_type } : {}),
      ...(input.insurance_no !== undefined ? { insurance_no: input.insurance_no } : {}),
      ...(input.phone !== undefined
        ? { phone_hash: input.phone === null ? null : this.crypto.blindIndex('phone', normalisePhone(input.phone)) }
        : {}),
      ...(input.id_card !== undefined
        ? { id_card_hash: input.id_card === null ? null : this.crypto.blindIndex('id_card', input.id_card) }
        : {}),
    };
  }

  private sealedColumns(id: number, input: PatientInput) {
    const seal = (field: SealedField, value: string | null | undefined) =>
      value === undefined ? {} : { [`${field}_enc`]: value === null ? null : this.crypto.seal(field, id, value) };
    return {
      ...seal('phone', input.phone),
      ...seal('id_card', input.id_card),
      ...seal('address', input.address),
      ...seal('emergency_phone', input.emergency_phone),
    };
  }

  private async assertIdCardFree(input: PatientInput, exceptId: number | undefined, trx: Executor): Promise<void> {
    if (typeof input.id_card !== 'string') return;
    const holder = await this.repo.idCardHolder(this.crypto.blindIndex('id_card', input.id_card), exceptId, trx);
    if (holder !== undefined)
      throw new AppError('PATIENT_ID_CARD_TAKEN', [{ field: 'id_card', message: `registered to patient ${holder}` }]);
  }

  /** Runs a write; a race lost on the one-live-record-per-ID-card index reads as the same refusal. */
  private async writing<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (isUniqueViolation(error))
        throw new AppError('PATIENT_ID_CARD_TAKEN', [{ field: 'id_card', message: 'registered to another patient' }]);
      throw error;
    }
  }

  /** `P` + yyyyMM + a sequence of at least three digits, skipping numbers the console already uses as Patient IDs. */
  private async newPatientNo(trx: Executor): Promise<string> {
    const period = nowIso().slice(0, 7).replace('-', '');
    for (;;) {
      const candidate = `P${period}${String(await this.repo.nextSequence(period, trx)).padStart(3, '0')}`;
      if (!(await this.repo.patientIdTaken(candidate, trx))) return candidate;
    }
  }

  /** `created(id)` runs inside the transaction, before it commits (the audit row then names the new record). */
  async create(raw: PatientInput & { name: string }, viewer: AuthUser, created: (id: number) => void) {
    const input = this.normalised(raw);
    // An ID card states birth date and sex; they fill what the form left out.
    if (typeof input.id_card === 'string') {
      const facts = idCardFacts(input.id_card);
      input.birth_date ??= facts.birthDate;
      input.gender ??= facts.gender;
    }
    const id = await this.writing(() =>
      this.repo.transaction(async (trx) => {
        await this.assertIdCardFree(input, undefined, trx);
        const now = nowIso();
        const pk = await this.repo.insert(
          {
            english_name: '',
            former_name: '',
            sex: '',
            birth_date: null,
            sex_neutered: '',
            owner_name: '',
            chip_number: '',
            variety: '',
            ...this.plainColumns(input),
            name: raw.name,
            patient_id: await this.newPatientNo(trx),
            patient_type: 'Human',
            product: 'DROS',
            created_by: viewer.id,
            created_at: now,
            updated_at: now,
          },
          trx,
        );
        const sealed = this.sealedColumns(pk, input);
        if (Object.keys(sealed).length > 0) await this.repo.update(pk, sealed, trx);
        created(pk);
        return pk;
      }),
    );
    return (await this.detail(id, viewer)).patient;
  }

  async update(id: number, raw: PatientInput, viewer: AuthUser) {
    const input = this.normalised(raw);
    await this.writing(() =>
      this.repo.transaction(async (trx) => {
        await this.requireLive(id, trx, true);
        await this.assertIdCardFree(input, id, trx);
        await this.repo.update(id, { ...this.plainColumns(input), ...this.sealedColumns(id, input), updated_at: nowIso() }, trx);
        if (input.name !== undefined) await this.repo.renameInStudies(id, input.name, trx);
      }),
    );
    return (await this.detail(id, viewer)).patient;
  }

  /** Soft delete, refused while studies outside the recycle bin name the patient. */
  async delete(id: number): Promise<{ patient_no: string }> {
    return this.repo.transaction(async (trx) => {
      const row = await this.requireLive(id, trx, true);
      const studies = await this.repo.liveStudies(id, trx);
      if (studies.length > 0) {
        const listed = studies
          .slice(0, MAX_LISTED_STUDIES)
          .map((s) => ({ field: 'studies', message: `${s.study_instance_uid} (${s.study_id})` }));
        throw new AppError('PATIENT_HAS_STUDIES', listed, `${studies.length} studies`);
      }
      await this.release(row, trx);
      return { patient_no: row.patient_id };
    });
  }

  /** Marks a record deleted and gives up its Patient ID, so the console can register that ID afresh. */
  private async release(row: PatientRecord, trx: Executor, mergedInto?: number): Promise<void> {
    const now = nowIso();
    await this.repo.update(
      row.id,
      {
        deleted_at: now,
        deleted_patient_no: row.patient_id,
        patient_id: RELEASED_ID(row.id),
        merged_into: mergedInto ?? null,
        updated_at: now,
      },
      trx,
    );
  }

  /**
   * Merges a duplicate registration into `id`: every study of `fromId` (binned ones too) moves
   * to `id`, taking its Patient ID and name in the index, and `fromId` is deleted, remembering
   * where it went. One transaction; the audit row commits with it.
   */
  async merge(id: number, fromId: number, viewer: AuthUser, merged: (detail: Record<string, unknown>) => void) {
    if (!viewer.permissions.has('patient:delete')) throw new AppError('FORBIDDEN', [], 'patient:delete');
    if (id === fromId) throw new AppError('PATIENT_MERGE_REFUSED', [{ field: 'from', message: 'a patient cannot be merged into itself' }]);
    await this.repo.transaction(async (trx) => {
      // Locked in id order, so two merges of the same pair cannot deadlock.
      const rows = new Map<number, PatientRecord | undefined>();
      for (const pk of [Math.min(id, fromId), Math.max(id, fromId)]) rows.set(pk, await this.repo.lockLive(pk, trx));
      const target = rows.get(id);
      if (!target) throw new AppError('PATIENT_NOT_FOUND', [], String(id));
      const source = rows.get(fromId);
      if (!source) throw new AppError('PATIENT_NOT_FOUND', [{ field: 'from', message: `no patient ${fromId}` }], String(fromId));
      if (source.patient_type !== target.patient_type)
        throw new AppError('PATIENT_MERGE_REFUSED', [
          { field: 'from', message: `a ${source.patient_type} patient cannot be merged into a ${target.patient_type} one` },
        ]);
      const moved = await this.repo.moveStudies(source.id, target, trx);
      await this.release(source, trx, target.id);
      await this.repo.update(target.id, { updated_at: nowIso() }, trx);
      merged({ from: source.id, from_patient_no: source.patient_id, into_patient_no: target.patient_id, moved_studies: moved });
    });
    return (await this.detail(id, viewer)).patient;
  }
}
