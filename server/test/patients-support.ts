import { randomInt, randomUUID } from 'node:crypto';

const WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];

/** A valid resident ID number (GB 11643 check digit) for a birth date; odd sequence digit: male. */
export function idCard(birth = '19790315', male = true): string {
  const seq = `${randomInt(10, 99)}${male ? 1 + 2 * randomInt(0, 5) : 2 * randomInt(0, 5)}`;
  const body = `110101${birth}${seq}`;
  const sum = WEIGHTS.reduce((acc, w, i) => acc + w * Number(body[i]), 0);
  return `${body}${'10X98765432'[sum % 11]}`;
}

/** A mobile number unique enough for one test run. */
export function phone(): string {
  return `139${String(randomInt(0, 99_999_999)).padStart(8, '0')}`;
}

/** A tag of Chinese characters, so names stay unique per test and searches stay Chinese. */
export function hanTag(): string {
  return Array.from(randomUUID().replace(/-/g, '').slice(0, 4), (c) => String.fromCodePoint(0x4e00 + parseInt(c, 16) * 97)).join('');
}

/** The spec's create sample, with fresh personal numbers. */
export function samplePatient(over: Record<string, unknown> = {}) {
  return {
    name: '李四',
    gender: 'female',
    birth_date: '1985-06-20',
    phone: phone(),
    id_card: idCard('19850620', false),
    address: '北京市海淀区中关村大街1号',
    emergency_contact: '王五',
    emergency_phone: '13612345678',
    blood_type: 'A+',
    height: 165.5,
    weight: 55.0,
    allergies: ['青霉素', '海鲜'],
    medical_history: { diabetes: '2020-01-01', hypertension: '2019-06-15' },
    insurance_type: '城镇职工医保',
    insurance_no: '1101011234567890',
    ...over,
  };
}
