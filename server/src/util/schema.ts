import { Type, type TLiteral, type TUnion } from 'typebox';

/**
 * `Type.Union` of string literals built from a list. Built with `.map`, TypeBox types the union
 * as never (its static type needs a tuple); this keeps the same schema and types it as the list's values.
 */
export function literalUnion<const T extends readonly string[]>(values: T): TUnion<{ -readonly [K in keyof T]: TLiteral<T[K]> }> {
  return Type.Union(values.map((value) => Type.Literal(value))) as never;
}

/** Formats of `util/text-formats.ts`, registered with the validators in `http/validation.ts`. */
export const TEXT_FORMATS = {
  singleLine: 'single-line',
  dicomString: 'dicom-string',
  personName: 'person-name',
  freeText: 'free-text',
  pastDateTime: 'past-date-time',
} as const;

interface Length {
  minLength?: number;
  maxLength: number;
}

/** A DICOM person name (PN): one line, no control characters, backslash or markup. */
export const PersonName = (length: Length) => Type.String({ ...length, format: TEXT_FORMATS.personName });
/** A DICOM identifier or short text (LO, SH, CS): one line, no control characters or backslash. */
export const DicomString = (length: Length) => Type.String({ ...length, format: TEXT_FORMATS.dicomString });
/** A search term or label: one line, no control characters. */
export const SingleLine = (length: Length) => Type.String({ ...length, format: TEXT_FORMATS.singleLine });
/** Free text: line breaks allowed, other control characters not. */
export const FreeText = (length: Length) => Type.String({ ...length, format: TEXT_FORMATS.freeText });
/** An RFC 3339 time from 1900-01-01 up to now (dates of birth, study dates). */
export const PastDateTime = () => Type.String({ maxLength: 40, format: TEXT_FORMATS.pastDateTime });
