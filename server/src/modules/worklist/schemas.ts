import { Type, type Static } from 'typebox';
import { literalUnion, TEXT_FORMATS } from '../../util/schema.js';
import { PATIENT_SIZES } from '../protocols/library/techniques.js';
import { AeTitle, DicomUid as Uid, Ipv4, Port } from '../pacs/schemas.js';
import { ViewRef } from '../studies/schemas.js';

export const EchoBody = Type.Object({
  verbose: Type.Optional(Type.Boolean()),
  debug: Type.Optional(Type.Boolean()),
  address: Ipv4,
  port: Port,
  aet: AeTitle,
  aec: AeTitle,
});
export type EchoInput = Static<typeof EchoBody>;

const Day = Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$' });
/** A matching key: a DICOM string without the C-FIND wildcards. */
const Key = (max: number) => Type.String({ maxLength: max, pattern: '^[^*?\\\\]*$', format: TEXT_FORMATS.dicomString });

export const WorklistQueryBody = Type.Object(
  {
    patient_id: Type.Optional(Key(64)),
    patient_name: Type.Optional(Key(64)),
    accession_number: Type.Optional(Key(16)),
    study_instance_uid: Type.Optional(Uid),
    date_from: Type.Optional(Day),
    date_to: Type.Optional(Day),
    modality: Type.Optional(Type.String({ pattern: '^[A-Z]{0,16}$' })),
  },
  { additionalProperties: false },
);

export const WorklistImportBody = Type.Object({
  study_instance_uid: Uid,
  views: Type.Array(ViewRef, { minItems: 1, maxItems: 100 }),
  patient_type: Type.String({ minLength: 1, maxLength: 32 }),
  patient_size: literalUnion(PATIENT_SIZES),
});
