/**
 * Text rules for what clients send, registered once as JSON Schema formats (`http/validation.ts`)
 * and used through the schema helpers in `util/schema.ts`. DICOM's value representations forbid
 * control characters in names and identifiers (PN, LO, SH, CS: no C0 except ESC, no DEL, no C1);
 * a backslash is DICOM's value separator; an unpaired UTF-16 surrogate cannot be stored as UTF-8
 * (it would turn into U+FFFD), so it is refused instead of silently changed.
 */

/** C0 controls (NUL, CR, LF, TAB, …), DEL and C1 controls. */
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const CONTROL = /[\u0000-\u001F\u007F-\u009F]/;
/** C0 controls other than TAB, LF and CR (the line breaks free text may hold), DEL and C1. */
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const CONTROL_EXCEPT_LINES = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
/** Characters that only make sense as markup; no person is called `<script>`. */
const MARKUP = /[<>]/;

export function isWellFormedText(value: string): boolean {
  return !LONE_SURROGATE.test(value);
}

/** One-line text without control characters (search terms, labels). */
export function isSingleLine(value: string): boolean {
  return !CONTROL.test(value) && isWellFormedText(value);
}

/** A DICOM LO/SH/CS value: one line, no backslash. */
export function isDicomString(value: string): boolean {
  return isSingleLine(value) && !value.includes('\\');
}

/** A DICOM PN value: a DICOM string without markup characters. */
export function isPersonName(value: string): boolean {
  return isDicomString(value) && !MARKUP.test(value);
}

/** Free text (comments, DICOM LT/ST): line breaks and tabs allowed, other controls not. */
export function isFreeText(value: string): boolean {
  return !CONTROL_EXCEPT_LINES.test(value) && isWellFormedText(value);
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/i;
/** The earliest date of birth or study date accepted; nobody alive or imaged was born earlier. */
export const EARLIEST_DATE = '1900-01-01';

/** An RFC 3339 time whose date is 1900-01-01 or later and which is not in the future. */
export function isPastDateTime(value: string, now = Date.now()): boolean {
  const match = RFC3339.exec(value);
  if (!match) return false;
  const month = Number(match[2]);
  const day = Number(match[3]);
  if (month < 1 || month > 12 || day < 1 || day > 31) return false;
  const at = Date.parse(value);
  // The date as written (local to its offset) bounds the past; the instant bounds the future.
  return Number.isFinite(at) && value.slice(0, 10) >= EARLIEST_DATE && at <= now;
}
