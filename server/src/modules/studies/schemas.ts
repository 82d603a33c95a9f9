import { validationError } from '../../util/errors.js';
import { DicomString, FreeText, literalUnion, PastDateTime, PersonName, SingleLine } from '../../util/schema.js';
import { Type, type Static } from 'typebox';
import { PATIENT_SIZES } from '../protocols/library/techniques.js';

const Lo = (max = 64) => DicomString({ maxLength: max });
const Pn = (max = 64) => PersonName({ maxLength: max });
/** Booleans arrive as JSON booleans or, from older clients, as "true"/"false" strings (the spec types them as string). */
const Flag = Type.Union([Type.Boolean(), Type.Literal('true'), Type.Literal('false')]);
const Int = (max: number) => Type.Integer({ minimum: 0, maximum: max });

export const ViewRef = Type.Object({
  view_id: Type.String({ minLength: 1, maxLength: 128 }),
  procedure_id: Type.Optional(Type.String({ maxLength: 64 })),
});
export type ViewRefType = Static<typeof ViewRef>;

const PatientFields = {
  accession_number: DicomString({ minLength: 1, maxLength: 16 }),
  patient_id: DicomString({ minLength: 1, maxLength: 64 }),
  patient_name: PersonName({ minLength: 1, maxLength: 64 }),
  patient_english_name: Type.Optional(Pn()),
  patient_former_name: Type.Optional(Pn()),
  patient_size: literalUnion(PATIENT_SIZES),
  /** DICOM Age String: 1–3 digits and D/W/M/Y (`5Y`, `000Y`). */
  patient_age: Type.String({ pattern: '^\\d{1,3}[DWMY]$' }),
  patient_dob: PastDateTime(),
  owner_name: Type.Optional(Pn()),
  chip_number: Type.Optional(Lo()),
  variety: Type.Optional(Lo()),
  is_anaesthesia: Type.Optional(Flag),
  is_sedation: Type.Optional(Flag),
  ref_physician: Type.Optional(Pn()),
  operator_id: Type.Optional(Lo()),
  weight: Type.Optional(Int(2000)),
  thickness: Type.Optional(Int(100)),
  length: Type.Optional(Int(300)),
  comment: Type.Optional(FreeText({ maxLength: 1024 })),
};

const Sex = literalUnion(['M', 'F', 'O', 'U', '']);
const Neutered = literalUnion(['ALTERED', 'UNALTERED', '']);
const Pregnancy = literalUnion(['0001', '0002', '0003', '0004', '']);

export const CreateStudyBody = Type.Object({
  ...PatientFields,
  patient_sex: Type.Optional(Sex),
  sex_neutered: Type.Optional(Neutered),
  pregnancy_status: Type.Optional(Pregnancy),
  patient_type: DicomString({ minLength: 1, maxLength: 32 }),
  modality: Type.Literal('DX'),
  study_type: Type.Union([Type.Literal('Normal'), Type.Literal('Emergency')]),
  views: Type.Array(ViewRef, { minItems: 1, maxItems: 100 }),
});
export type CreateStudy = Static<typeof CreateStudyBody>;

export const UpdateStudyBody = Type.Object({
  ...PatientFields,
  patient_sex: Sex,
  sex_neutered: Type.Optional(Neutered),
  pregnancy_status: Type.Optional(Pregnancy),
});
export type UpdateStudy = Static<typeof UpdateStudyBody>;

export const StudyIdParams = Type.Object({ id: Type.String({ pattern: '^\\d{15,17}$' }) });
export const StudyIdList = Type.Array(Type.String({ pattern: '^\\d{15,17}$' }), { minItems: 1, maxItems: 1000 });

const Rfc3339 = Type.String({ maxLength: 40 });
const Term = SingleLine({ maxLength: 64 });
export const StudyListQuery = Type.Object({
  id: Type.Optional(Term),
  name: Type.Optional(Term),
  acc_no: Type.Optional(Term),
  start_time: Type.Optional(Rfc3339),
  end_time: Type.Optional(Rfc3339),
  status: Type.Optional(Type.String({ maxLength: 64 })),
  page: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000 })),
  page_size: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000 })),
});
export type StudyListQueryType = Static<typeof StudyListQuery>;

const Uid = Type.String({ minLength: 1, maxLength: 64, pattern: '^[0-9.]+$' });
export const InstanceRef = Type.Object({
  instance_uid: Type.Optional(Uid),
  sop_instance_uid: Type.Optional(Uid),
  sop_instance_id: Type.Optional(Uid),
});

/** `instance_uid` as documented, `sop_instance_uid`/`sop_instance_id` as some samples send it (spec reading 7, docs/architecture.md). */
export function instanceUidOf(body: { instance_uid?: string; sop_instance_uid?: string; sop_instance_id?: string }): string {
  const uid = body.instance_uid ?? body.sop_instance_uid ?? body.sop_instance_id;
  if (!uid) throw validationError('instance_uid', 'required');
  return uid;
}
export const AddImagesBody = Type.Object({
  study_id: Type.String({ pattern: '^\\d{15,17}$' }),
  views: Type.Array(ViewRef, { minItems: 1, maxItems: 100 }),
});
export const SortImagesBody = Type.Object({
  study_id: Type.String({ pattern: '^\\d{15,17}$' }),
  sop_instance_uids: Type.Array(Uid, { minItems: 1, maxItems: 1000 }),
});
export const UidParams = Type.Object({ id: Uid });
