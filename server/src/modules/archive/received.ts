import type { Insertable } from 'kysely';
import type { PatientsTable, SeriesTable, StudiesTable } from '../../db/schema.js';
import type { ParsedDicom } from '../../dicom/reader.js';
import type { StudyDetails } from '../studies/dto.js';
import type { ImageFields } from './rows.js';

/** The attributes a received object is indexed by. */
const TAG = {
  patientName: 'x00100010', patientId: 'x00100020', birthDate: 'x00100030', sex: 'x00100040', age: 'x00101010', weight: 'x00101030',
  species: 'x00102201', neutered: 'x00102203', breed: 'x00102292', owner: 'x00102297',
  studyDate: 'x00080020', studyTime: 'x00080030', seriesDate: 'x00080021', seriesTime: 'x00080031', accession: 'x00080050',
  referring: 'x00080090', studyDescription: 'x00081030', operator: 'x00081070', seriesDescription: 'x0008103e',
  bodyPart: 'x00180015', protocolName: 'x00185101', seriesNumber: 'x00200011', instanceNumber: 'x00200013',
} as const;

const str = (p: ParsedDicom, tag: string) => (p.dataSet.string(tag) ?? '').trim();

function dicomDateTime(date: string, time: string): string | undefined {
  const d = /^(\d{4})(\d{2})(\d{2})$/.exec(date);
  if (!d) return undefined;
  const t = /^(\d{2})(\d{2})?(\d{2})?/.exec(time) ?? [];
  const iso = `${d[1]}-${d[2]}-${d[3]}T${t[1] ?? '00'}:${t[2] ?? '00'}:${t[3] ?? '00'}Z`;
  return Number.isNaN(Date.parse(iso)) ? undefined : new Date(iso).toISOString();
}

/** A species (0010,2201) makes the study veterinary. */
export function receivedProduct(p: ParsedDicom, defaultProduct: string): string {
  return str(p, TAG.species) ? 'VETDROS' : defaultProduct;
}

/** Objects without a Patient ID are filed under one made from their study. */
export function receivedPatientId(p: ParsedDicom): string {
  return str(p, TAG.patientId) || `UNKNOWN-${p.meta.studyInstanceUid.slice(-12)}`;
}

/** The patient type of a new patient: the species, capitalised, or Human. */
export function receivedPatientType(p: ParsedDicom): string {
  const species = str(p, TAG.species);
  return species ? species.replace(/^\w/, (c) => c.toUpperCase()) : 'Human';
}

export function receivedPatient(p: ParsedDicom, product: string, now: string): Insertable<PatientsTable> {
  return {
    patient_id: receivedPatientId(p), name: str(p, TAG.patientName), english_name: '', former_name: '', sex: str(p, TAG.sex),
    birth_date: dicomDateTime(str(p, TAG.birthDate), '') ?? null, patient_type: receivedPatientType(p), sex_neutered: str(p, TAG.neutered),
    owner_name: str(p, TAG.owner), chip_number: '', variety: str(p, TAG.breed), product, created_at: now, updated_at: now,
  };
}

/** A received study is Completed when it arrives, started when the object says (else now). */
export function receivedStudy(p: ParsedDicom, keys: { studyId: string; patientPk: number; patientType: string; product: string }, now: string): Insertable<StudiesTable> {
  const details: StudyDetails = {
    ref_physician: str(p, TAG.referring), patient_english_name: '', patient_former_name: '', patient_size: 'Medium', patient_age: str(p, TAG.age),
    patient_dob: dicomDateTime(str(p, TAG.birthDate), '') ?? '', patient_sex: str(p, TAG.sex), sex_neutered: str(p, TAG.neutered), pregnancy_status: '',
    patient_type: keys.patientType, owner_name: str(p, TAG.owner), chip_number: '', variety: str(p, TAG.breed),
    is_anaesthesia: false, is_sedation: false, operator_name: str(p, TAG.operator), weight: Number(str(p, TAG.weight)) || 0,
    thickness: 0, length: 0, comment: str(p, TAG.studyDescription), mwl: '', is_edited: false, portrait_status: '', portrait_file: '', registered_by: 0,
  };
  const started = dicomDateTime(str(p, TAG.studyDate), str(p, TAG.studyTime)) ?? now;
  return {
    study_id: keys.studyId, study_instance_uid: p.meta.studyInstanceUid, patient_pk: keys.patientPk, product: keys.product,
    accession_number: str(p, TAG.accession), patient_id: receivedPatientId(p), patient_name: str(p, TAG.patientName), study_status: 'Completed',
    study_lock: 'Unlocked', study_type: 'Normal', study_start_datetime: started, study_end_datetime: started, create_time: now, updated_at: now,
    deleted_at: null, deleted_by: null, details: JSON.stringify(details),
  };
}

/** Received series keep the sender's numbering as their order. */
export function receivedSeries(p: ParsedDicom, studyPk: number, product: string): Insertable<SeriesTable> {
  return {
    series_instance_uid: p.meta.seriesInstanceUid, study_pk: studyPk, procedure_id: '', body_part: str(p, TAG.bodyPart),
    performed_datetime: dicomDateTime(str(p, TAG.seriesDate), str(p, TAG.seriesTime)) ?? null, protocol_code_meaning: str(p, TAG.seriesDescription),
    sort: Number(str(p, TAG.seriesNumber)) || 1, product,
  };
}

/** Received images keep the sender's instance numbering as their order. */
export function receivedImage(p: ParsedDicom, keys: { seriesPk: number; studyPk: number; product: string; storedAs: string }, now: string): ImageFields {
  return {
    sopInstanceUid: p.meta.sopInstanceUid, seriesPk: keys.seriesPk, studyPk: keys.studyPk, viewId: '',
    viewDescription: (str(p, TAG.seriesDescription) || str(p, TAG.protocolName)).slice(0, 64), acquisitionMode: p.meta.modality || 'OT',
    sort: Number(str(p, TAG.instanceNumber)) || 1, product: keys.product, createdAt: now, storedAs: keys.storedAs,
  };
}
