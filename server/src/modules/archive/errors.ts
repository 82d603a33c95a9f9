/**
 * What the archive refuses, by the catalogue's names. The archive runs in the ingest index thread
 * too, so it raises this domain error and the HTTP layer's callers map it to the catalogue.
 */
export class ArchiveError extends Error {
  constructor(
    readonly code: 'IMAGE_NOT_FOUND' | 'INVALID_DICOM',
    message: string,
    /** The request field at fault, when there is one. */
    readonly field?: string,
  ) {
    super(message);
  }
}
