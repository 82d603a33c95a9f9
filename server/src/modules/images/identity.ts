import type { DxPatient } from '../../dicom/dx-writer.js';
import { patientModule } from '../../dicom/dx-writer.js';
import { da, tm, type Dataset } from '../../dicom/part10.js';
import { parseDetails } from '../studies/dto.js';
import type { StudyRow } from '../studies/repository.js';

/** The patient as DICOM sees them, from the study's registration snapshot (human or animal). */
export function dicomPatientOf(study: StudyRow): DxPatient {
  const d = parseDetails(study);
  const dob = d.patient_dob ? new Date(d.patient_dob) : undefined;
  // CM / SF (castrated male, spayed female) carry the neutered status in the sex field.
  const sex = d.patient_sex === 'CM' ? 'M' : d.patient_sex === 'SF' ? 'F' : d.patient_sex;
  const neutered = ['CM', 'SF'].includes(d.patient_sex)
    ? 'ALTERED'
    : d.sex_neutered === 'ALTERED' || d.sex_neutered === 'UNALTERED'
      ? d.sex_neutered
      : '';
  return {
    id: study.patient_id,
    name: study.patient_name,
    birthDate: dob && !Number.isNaN(dob.getTime()) ? da(dob) : null,
    sex: sex === 'M' || sex === 'F' || sex === 'O' ? sex : '',
    age: /^\d{3}[DWMY]$/.test(d.patient_age) ? d.patient_age : '',
    ...(d.weight > 0 ? { weightKg: d.weight } : {}),
    ...(d.patient_type && d.patient_type !== 'Human'
      ? { animal: { species: d.patient_type, breed: d.variety, owner: d.owner_name, neutered } }
      : {}),
  };
}

/** Patient and General Study attributes of a study, for objects made outside an exposure. */
export function studyIdentity(study: StudyRow): Dataset {
  const d = parseDetails(study);
  const start = new Date(study.study_start_datetime);
  return {
    ...patientModule(dicomPatientOf(study)),
    StudyInstanceUID: study.study_instance_uid,
    StudyID: study.study_id.slice(0, 16),
    AccessionNumber: study.accession_number.slice(0, 16),
    StudyDate: da(start),
    StudyTime: tm(start),
    ReferringPhysicianName: d.ref_physician,
  };
}
