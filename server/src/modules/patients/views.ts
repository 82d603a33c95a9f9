import type { PatientStudyRow } from './repository.js';

/** The date part of a stored time. */
export function dateOf(stored: string | null): string | null {
  return stored ? stored.slice(0, 10) : null;
}

const STATUS: Record<string, string> = { Arrived: 'scheduled', InProgress: 'in_progress', Completed: 'completed' };

/** The diagnosis face's study status for a DR one (Arrived/InProgress/Completed). */
export function studyStatus(drStatus: string): string {
  return STATUS[drStatus] ?? drStatus.toLowerCase();
}

/** A study as the patient routes show it (the detail sample's fields, plus the identifiers of both faces). */
export function studyItem(r: PatientStudyRow, first: { body_part: string; protocol_code_meaning: string } | undefined) {
  const details = JSON.parse(r.details) as { comment?: string };
  return {
    // The diagnosis face names a study by its Study Instance UID; `study_id` is the console's number.
    id: r.study_instance_uid,
    study_uid: r.study_instance_uid,
    study_id: r.study_id,
    accession_number: r.accession_number,
    study_date: dateOf(r.study_start_datetime),
    // The index records no modality: every study on it is the console's DX or was indexed as one.
    modality: 'DX',
    body_part: first?.body_part ?? '',
    study_description: first?.protocol_code_meaning || details.comment || '',
    status: studyStatus(r.study_status),
  };
}
