import type { Generated } from 'kysely';

/**
 * Column conventions, identical on SQLite and PostgreSQL so repositories need no dialect branches:
 * times are ISO-8601 UTC text (`…Z`, sorts and compares as text), booleans are 0/1 integers,
 * structured values are JSON text.
 */
export type Bool = 0 | 1;

export interface UsersTable {
  id: Generated<number>;
  username: string;
  email: string | null;
  password_hash: string;
  full_name: string;
  phone: string | null;
  department: string | null;
  job_title: string | null;
  avatar: string;
  is_active: Bool;
  is_builtin: Bool;
  failed_login_count: number;
  locked_until: string | null;
  last_login_at: string | null;
  /** Tokens carry this number; bumping it (password change, disable, delete) voids them all. */
  token_version: number;
  created_at: string;
  updated_at: string;
  deleted_at: string | null;
}

export interface RolesTable {
  id: Generated<number>;
  name: string;
  display_name_en: string;
  display_name_zh: string;
  description: string;
  is_builtin: Bool;
  created_at: string;
}

export interface RolePermissionsTable {
  role_id: number;
  permission: string;
}

export interface UserRolesTable {
  user_id: number;
  role_id: number;
}

/** A login or a guest token (migration 011); every token carries its id as `sid`. */
export interface AuthSessionsTable {
  id: string;
  user_id: number;
  kind: 'user' | 'guest';
  created_at: string;
  expires_at: string;
  revoked_at: string | null;
  revoked_reason: string;
  source_ip: string;
  /** The newest refresh token's id; an older one presented again revokes the session. */
  refresh_jti: string;
}

/** Failed logins per (account, source address); see the auth service's back-off. */
export interface LoginBackoffTable {
  user_id: number;
  source: string;
  failures: number;
  last_failure_at: string;
  blocked_until: string | null;
}

export interface AuditLogsTable {
  id: Generated<number>;
  created_at: string;
  user_id: number | null;
  username: string | null;
  action: string;
  resource_type: string | null;
  resource_id: string | null;
  method: string;
  path: string;
  status_code: number;
  outcome: 'success' | 'failure';
  source: string;
  ip: string;
  request_id: string;
  detail: string | null;
  /** The session the request acted in (migration 014; NULL for DICOM, system and older rows). */
  session_id: string | null;
  /** The hash chain (migration 008): the previous row's hash and sha256 over it and this row. */
  prev_hash: string | null;
  hash: string | null;
}

export interface SystemConfigsTable {
  config_key: string;
  config_value: string;
  config_type: 'string' | 'number' | 'boolean' | 'json';
  category: string;
  description: string;
  is_public: Bool;
  updated_at: string;
  updated_by: number | null;
}

/** A job's state; `cancelled` jobs were stopped by a caller before they ended. */
export type JobState = 'queued' | 'running' | 'done' | 'failed' | 'cancelled';

/** One unit of durable background work (see modules/jobs/runner.ts). */
export interface JobsTable {
  id: Generated<number>;
  /** The job's kind (`dicom.store`, `image.thumbnail`, ...). */
  queue: string;
  /** The kind's payload, as JSON. */
  payload: string;
  state: JobState;
  attempts: number;
  /** When a queued job is due (its next attempt, after back-off). */
  run_at: string;
  /** `<node id>/<boot id>` of the process holding the lease. */
  locked_by: string | null;
  locked_until: string | null;
  last_error: string | null;
  created_at: string;
  updated_at: string;
  /** The caller's name for the job, unique per kind (a send task's id); null when it has none. */
  job_key: Generated<string | null>;
  /** 0..1, as the handler reports it. */
  progress: Generated<number>;
  /** The handler's report of its last attempt (a send's DIMSE log). */
  result: Generated<string>;
  /** 1 once a caller asked a running job to stop. */
  cancel_requested: Generated<number>;
  completed_at: Generated<string | null>;
}

interface LibraryRow {
  id: Generated<number>;
  product: string;
  sort: number;
  is_enabled: Bool;
  is_pre_install: Bool;
}

export interface ProtocolPatientTypesTable extends LibraryRow {
  patient_type_id: string;
  name_en: string;
  name_zh: string;
}

export interface ProtocolBodyPartsTable extends LibraryRow {
  body_part_id: string;
  patient_type: string;
  name_en: string;
  name_zh: string;
  category: string;
}

export interface ProtocolProceduresTable extends LibraryRow {
  procedure_id: string;
  patient_type: string;
  body_part_id: string;
  name_en: string;
  name_zh: string;
  procedure_type: 'NORMAL' | 'EMERGENCY';
  procedure_category: string;
  protocol_laterality: string;
  fast_search: Bool;
  modality: string;
}

export interface ProtocolViewsTable extends LibraryRow {
  view_id: string;
  patient_type: string;
  body_part_id: string;
  name_en: string;
  name_zh: string;
  view_position: string;
  anatomic_region: string;
  laterality: string;
  apr_category: string;
  icon: string;
  work_station_id: number;
  modality: string;
  config_object: string;
}

export interface ProtocolProcedureViewsTable {
  product: string;
  procedure_id: string;
  view_id: string;
  sort: number;
}

export interface ProtocolAprExposuresTable {
  product: string;
  apr_id: string;
  work_station_id: number;
  patient_size: string;
  config_object: string;
  updated_at: string | null;
  updated_by: number | null;
}

export interface ProtocolAprDevicesTable {
  product: string;
  apr_id: string;
  work_station_id: number;
  config_object: string;
}

export interface PatientsTable {
  id: Generated<number>;
  patient_id: string;
  name: string;
  english_name: string;
  former_name: string;
  sex: string;
  birth_date: string | null;
  patient_type: string;
  sex_neutered: string;
  owner_name: string;
  chip_number: string;
  variety: string;
  product: string;
  created_at: string;
  updated_at: string;
  /** Sealed values (modules/patients/field-crypto.ts); the clear text is never stored. */
  phone_enc: string | null;
  /** Keyed blind index of the normalised phone number (exact search). */
  phone_hash: string | null;
  id_card_enc: string | null;
  id_card_hash: string | null;
  address_enc: string | null;
  emergency_contact: string | null;
  emergency_phone_enc: string | null;
  blood_type: string | null;
  height: number | null;
  weight: number | null;
  /** JSON array of strings. */
  allergies: Generated<string>;
  /** JSON object of condition → date or note. */
  medical_history: Generated<string>;
  insurance_type: string | null;
  insurance_no: string | null;
  created_by: number | null;
  /** Soft delete; the record then gives up its Patient ID (kept in `deleted_patient_no`). */
  deleted_at: string | null;
  deleted_patient_no: string | null;
  /** The surviving record when this one was merged into it. */
  merged_into: number | null;
}

export interface PatientNoCountersTable {
  period: string;
  n: number;
}

export interface StudiesTable {
  id: Generated<number>;
  study_id: string;
  study_instance_uid: string;
  patient_pk: number;
  product: string;
  accession_number: string;
  patient_id: string;
  patient_name: string;
  study_status: 'Arrived' | 'InProgress' | 'Completed';
  study_lock: 'Locked' | 'Unlocked';
  study_type: 'Normal' | 'Emergency';
  study_start_datetime: string;
  study_end_datetime: string | null;
  create_time: string;
  updated_at: string;
  deleted_at: string | null;
  deleted_by: number | null;
  details: string;
  /** The session that registered the study (a guest session sees only its own). */
  created_session_id: string | null;
}

export interface SeriesTable {
  id: Generated<number>;
  series_instance_uid: string;
  study_pk: number;
  procedure_id: string;
  body_part: string;
  performed_datetime: string | null;
  protocol_code_meaning: string;
  sort: number;
  product: string;
}

export interface ImagesTable {
  id: Generated<number>;
  sop_instance_uid: string;
  series_pk: number;
  study_pk: number;
  view_id: string;
  view_description: string;
  secondary_sop_uid: string;
  image_file_path: string;
  acquisition_mode: string;
  expose_status: 'Unexposed' | 'Exposed';
  judged_status: 'NotJudged' | 'Accept' | 'Reject';
  send_status: string;
  export_status: string;
  storage_status: string;
  acquisition_context: string | null;
  img_proc_context: string | null;
  sort: number;
  product: string;
  created_at: string;
  /** File names (registry keys in stored_files), empty until the image is stored. */
  image_file: Generated<string>;
  thumbnail_file: Generated<string>;
}

export type StoredFileKind = 'dicom' | 'thumbnail' | 'capture';
/** What the file is to its study: an exposed image (and its For Processing twin), the emergency portrait, a post-processed copy. */
export type StoredFileRole = 'image' | 'processing' | 'portrait' | 'post_proc';

export interface StoredFilesTable {
  id: Generated<number>;
  name: string;
  kind: StoredFileKind;
  role: StoredFileRole;
  blob_key: string;
  content_type: string;
  size: number;
  sha256: string;
  study_pk: number;
  image_pk: number | null;
  sop_instance_uid: string | null;
  created_at: string;
}

export interface PacsNodesTable {
  id: Generated<number>;
  name: string;
  type: string;
  address: string;
  port: number;
  aet: string;
  aec: string;
  is_enabled: number;
  is_default: number;
  params: string;
  created_at: string;
  updated_at: string;
  /** 0/1: may store objects here (C-STORE to our SCP); query and retrieve are for the Q/R SCP to come. */
  may_store: Generated<number>;
  may_query: Generated<number>;
  may_retrieve: Generated<number>;
  /** The node's character set ('' = the site's default; 'GB18030' gets GB18030 text). */
  charset: Generated<string>;
}

/**
 * Trigger-kept study totals (migrations 002, 015). On PostgreSQL each (in_bin, study_status) is
 * striped over several rows by a `slot` column the triggers alone write; readers sum `n`.
 */
export interface StudyCountsTable {
  in_bin: number;
  study_status: string;
  n: number;
}

export interface StudyNameGramsTable {
  gram: string;
  study_pk: number;
  in_bin: number;
  study_start_datetime: string;
  study_status: string;
}

/** Generated secrets shared by every process on one database (JWT key, installation id). */
export interface ServerSecretsTable {
  name: string;
  value: string;
  created_at: string;
}

/** The protocol library each product has installed, by digest (migration 012). */
export interface ProtocolLibraryInstallsTable {
  product: string;
  digest: string;
  installed_at: string;
}

export interface Database {
  server_secrets: ServerSecretsTable;
  protocol_library_installs: ProtocolLibraryInstallsTable;
  users: UsersTable;
  roles: RolesTable;
  role_permissions: RolePermissionsTable;
  user_roles: UserRolesTable;
  auth_sessions: AuthSessionsTable;
  login_backoff: LoginBackoffTable;
  audit_logs: AuditLogsTable;
  system_configs: SystemConfigsTable;
  jobs: JobsTable;
  protocol_patient_types: ProtocolPatientTypesTable;
  protocol_body_parts: ProtocolBodyPartsTable;
  protocol_procedures: ProtocolProceduresTable;
  protocol_views: ProtocolViewsTable;
  protocol_procedure_views: ProtocolProcedureViewsTable;
  protocol_apr_exposures: ProtocolAprExposuresTable;
  protocol_apr_devices: ProtocolAprDevicesTable;
  patients: PatientsTable;
  patient_no_counters: PatientNoCountersTable;
  studies: StudiesTable;
  study_counts: StudyCountsTable;
  study_name_grams: StudyNameGramsTable;
  series: SeriesTable;
  images: ImagesTable;
  stored_files: StoredFilesTable;
  pacs_nodes: PacsNodesTable;
}
