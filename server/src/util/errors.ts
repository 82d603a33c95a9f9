/**
 * Errors every layer may raise by naming an entry of the error catalogue. They carry no HTTP
 * status: the HTTP error handler looks the name up in the error catalogue, which
 * gives the status, the DR code and the localized text. A worker thread or a DIMSE service may
 * throw them as well as a route's service.
 */

/** The catalogue's entry names; the catalogue has exactly one entry for each (its type checks it). */
export type ErrorName =
  | 'VALIDATION'
  | 'MALFORMED_BODY'
  | 'PAYLOAD_TOO_LARGE'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'ROUTE_NOT_FOUND'
  | 'METHOD_NOT_ALLOWED'
  | 'BAD_REQUEST'
  | 'HEADERS_TOO_LARGE'
  | 'URI_TOO_LONG'
  | 'REQUEST_TIMEOUT'
  | 'UNAUTHENTICATED'
  | 'TOKEN_INVALID'
  | 'TOKEN_EXPIRED'
  | 'TOKEN_REVOKED'
  | 'INVALID_CREDENTIALS'
  | 'ACCOUNT_LOCKED'
  | 'ACCOUNT_DISABLED'
  | 'FORBIDDEN'
  | 'PASSWORD_CONFIRM_MISMATCH'
  | 'OLD_PASSWORD_WRONG'
  | 'WEAK_PASSWORD'
  | 'GUEST_SCOPE'
  | 'USER_NOT_FOUND'
  | 'USERNAME_TAKEN'
  | 'EMAIL_TAKEN'
  | 'ROLE_NOT_FOUND'
  | 'CANNOT_DELETE_SELF'
  | 'LAST_ADMIN'
  | 'BUILTIN_USER'
  | 'PRIVILEGE_EXCEEDED'
  | 'CANNOT_CHANGE_OWN_ROLES'
  | 'CANNOT_RESET_OWN_PASSWORD'
  | 'CONFIG_NOT_FOUND'
  | 'CONFIG_TYPE_MISMATCH'
  | 'EXPORT_DIRECTORY_REFUSED'
  | 'OPTION_GROUP_NOT_FOUND'
  | 'TRANSLATION_NOT_FOUND'
  | 'UNSUPPORTED_LANGUAGE'
  | 'VIEW_NOT_FOUND'
  | 'PROCEDURE_NOT_FOUND'
  | 'APR_NOT_FOUND'
  | 'EXPOSURE_INCONSISTENT'
  | 'PICTOGRAM_NOT_FOUND'
  | 'STUDY_NOT_FOUND'
  | 'STUDY_LOCKED'
  | 'IMAGE_NOT_FOUND'
  | 'IMAGE_EXPOSED'
  | 'VIEW_NOT_ALLOWED'
  | 'SORT_MISMATCH'
  | 'STUDY_NOT_IN_BIN'
  | 'PATIENT_CONFLICT'
  | 'PATIENT_NOT_FOUND'
  | 'PATIENT_HAS_STUDIES'
  | 'PATIENT_ID_CARD_TAKEN'
  | 'PATIENT_MERGE_REFUSED'
  | 'FILE_NOT_FOUND'
  | 'FILE_NOT_PUBLIC'
  | 'INVALID_DICOM'
  | 'UNSUPPORTED_IMAGE'
  | 'IMAGE_NOT_STORED'
  | 'INVALID_PNG'
  | 'EXPORT_FAILED'
  | 'DEVICE_NOT_FOUND'
  | 'DEVICE_ACTION_UNKNOWN'
  | 'DEVICE_PARAM_RANGE'
  | 'DEVICE_NOT_READY'
  | 'TASK_NOT_STARTED'
  | 'TASK_BUSY'
  | 'IMAGE_ALREADY_EXPOSED'
  | 'IMAGE_NOT_EXPOSED'
  | 'TASK_OTHER_SESSION'
  | 'PACS_NOT_FOUND'
  | 'PACS_NAME_TAKEN'
  | 'DICOM_PEER_UNREACHABLE'
  | 'DICOM_ASSOCIATION_REJECTED'
  | 'DICOM_TIMEOUT'
  | 'DICOM_PROTOCOL'
  | 'STORE_TASK_NOT_FOUND'
  | 'STORE_TASK_BUSY'
  | 'RIS_NOT_CONFIGURED'
  | 'WORKLIST_ITEM_NOT_FOUND'
  | 'WORKLIST_ITEM_IMPORTED'
  | 'ECHO_NODE_NOT_CONFIGURED'
  | 'PICTURE_TOO_LARGE'
  | 'OBJECT_TOO_LARGE'
  | 'UPLOAD_BUSY'
  | 'UPLOAD_QUOTA_EXCEEDED'
  | 'UPLOAD_CAPACITY_BUSY'
  | 'UPLOAD_SHARED_QUOTA_EXCEEDED'
  | 'RATE_LIMITED'
  | 'TIMEOUT'
  | 'SERVICE_UNAVAILABLE'
  | 'NOT_IMPLEMENTED'
  | 'INTERNAL';

/** One refused input: which field and why. */
export interface FieldError {
  field: string;
  message: string;
}

/** A refusal named by its catalogue entry, with the fields at fault and extra English detail. */
export class AppError extends Error {
  constructor(
    readonly errorName: ErrorName,
    readonly details: FieldError[] = [],
    /** Extra English text appended to the catalogue message (e.g. which resource). */
    readonly detail?: string,
    /** Response headers the refusal asks for (e.g. Retry-After on a locked account). */
    readonly headers: Record<string, string> = {},
  ) {
    super(detail ? `${errorName}: ${detail}` : errorName);
  }
}

export function validationError(field: string, message: string): AppError {
  return new AppError('VALIDATION', [{ field, message }]);
}
