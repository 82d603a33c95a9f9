/**
 * Rules of the patient record's personal fields: Chinese resident ID numbers (GB 11643-1999),
 * phone normalisation for the blind index, the list's masks, gender ↔ DICOM sex, age.
 */

const ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const ID_CHECK = '10X98765432';

/** Why an ID card number is not valid, or undefined when it is (18 characters, real birth date, GB 11643 check digit). */
export function idCardProblem(value: string, today = new Date()): string | undefined {
  if (!/^\d{17}[\dX]$/.test(value)) return 'must be 18 characters: 17 digits and a digit or X';
  const birth = `${value.slice(6, 10)}-${value.slice(10, 12)}-${value.slice(12, 14)}`;
  if (!isRealDate(birth) || birth < '1900-01-01' || birth > today.toISOString().slice(0, 10))
    return `the birth date it holds (${birth}) is not a valid date`;
  const sum = ID_WEIGHTS.reduce((acc, weight, i) => acc + weight * Number(value[i]), 0);
  const check = ID_CHECK[sum % 11];
  if (value[17] !== check) return `the check digit does not match (GB 11643: expected ${check})`;
  return undefined;
}

/** An ID card number as stored and indexed: upper-case X. */
export function normaliseIdCard(value: string): string {
  return value.trim().toUpperCase();
}

/** The birth date and sex an ID card number states (17th digit odd: male). */
export function idCardFacts(value: string): { birthDate: string; gender: 'male' | 'female' } {
  return {
    birthDate: `${value.slice(6, 10)}-${value.slice(10, 12)}-${value.slice(12, 14)}`,
    gender: Number(value[16]) % 2 === 1 ? 'male' : 'female',
  };
}

/** A phone number as indexed: separators dropped, a +86/0086 country prefix dropped. */
export function normalisePhone(value: string): string {
  const compact = value.replace(/[\s()-]/g, '');
  return compact.replace(/^(\+86|0086)(?=\d{6,})/, '');
}

/** `YYYY-MM-DD` naming a day that exists. */
export function isRealDate(value: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value)) return false;
  const at = new Date(`${value}T00:00:00Z`);
  return !Number.isNaN(at.getTime()) && at.toISOString().slice(0, 10) === value;
}

/**
 * `北京市朝阳区建国路88号` → `北京市朝阳区***`: the administrative divisions up to the district
 * stay (they say where, not who), the street and number go. Text without a district keeps its
 * first third.
 */
export function maskAddress(address: string | null): string | null {
  if (!address) return address;
  const chars = Array.from(address);
  const district = /^.{2,14}?(区|县|旗)/u.exec(address)?.[0];
  if (district && Array.from(district).length < chars.length) return `${district}***`;
  return `${chars.slice(0, Math.floor(chars.length / 3)).join('')}***`;
}

export type Gender = 'male' | 'female' | 'other';
const SEX_OF: Record<Gender, string> = { male: 'M', female: 'F', other: 'O' };
const GENDER_OF: Record<string, Gender | undefined> = { M: 'male', F: 'female', O: 'other' };

/** DICOM Patient's Sex (M/F/O) for a gender. */
export function sexOf(gender: Gender): string {
  return SEX_OF[gender];
}

/** The gender a DICOM sex value stands for; null when it is empty or unknown. */
export function genderOf(sex: string): Gender | null {
  return GENDER_OF[sex.trim().toUpperCase()] ?? null;
}

/** The stored form of a birth date: midnight UTC, as the DR console stores a bare date. */
export function storedBirthDate(date: string): string {
  return `${date}T00:00:00.000Z`;
}

/** Completed years from a stored birth date (`YYYY-MM-DD…`) to `today` (UTC). */
export function ageOn(birth: string | null, today = new Date()): number | null {
  if (!birth || !/^\d{4}-\d{2}-\d{2}/.test(birth)) return null;
  const [y, m, d] = [Number(birth.slice(0, 4)), Number(birth.slice(5, 7)), Number(birth.slice(8, 10))];
  const [ty, tm, td] = [today.getUTCFullYear(), today.getUTCMonth() + 1, today.getUTCDate()];
  const age = ty - y - (tm < m || (tm === m && td < d) ? 1 : 0);
  return age < 0 ? 0 : age;
}

/**
 * Bounds on the stored birth date for an age range on `today`: age ≥ min means born on or
 * before today minus min years; age ≤ max means born after today minus max+1 years.
 * Returned as instants to compare the stored text with (`born < before`, `born >= from`).
 */
export function birthBounds(ageMin: number | undefined, ageMax: number | undefined, today = new Date()) {
  const day = (yearsBack: number) => {
    const d = new Date(Date.UTC(today.getUTCFullYear() - yearsBack, today.getUTCMonth(), today.getUTCDate() + 1));
    return d.toISOString();
  };
  return {
    before: ageMin === undefined ? undefined : day(ageMin),
    from: ageMax === undefined ? undefined : day(ageMax + 1),
  };
}
