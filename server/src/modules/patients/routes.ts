import { Type } from 'typebox';
import { requireUser } from '../../http/auth-hooks.js';
import { ok } from '../../http/envelope.js';
import { PageQuery, pageOf, paginated, parseFilter } from '../../http/pagination.js';
import { BEARER, diagnosisRoute, type App } from '../../http/routing.js';
import { AppError, type FieldError } from '../../util/errors.js';
import { toStoredInstant } from '../../util/time.js';
import type { Gender } from './identity.js';
import type { PatientReadAudit } from './read-audit.js';
import {
  CreatePatientBody,
  GENDERS,
  MergeBody,
  PatientIdParams,
  PatientListFields,
  PatientStudiesFields,
  UpdatePatientBody,
} from './schemas.js';
import type { PatientInput, PatientsService } from './service.js';

const TAGS = ['patients'];
const PatientListQuery = Type.Object({ ...PageQuery, ...PatientListFields });
const PatientStudiesQuery = Type.Object({ ...PageQuery, ...PatientStudiesFields });
const FILTER_KEYS = ['gender', 'age_min', 'age_max', 'created_start', 'created_end'] as const;

/** A time bound from a query: a bare date ends at the close of its day; an instant is inclusive. */
function bound(field: string, value: string | undefined, end: boolean, problems: FieldError[]): string | undefined {
  if (value === undefined) return undefined;
  const stored = toStoredInstant(value);
  if (!stored) {
    problems.push({ field, message: 'must be a date (YYYY-MM-DD) or an RFC 3339 time' });
    return undefined;
  }
  if (!end) return stored;
  const bare = /^\d{4}-\d{2}-\d{2}$/.test(value);
  return new Date(Date.parse(stored) + (bare ? 86_400_000 : 1)).toISOString();
}

/** What a search term was, for the audit log: names are kept, numbers that identify a person are not. */
function searchKind(search: string | undefined): string | undefined {
  if (search === undefined) return undefined;
  return /\d{5,}/.test(search) ? '[number withheld]' : search;
}

function ageOf(field: string, value: string | number | undefined, problems: FieldError[]): number | undefined {
  if (value === undefined) return undefined;
  const n = typeof value === 'number' ? value : /^\d{1,3}$/.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < 0 || n > 150) {
    problems.push({ field, message: 'must be a whole number of years from 0 to 150' });
    return undefined;
  }
  return n;
}

export function patientRoutes(app: App, patients: PatientsService, reads: PatientReadAudit): void {
  app.get(
    '/api/v1/patients',
    {
      schema: {
        tags: TAGS,
        summary: 'List patients (search, gender, age, created range, sort, filter, paging); phone, ID card and address masked',
        security: BEARER,
        querystring: PatientListQuery,
      },
      config: diagnosisRoute('patient:read'),
    },
    async (request, reply) => {
      const q = request.query;
      // The search convention's `filter=gender:male,age_min:18`; explicit parameters win.
      const { values: f, unknown } = parseFilter(q.filter, FILTER_KEYS);
      const problems: FieldError[] = unknown.length > 0 ? [{ field: 'filter', message: `unknown filter: ${unknown.join(', ')}` }] : [];
      const gender = q.gender ?? f.gender;
      if (gender !== undefined && !(GENDERS as readonly string[]).includes(gender))
        problems.push({ field: 'filter', message: `gender must be one of ${GENDERS.join(', ')}` });
      const ageMin = ageOf('age_min', q.age_min ?? f.age_min, problems);
      const ageMax = ageOf('age_max', q.age_max ?? f.age_max, problems);
      if (ageMin !== undefined && ageMax !== undefined && ageMin > ageMax)
        problems.push({ field: 'age_max', message: 'must not be below age_min' });
      const createdStart = bound('created_start', q.created_start ?? f.created_start, false, problems);
      const createdEnd = bound('created_end', q.created_end ?? f.created_end, true, problems);
      if (problems.length > 0) throw new AppError('VALIDATION', problems);
      const page = pageOf(q);
      const { items, total } = await patients.list(
        {
          search: q.search,
          gender: gender as Gender | undefined,
          ageMin,
          ageMax,
          createdStart,
          createdEnd,
          sort: q.sort ?? 'created_at',
          order: q.order ?? 'desc',
        },
        page,
      );
      // Recorded here rather than by the generic list audit, which would store the search term:
      // a phone or ID card number searched for must not reach the audit log in clear.
      await reads.record(request, 'patient.list', undefined, { query: { ...q, search: searchKind(q.search) }, total });
      return ok(request, reply, paginated(items, page, total));
    },
  );

  app.post(
    '/api/v1/patients',
    {
      schema: { tags: TAGS, summary: 'Register a patient (patient_no P+yyyyMM+sequence)', security: BEARER, body: CreatePatientBody },
      config: diagnosisRoute('patient:write', { audit: 'patient.create' }),
    },
    async (request, reply) => {
      const body = request.body as PatientInput & { name: string };
      request.auditInfo = { resourceType: 'patient', detail: { fields: Object.keys(body) } };
      const created = await patients.create(body, requireUser(request), (id) => {
        request.auditInfo = { resourceType: 'patient', resourceId: String(id), detail: { fields: Object.keys(body) } };
      });
      return ok(request, reply, created, 201);
    },
  );

  app.get(
    '/api/v1/patients/:patient_id',
    {
      schema: {
        tags: TAGS,
        summary: 'One patient with their studies; phone, ID card and address in full with patient:pii (each read audited)',
        security: BEARER,
        params: PatientIdParams,
      },
      config: diagnosisRoute('patient:read'),
    },
    async (request, reply) => {
      const { patient, pii } = await patients.detail(request.params.patient_id, requireUser(request));
      await reads.record(request, 'patient.view', patient.id, { patient_no: patient.patient_no, pii });
      return ok(request, reply, patient);
    },
  );

  app.put(
    '/api/v1/patients/:patient_id',
    {
      schema: {
        tags: TAGS,
        summary: 'Update a patient (fields given; null clears)',
        security: BEARER,
        params: PatientIdParams,
        body: UpdatePatientBody,
      },
      config: diagnosisRoute('patient:write', { audit: 'patient.update' }),
    },
    async (request, reply) => {
      const body = request.body as PatientInput;
      request.auditInfo = { resourceType: 'patient', resourceId: String(request.params.patient_id), detail: { fields: Object.keys(body) } };
      return ok(request, reply, await patients.update(request.params.patient_id, body, requireUser(request)));
    },
  );

  app.delete(
    '/api/v1/patients/:patient_id',
    {
      schema: {
        tags: TAGS,
        summary: 'Delete a patient (soft; refused with 409 while studies outside the recycle bin remain)',
        security: BEARER,
        params: PatientIdParams,
      },
      config: diagnosisRoute('patient:delete', { audit: 'patient.delete' }),
    },
    async (request, reply) => {
      const id = request.params.patient_id;
      request.auditInfo = { resourceType: 'patient', resourceId: String(id) };
      const { patient_no } = await patients.delete(id);
      return ok(request, reply, { id, patient_no, deleted: true });
    },
  );

  app.get(
    '/api/v1/patients/:patient_id/studies',
    {
      schema: {
        tags: TAGS,
        summary: "A patient's studies (modality, date range, paging), newest first",
        security: BEARER,
        params: PatientIdParams,
        querystring: PatientStudiesQuery,
      },
      config: diagnosisRoute('study:read'),
    },
    async (request, reply) => {
      const q = request.query;
      const problems: FieldError[] = [];
      const from = bound('date_start', q.date_start, false, problems);
      const before = bound('date_end', q.date_end, true, problems);
      if (problems.length > 0) throw new AppError('VALIDATION', problems);
      const page = pageOf(q);
      const { items, total } = await patients.studies(request.params.patient_id, { modality: q.modality, from, before }, page);
      await reads.record(request, 'patient.studies.list', request.params.patient_id, { query: q });
      return ok(request, reply, paginated(items, page, total));
    },
  );

  app.post(
    '/api/v1/patients/:patient_id/merge',
    {
      schema: {
        tags: TAGS,
        summary: 'Merge a duplicate record (`from`) into this patient: its studies move here, it is deleted (needs patient:delete too)',
        security: BEARER,
        params: PatientIdParams,
        body: MergeBody,
      },
      config: diagnosisRoute('patient:write', { audit: 'patient.merge' }),
    },
    async (request, reply) => {
      const id = request.params.patient_id;
      request.auditInfo = { resourceType: 'patient', resourceId: String(id), detail: { from: request.body.from } };
      const merged = await patients.merge(id, request.body.from, requireUser(request), (detail) => {
        request.auditInfo = { resourceType: 'patient', resourceId: String(id), detail };
      });
      return ok(request, reply, merged);
    },
  );
}
