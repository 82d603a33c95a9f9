import { DicomReadError, UnsupportedTransferSyntaxError } from '../dicom/reader.js';
import { DimseError, type DimseFailureKind } from '../dimse/scu.js';
import { DeviceError } from '../modules/devices/driver.js';
import { AppError, type ErrorName, type FieldError } from '../util/errors.js';

/** What the error handler answers for an error: a catalogue entry, the fields at fault, extra text, headers. */
export interface Classified {
  name: ErrorName;
  details: FieldError[];
  detail?: string;
  headers: Record<string, string>;
}

// Constructors of any arguments: the table matches on the class only.
type ErrorClass<E extends Error> = abstract new (...args: never[]) => E;

/** One row of the table: the catalogue's answer if the error is of the row's class. */
type DomainMapping = (error: unknown) => Classified | undefined;

const mapping =
  <E extends Error>(type: ErrorClass<E>, map: (error: E) => Classified): DomainMapping =>
  (error) =>
    error instanceof type ? map(error) : undefined;

/** How a DIMSE exchange failed → what the client is told (the peer's address, its AE titles, or time). */
const DIMSE_FAILURES: Record<DimseFailureKind, ErrorName> = {
  refused: 'DICOM_PEER_UNREACHABLE',
  unreachable: 'DICOM_PEER_UNREACHABLE',
  rejected: 'DICOM_ASSOCIATION_REJECTED',
  'no-context': 'DICOM_ASSOCIATION_REJECTED',
  timeout: 'DICOM_TIMEOUT',
  aborted: 'DICOM_PROTOCOL',
  protocol: 'DICOM_PROTOCOL',
};

/**
 * The one table from the errors services and threads raise to the catalogue. Checked in order:
 * a subclass comes before its base class (UnsupportedTransferSyntaxError is a DicomReadError).
 */
const DOMAIN_ERRORS: readonly DomainMapping[] = [
  mapping(AppError, (e) => ({ name: e.errorName, details: e.details, detail: e.detail, headers: e.headers })),
  // A file we read but whose pixels we cannot decode: the object is fine, this server cannot show it.
  mapping(UnsupportedTransferSyntaxError, (e) => ({ name: 'UNSUPPORTED_IMAGE', details: [], detail: e.message, headers: {} })),
  mapping(DicomReadError, (e) => ({ name: 'INVALID_DICOM', details: [{ field: 'file', message: e.message }], headers: {} })),
  mapping(DimseError, (e) => ({ name: DIMSE_FAILURES[e.kind], details: [], detail: e.message, headers: {} })),
  mapping(DeviceError, (e) => ({
    name: e.errorName,
    details: e.field ? [{ field: e.field, message: e.message }] : [],
    detail: e.message,
    headers: {},
  })),
];

/** The catalogue's answer for a domain error, or undefined for anything else (a bug, a framework error). */
export function classifyDomainError(error: unknown): Classified | undefined {
  for (const row of DOMAIN_ERRORS) {
    const classified = row(error);
    if (classified) return classified;
  }
  return undefined;
}
