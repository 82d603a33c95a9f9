import type { Insertable } from 'kysely';
import type { PatientsTable, SeriesTable, StudiesTable } from '../../db/schema.js';
import { text, type ParsedDicom } from '../../dicom/reader.js';
import { TAGS } from '../../dicom/tags.js';
import type { StudyDetails } from '../studies/dto.js';
import type { ImageFields } from './rows.js';

const str = (p: ParsedDicom, tag: string) => text(p.dataSet, tag);

function dicomDateTime(date: string, time: string): string | undefined {
  const d = /^(\d{4})(\d{2})(\d{2})$/.exec(date);
  if (!d) return undefined;
  // Minutes and seconds are optional groups: undefined when the time leaves them out.
  const t: (string | undefined)[] = /^(\d{2})(\d{2})?(\d{2})?/.exec(time) ?? [];
  const iso = `${d[1]}-${d[2]}-${d[3]}T${t[1] ?? '00'}:${t[2] ?? '00'}:${t[3] ?? '00'}Z`;
  return Number.isNaN(Date.parse(iso)) ? undefined : new Date(iso).toISOString();
}

/** A species (0010,2201) makes the study veterinary. */
export function receivedProduct(p: ParsedDicom, defaultProduct: string): string {
  return str(p, TAGS.patientSpecies) ? 'VETDROS' : defaultProduct;
}

/** Objects without a Patient ID are filed under one made from their study. */
export function receivedPatientId(p: ParsedDicom): string {
  return str(p, TAGS.patientId) || `UNKNOWN-${p.meta.studyInstanceUid.slice(-12)}`;
}

/** The patient type of a new patient: the species, capitalised, or Human. */
export function receivedPatientType(p: ParsedDicom): string {
  const species = str(p, TAGS.patientSpecies);
  return species ? species.replace(/^\w/, (c) => c.toUpperCase()) : 'Human';
}

export function receivedPatient(p: ParsedDicom, product: string, now: string): Insertable<PatientsTable> {
  return {
    patient_id: receivedPatientId(p),
    name: str(p, TAGS.patientName),
    english_name: '',
    former_name: '',
    sex: str(p, TAGS.patientSex),
    birth_date: dicomDateTime(str(p, TAGS.patientBirthDate), '') ?? null,
    patient_type: receivedPatientType(p),
    sex_neutered: str(p, TAGS.patientSexNeutered),
    owner_name: str(p, TAGS.responsiblePerson),
    chip_number: '',
    variety: str(p, TAGS.patientBreed),
    product,
    created_at: now,
    updated_at: now,
  };
}

/** A received study is Completed when it arrives, started when the object says (else now). */
export function receivedStudy(
  p: ParsedDicom,
  keys: { studyId: string; patientPk: number; patientType: string; product: string },
  now: string,
): Insertable<StudiesTable> {
  const details: StudyDetails = {
    ref_physician: str(p, TAGS.referringPhysician),
    patient_english_name: '',
    patient_former_name: '',
    patient_size: 'Medium',
    patient_age: str(p, TAGS.patientAge),
    patient_dob: dicomDateTime(str(p, TAGS.patientBirthDate), '') ?? '',
    patient_sex: str(p, TAGS.patientSex),
    sex_neutered: str(p, TAGS.patientSexNeutered),
    pregnancy_status: '',
    patient_type: keys.patientType,
    owner_name: str(p, TAGS.responsiblePerson),
    chip_number: '',
    variety: str(p, TAGS.patientBreed),
    is_anaesthesia: false,
    is_sedation: false,
    operator_name: str(p, TAGS.operatorsName),
    weight: Number(str(p, TAGS.patientWeight)) || 0,
    thickness: 0,
    length: 0,
    comment: str(p, TAGS.studyDescription),
    mwl: '',
    is_edited: false,
    portrait_status: '',
    portrait_file: '',
    registered_by: 0,
  };
  const started = dicomDateTime(str(p, TAGS.studyDate), str(p, TAGS.studyTime)) ?? now;
  return {
    study_id: keys.studyId,
    study_instance_uid: p.meta.studyInstanceUid,
    patient_pk: keys.patientPk,
    product: keys.product,
    accession_number: str(p, TAGS.accessionNumber),
    patient_id: receivedPatientId(p),
    patient_name: str(p, TAGS.patientName),
    study_status: 'Completed',
    study_lock: 'Unlocked',
    study_type: 'Normal',
    study_start_datetime: started,
    study_end_datetime: started,
    create_time: now,
    updated_at: now,
    deleted_at: null,
    deleted_by: null,
    details: JSON.stringify(details),
  };
}

/** Received series keep the sender's numbering as their order. */
export function receivedSeries(p: ParsedDicom, studyPk: number, product: string): Insertable<SeriesTable> {
  return {
    series_instance_uid: p.meta.seriesInstanceUid,
    study_pk: studyPk,
    procedure_id: '',
    body_part: str(p, TAGS.bodyPart),
    performed_datetime: dicomDateTime(str(p, TAGS.seriesDate), str(p, TAGS.seriesTime)) ?? null,
    protocol_code_meaning: str(p, TAGS.seriesDescription),
    sort: Number(str(p, TAGS.seriesNumber)) || 1,
    product,
  };
}

/** Received images keep the sender's instance numbering as their order. */
export function receivedImage(
  p: ParsedDicom,
  keys: { seriesPk: number; studyPk: number; product: string; storedAs: string },
  now: string,
): ImageFields {
  return {
    sopInstanceUid: p.meta.sopInstanceUid,
    seriesPk: keys.seriesPk,
    studyPk: keys.studyPk,
    viewId: '',
    viewDescription: (str(p, TAGS.seriesDescription) || str(p, TAGS.viewPosition)).slice(0, 64),
    acquisitionMode: p.meta.modality || 'OT',
    sort: Number(str(p, TAGS.instanceNumber)) || 1,
    product: keys.product,
    createdAt: now,
    storedAs: keys.storedAs,
  };
}
