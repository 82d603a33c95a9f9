import type { ImageRow, SeriesRow, StudyRow } from './repository.js';

/** Study fields kept as JSON beside the indexed columns (demographic snapshot, vet fields, flags). */
export interface StudyDetails {
  ref_physician: string;
  patient_english_name: string;
  patient_former_name: string;
  patient_size: string;
  patient_age: string;
  patient_dob: string;
  patient_sex: string;
  sex_neutered: string;
  pregnancy_status: string;
  patient_type: string;
  owner_name: string;
  chip_number: string;
  variety: string;
  is_anaesthesia: boolean;
  is_sedation: boolean;
  operator_name: string;
  weight: number;
  thickness: number;
  length: number;
  comment: string;
  mwl: string;
  is_edited: boolean;
  portrait_status: string;
  portrait_file: string;
  /** User id that registered the study (the guest may only see its own emergency studies). */
  registered_by: number;
}

export function parseDetails(row: StudyRow): StudyDetails {
  return JSON.parse(row.details) as StudyDetails;
}

/** What an image's view says about it, looked up from the protocol library (anatomic region by view id). */
export type ViewRegions = ReadonlyMap<string, string>;

function parseContext(text: string | null): Record<string, unknown> | null {
  return text ? (JSON.parse(text) as Record<string, unknown>) : null;
}

export function imageBody(row: ImageRow, series: SeriesRow, study: StudyRow, regions: ViewRegions = new Map()) {
  const acquisition = parseContext(row.acquisition_context);
  const processing = parseContext(row.img_proc_context);
  return {
    sop_instance_uid: row.sop_instance_uid,
    series_instance_uid: series.series_instance_uid,
    study_instance_uid: study.study_instance_uid,
    secondary_sop_uid: row.secondary_sop_uid,
    study_id: study.study_id,
    view_id: row.view_id,
    view_description: row.view_description,
    patient_type: parseDetails(study).patient_type,
    body_part_id: series.body_part,
    anatomic_region: regions.get(row.view_id) ?? '',
    // A view registered on the console is there to be exposed; anything else was imported.
    image_type: row.view_id ? 'expose' : 'import',
    image_file_path: row.image_file_path,
    image_file: row.image_file,
    thumbnail_file: row.thumbnail_file,
    acquisition_mode: row.acquisition_mode,
    acquisition_context: acquisition,
    img_proc_context: processing,
    comment: '',
    expose_time: typeof acquisition?.expose_time === 'string' ? acquisition.expose_time : null,
    expose_status: row.expose_status,
    judged_status: row.judged_status,
    send_status: row.send_status,
    export_status: row.export_status,
    storage_status: row.storage_status,
    // The For Processing twin of an exposure is kept beside the image.
    raw_exists: typeof processing?.processing_sop === 'string',
    ticket: '',
    sort: row.sort,
    product: row.product,
    is_pre_install: true,
    create_time: row.created_at,
  };
}

export function seriesBody(series: SeriesRow, study: StudyRow, images: ImageRow[], regions: ViewRegions = new Map()) {
  const ownImages = images.filter((i) => i.series_pk === series.id);
  return {
    series_instance_uid: series.series_instance_uid,
    study_instance_uid: study.study_instance_uid,
    study_id: study.study_id,
    procedure_id: series.procedure_id,
    patient_type: parseDetails(study).patient_type,
    body_part: series.body_part,
    performed_datetime: series.performed_datetime,
    performed_protocol_code_meaning: series.protocol_code_meaning,
    performed_protocol_code_value: series.procedure_id,
    sort: series.sort,
    product: series.product,
    is_pre_install: true,
    // Series rows keep no time of their own: a series is made with its first image.
    create_time: ownImages.reduce((first, i) => (i.created_at < first ? i.created_at : first), study.create_time),
    images: ownImages.map((i) => imageBody(i, series, study, regions)),
  };
}

export function studyBody(row: StudyRow, series: SeriesRow[], images: ImageRow[], regions: ViewRegions = new Map()) {
  const d = parseDetails(row);
  return {
    '@type': 'type.googleapis.com/dr.study.Study',
    study_instance_uid: row.study_instance_uid,
    study_id: row.study_id,
    public_study_id: '',
    specific_character_set: 'ISO_IR 192',
    accession_number: row.accession_number,
    ref_physician: d.ref_physician,
    patient_id: row.patient_id,
    patient_name: row.patient_name,
    patient_english_name: d.patient_english_name,
    patient_former_name: d.patient_former_name,
    patient_size: d.patient_size,
    other_patient_ids: '',
    other_patient_names: '',
    patient_age: d.patient_age,
    patient_dob: d.patient_dob,
    patient_sex: d.patient_sex,
    sex_neutered: d.sex_neutered,
    pregnancy_status: d.pregnancy_status,
    patient_state: '',
    admitting_time: null,
    priority: '',
    reg_source: '',
    study_description: '',
    study_start_datetime: row.study_start_datetime,
    study_end_datetime: row.study_end_datetime,
    scheduled_procedure_step_start_date: null,
    performed_physician: '',
    study_lock: row.study_lock,
    folder_path: '',
    operator_name: d.operator_name,
    modality: 'DX',
    weight: d.weight,
    thickness: d.thickness,
    length: d.length,
    patient_type: d.patient_type,
    study_type: row.study_type,
    owner_name: d.owner_name,
    chip_number: d.chip_number,
    variety: d.variety,
    is_anaesthesia: d.is_anaesthesia,
    is_sedation: d.is_sedation,
    mwl: d.mwl,
    is_exported: false,
    is_edited: d.is_edited,
    is_appended: false,
    department: '',
    mapped_status: false,
    qc_result: false,
    comment: d.comment,
    study_status: row.study_status,
    portrait_status: d.portrait_status,
    portrait_file: d.portrait_file,
    sort: 0,
    product: row.product,
    create_time: row.create_time,
    series: series.filter((s) => s.study_pk === row.id).map((s) => seriesBody(s, row, images, regions)),
  };
}
