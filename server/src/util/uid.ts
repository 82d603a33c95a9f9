import { randomBytes, randomUUID } from 'node:crypto';

/**
 * DICOM UIDs (spec reading 6, docs/architecture.md): `2.25.<UUID as a decimal integer>` by default, or
 * `<root>.<time>.<random>` under an organisation root. Always ≤ 64 characters, digits and
 * dots only, no component with a leading zero.
 */
export function generateUid(root?: string): string {
  if (!root) return `2.25.${BigInt(`0x${randomUUID().replace(/-/g, '')}`).toString(10)}`;
  const random =
    BigInt(`0x${randomBytes(8).toString('hex')}`)
      .toString(10)
      .replace(/^0+/, '') || '1';
  const uid = `${root}.${Date.now()}.${random}`;
  return uid.length <= 64
    ? uid
    : uid
        .slice(0, 64)
        .replace(/\.0+(\d)/g, '.$1')
        .replace(/\.$/, '');
}

export function isValidUid(uid: string): boolean {
  return uid.length > 0 && uid.length <= 64 && /^(0|[1-9]\d*)(\.(0|[1-9]\d*))+$/.test(uid);
}

let lastStudyMillis = 0;

/**
 * Study ids as in the newest samples: `yyMMddHHmmssSSS` (15 digits, local time). Ids from one
 * process never repeat (the clock is bumped a millisecond on collision); across processes the
 * unique index decides and the caller retries with `after`.
 */
export function nextStudyId(after?: string): string {
  let ms = Math.max(Date.now(), lastStudyMillis + 1);
  if (after) ms = Math.max(ms, parseStudyIdMillis(after) + 1);
  lastStudyMillis = ms;
  const d = new Date(ms);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getFullYear() % 100)}${p(d.getMonth() + 1)}${p(d.getDate())}${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}${p(d.getMilliseconds(), 3)}`;
}

function parseStudyIdMillis(id: string): number {
  const m = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{3})$/.exec(id);
  if (!m) return 0;
  const [, yy, MM, dd, hh, mm, ss, ms] = m.map(Number);
  return new Date(2000 + yy, MM - 1, dd, hh, mm, ss, ms).getTime();
}
