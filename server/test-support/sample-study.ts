import { randomUUID } from 'node:crypto';

/** The spec's POST study sample, with a fresh patient id. */
export function sampleStudy(over: Record<string, unknown> = {}) {
  return {
    accession_number: 'ACC0012345',
    patient_id: `PET${randomUUID().slice(0, 8)}`,
    patient_name: 'Buddy',
    patient_english_name: 'Buddy en',
    patient_former_name: 'Buddy f',
    patient_size: 'Large',
    patient_age: '5Y',
    patient_dob: '2025-06-10T03:12:36.181739Z',
    patient_sex: 'M',
    pregnancy_status: '',
    owner_name: 'owner1',
    chip_number: 'CHIP123456789',
    variety: 'Golden Retriever',
    is_anaesthesia: 'true',
    is_sedation: true,
    patient_type: 'Human',
    ref_physician: 'Dr. Smith (Vet)',
    operator_id: 'OP987',
    modality: 'DX',
    weight: 25,
    thickness: 15,
    length: 60,
    study_type: 'Normal',
    comment: 'Patient presented with limping in right hind leg. Sedation administered.',
    views: [
      { view_id: 'View_DX_T_A_SK_AP_00', procedure_id: 'P0-0002' },
      { view_id: 'View_DX_T_A_SK_LAT_00', procedure_id: 'P0-0002' },
    ],
    ...over,
  };
}
