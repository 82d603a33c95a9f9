import { Type } from 'typebox';
import { DicomString, FreeText, literalUnion, PersonName, SingleLine, TEXT_FORMATS } from '../../util/schema.js';
import { PATIENT_SORTS } from './repository.js';

const nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);

export const GENDERS = ['male', 'female', 'other'] as const;
const Gender = literalUnion(GENDERS);
const Phone = Type.String({ minLength: 5, maxLength: 32, pattern: '^\\+?[0-9][0-9 ()-]*$' });
const DateOnly = Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$' });

/** The spec's patient body; every field bounded (lengths, counts, sizes). */
const PatientFields = {
  name: PersonName({ minLength: 1, maxLength: 64 }),
  gender: nullable(Gender),
  birth_date: nullable(DateOnly),
  phone: nullable(Phone),
  // Length and check digit are tested by the service, which can say which is wrong.
  id_card: nullable(Type.String({ minLength: 1, maxLength: 32 })),
  address: nullable(SingleLine({ minLength: 1, maxLength: 200 })),
  emergency_contact: nullable(PersonName({ minLength: 1, maxLength: 64 })),
  emergency_phone: nullable(Phone),
  blood_type: nullable(Type.String({ pattern: '^(A|B|AB|O)[+-]?$|^unknown$', maxLength: 8 })),
  height: nullable(Type.Number({ exclusiveMinimum: 0, maximum: 300 })),
  weight: nullable(Type.Number({ exclusiveMinimum: 0, maximum: 700 })),
  allergies: Type.Array(SingleLine({ minLength: 1, maxLength: 64 }), { maxItems: 50 }),
  // Condition → date or note. TypeBox drops a key schema's bounds, so they are stated as propertyNames.
  medical_history: Type.Record(Type.String(), Type.Union([FreeText({ maxLength: 500 }), Type.Number(), Type.Boolean(), Type.Null()]), {
    maxProperties: 50,
    propertyNames: { minLength: 1, maxLength: 64, format: TEXT_FORMATS.singleLine },
  }),
  insurance_type: nullable(SingleLine({ minLength: 1, maxLength: 64 })),
  insurance_no: nullable(DicomString({ minLength: 1, maxLength: 64 })),
};

const { name, ...optional } = PatientFields;

export const CreatePatientBody = Type.Object({
  name,
  ...Object.fromEntries(Object.entries(optional).map(([k, v]) => [k, Type.Optional(v)])),
} as { name: typeof name } & { [K in keyof typeof optional]: ReturnType<typeof Type.Optional<(typeof optional)[K]>> });

export const UpdatePatientBody = Type.Partial(Type.Object(PatientFields), { minProperties: 1 });

export const PatientIdParams = Type.Object({ patient_id: Type.Integer({ minimum: 1, maximum: 2_147_483_647 }) });

export const MergeBody = Type.Object({ from: Type.Integer({ minimum: 1, maximum: 2_147_483_647 }) });

const Instant = SingleLine({ minLength: 10, maxLength: 40 });

export const PatientListFields = {
  search: Type.Optional(SingleLine({ maxLength: 100 })),
  gender: Type.Optional(Gender),
  age_min: Type.Optional(Type.Integer({ minimum: 0, maximum: 150 })),
  age_max: Type.Optional(Type.Integer({ minimum: 0, maximum: 150 })),
  created_start: Type.Optional(Instant),
  created_end: Type.Optional(Instant),
  sort: Type.Optional(literalUnion(PATIENT_SORTS)),
  filter: Type.Optional(SingleLine({ maxLength: 256 })),
};

export const PatientStudiesFields = {
  modality: Type.Optional(DicomString({ minLength: 1, maxLength: 16 })),
  date_start: Type.Optional(Instant),
  date_end: Type.Optional(Instant),
};
