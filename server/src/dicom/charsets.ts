import iconv from 'iconv-lite';

/**
 * Text in DICOM by its Specific Character Set (0008,0005), PS3.5 §6.1 and Annex J: the one rule
 * every reader of text uses (reader.ts's `text`). A value is decoded as a whole before it is split
 * at `\`, `^` or `=`: in GBK and GB18030 a character's second byte may be 0x5C or 0x5E, and in
 * JIS X 0208 any byte 0x21–0x7E.
 *
 * Undeclared text (no or an empty (0008,0005), or plain ASCII declared and broken by other bytes,
 * or a term we do not know) is what many RIS and modalities send: it is decoded in the configured
 * default set when there is one, else as UTF-8 when it is valid UTF-8, else as GB18030. Never as
 * Latin-1 by accident: UTF-8 or GBK read as Latin-1 is the garbled name a console must not show.
 */

/** Single-byte and whole-value sets: the term without its `ISO 2022` form, and the decoder label. */
const WHOLE_VALUE_SETS: Partial<Record<string, string>> = {
  ISO_IR_6: 'ascii',
  ISO_IR_100: 'latin1',
  ISO_IR_101: 'iso-8859-2',
  ISO_IR_109: 'iso-8859-3',
  ISO_IR_110: 'iso-8859-4',
  ISO_IR_144: 'iso-8859-5',
  ISO_IR_127: 'iso-8859-6',
  ISO_IR_126: 'iso-8859-7',
  ISO_IR_138: 'iso-8859-8',
  ISO_IR_148: 'windows-1254',
  ISO_IR_203: 'iso-8859-15',
  ISO_IR_166: 'windows-874',
  ISO_IR_13: 'shift_jis',
  ISO_IR_192: 'utf-8',
  GB18030: 'gb18030',
  GBK: 'gbk',
};

/** The terms a default character set may name (config, node settings). */
export const DEFAULT_CHARSET_TERMS = ['ISO_IR 192', 'GB18030', 'GBK', 'ISO_IR 100'] as const;

const normalized = (term: string) =>
  term
    .trim()
    .toUpperCase()
    .replace(/[\s-]+/g, '_');

/** Whether a term names a set we decode as a whole value (as a default set must). */
export function isKnownCharset(term: string): boolean {
  return normalized(term) in WHOLE_VALUE_SETS;
}

const decoders = new Map<string, TextDecoder>();
function decoder(label: string): TextDecoder {
  let d = decoders.get(label);
  if (!d) {
    d = new TextDecoder(label);
    decoders.set(label, d);
  }
  return d;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** Node's latin1 is ISO 8859-1 proper; WHATWG's `latin1` label is windows-1252. */
function latin1(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}

function decodeWhole(bytes: Uint8Array, label: string): string {
  return label === 'latin1' || label === 'ascii' ? latin1(bytes) : decoder(label).decode(bytes);
}

let siteDefault: string | undefined;

/**
 * The site-wide default set for undeclared text (configuration, set once at start and in each
 * thread that reads DICOM); undefined: UTF-8 when valid, else GB18030.
 */
export function setSiteDefaultCharset(term: string | undefined): void {
  if (term !== undefined && !isKnownCharset(term)) throw new Error(`unknown DICOM character set ${term}`);
  siteDefault = term;
}

export function siteDefaultCharset(): string | undefined {
  return siteDefault;
}

let nodeCharsets = new Map<string, string>();

/**
 * The sets configured for DICOM nodes, by AE title (kept per thread, refreshed when nodes change):
 * a received file's undeclared text is read in its sender's set, found by the file's Source AE
 * Title (0002,0016).
 */
export function setNodeCharsets(byAet: Iterable<readonly [string, string]>): void {
  nodeCharsets = new Map([...byAet].filter(([, term]) => isKnownCharset(term)).map(([aet, term]) => [aet.trim(), term]));
}

export function nodeCharset(aet: string | undefined): string | undefined {
  return aet === undefined ? undefined : nodeCharsets.get(aet.trim());
}

/** Undeclared non-ASCII text: the default set (a node's, else the site's), else UTF-8 when valid, else GB18030. */
function decodeUndeclared(bytes: Uint8Array, defaultCharset: string | undefined): string {
  const preferred = defaultCharset ?? siteDefault;
  const label = preferred === undefined ? undefined : WHOLE_VALUE_SETS[normalized(preferred)];
  if (label !== undefined && label !== 'ascii') return decodeWhole(bytes, label);
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return decoder('gb18030').decode(bytes);
  }
}

function isPlainAscii(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i += 1) if (bytes[i] >= 0x80 || bytes[i] === 0x1b) return false;
  return true;
}

/**
 * A text value's bytes as a string, by the dataset's (0008,0005) value (backslash-separated
 * terms, undefined when absent) and the default set for undeclared text.
 */
export function decodeText(bytes: Uint8Array, specificCharacterSet: string | undefined, defaultCharset?: string): string {
  if (isPlainAscii(bytes)) return latin1(bytes);
  const terms = (specificCharacterSet ?? '').split('\\').map(normalized);
  if (terms.every((t) => t === '' || t === 'ISO_IR_6' || t === 'ISO_2022_IR_6') && !bytes.includes(0x1b))
    return decodeUndeclared(bytes, defaultCharset);
  if (terms.length === 1 && !terms[0].startsWith('ISO_2022')) {
    const label = WHOLE_VALUE_SETS[terms[0]];
    return label === undefined ? decodeUndeclared(bytes, defaultCharset) : decodeWhole(bytes, label);
  }
  return decodeIso2022(bytes, terms[0], defaultCharset);
}

// ISO 2022 code extensions (PS3.5 §6.1.2.5, Annex J): G0 holds ASCII or a 94² JIS set,
// G1 (bytes 0xA0–0xFF) a 96-character set or a 94² set in its EUC form.
type G0 = 'ascii' | 'jis0208' | 'jis0212';
type G1 = 'none' | 'katakana' | 'gb2312' | 'ksc' | `single:${string}`;

const G1_SINGLE: Record<string, string> = {
  A: 'latin1',
  B: 'iso-8859-2',
  C: 'iso-8859-3',
  D: 'iso-8859-4',
  L: 'iso-8859-5',
  G: 'iso-8859-6',
  F: 'iso-8859-7',
  H: 'iso-8859-8',
  M: 'windows-1254',
  T: 'windows-874',
  b: 'iso-8859-15',
};

/** The G1 set value 1 of (0008,0005) designates from the start (none for IR 6 and IR 87). */
function initialG1(term: string): G1 {
  const ir = /(?:^|_)IR_(\d+)$/.exec(term)?.[1];
  switch (ir) {
    case '13':
      return 'katakana';
    case '58':
      return 'gb2312';
    case '149':
      return 'ksc';
    case undefined:
    case '6':
    case '87':
    case '159':
    case '192':
      return 'none';
    default: {
      const label = WHOLE_VALUE_SETS[`ISO_IR_${ir}`];
      return label ? `single:${label}` : 'none';
    }
  }
}

/** The escape sequence at `at` (after ESC): its length and the set it designates, or undefined. */
function escape(bytes: Uint8Array, at: number): { length: number; g0?: G0; g1?: G1 } | undefined {
  const seq = String.fromCharCode(...bytes.subarray(at, at + 3));
  if (seq.startsWith('(B') || seq.startsWith('(J')) return { length: 2, g0: 'ascii' };
  if (seq.startsWith('$B') || seq.startsWith('$@')) return { length: 2, g0: 'jis0208' };
  if (seq === '$(D') return { length: 3, g0: 'jis0212' };
  if (seq.startsWith(')I')) return { length: 2, g1: 'katakana' };
  if (seq === '$)A') return { length: 3, g1: 'gb2312' };
  if (seq === '$)C') return { length: 3, g1: 'ksc' };
  if (seq[0] === '-' && G1_SINGLE[seq[1]]) return { length: 2, g1: `single:${G1_SINGLE[seq[1]]}` };
  return undefined;
}

/** A run of bytes in one G0/G1 state, as EUC (for the 94² sets) or through the G1 set's decoder. */
function decodeRun(run: number[], g0: G0, g1: G1, defaultCharset: string | undefined): string {
  if (run.length === 0) return '';
  const bytes = Uint8Array.from(run);
  if (g0 !== 'ascii') {
    // JIS X 0208/0212 in G0 as EUC-JP: each 7-bit byte with its high bit set (0212 behind 0x8F).
    const euc: number[] = [];
    for (let i = 0; i < bytes.length; i += 1) {
      const b = bytes[i];
      if (b >= 0x21 && b <= 0x7e && i + 1 < bytes.length) {
        if (g0 === 'jis0212') euc.push(0x8f);
        euc.push(b | 0x80, bytes[i + 1] | 0x80);
        i += 1;
      } else if (b >= 0xa1 && b <= 0xdf && g1 === 'katakana') euc.push(0x8e, b);
      else euc.push(b);
    }
    return decoder('euc-jp').decode(Uint8Array.from(euc));
  }
  if (isPlainAscii(bytes)) return latin1(bytes);
  switch (g1) {
    case 'katakana':
      return decoder('shift_jis').decode(bytes);
    case 'gb2312':
      return decoder('gb18030').decode(bytes);
    case 'ksc':
      return decoder('euc-kr').decode(bytes);
    case 'none':
      return decodeUndeclared(bytes, defaultCharset);
    default:
      return decodeWhole(bytes, g1.slice('single:'.length));
  }
}

/** Bytes at which value 1's sets are active again (PS3.5 §6.1.2.5.3): delimiters and controls. */
const RESETS = new Set([0x5c, 0x5e, 0x3d, 0x0a, 0x0d, 0x09, 0x0c]);

function decodeIso2022(bytes: Uint8Array, firstTerm: string, defaultCharset: string | undefined): string {
  const startG1 = initialG1(firstTerm);
  let g0: G0 = 'ascii';
  let g1: G1 = startG1;
  let out = '';
  let run: number[] = [];
  const flush = () => {
    out += decodeRun(run, g0, g1, defaultCharset);
    run = [];
  };
  for (let i = 0; i < bytes.length; i += 1) {
    const b = bytes[i];
    if (b === 0x1b) {
      const designation = escape(bytes, i + 1);
      if (designation) {
        flush();
        if (designation.g0) g0 = designation.g0;
        if (designation.g1) g1 = designation.g1;
        i += designation.length;
        continue;
      }
    }
    if (g0 !== 'ascii' && b >= 0x21 && b <= 0x7e) {
      // Two bytes of a 94² character: a `\`, `^` or `=` here is half of it, not a delimiter.
      run.push(b, bytes[i + 1] ?? 0x20);
      i += 1;
      continue;
    }
    if (RESETS.has(b) || b < 0x20) {
      flush();
      g0 = 'ascii';
      // A G1 set value 1 named comes back; one designated without it stays (writers that
      // designate once per value, not once per component group, are common).
      if (startG1 !== 'none') g1 = startG1;
      out += String.fromCharCode(b);
      continue;
    }
    run.push(b);
  }
  flush();
  return out;
}

/** A Person Name's component groups (PS3.5 §6.2.1): alphabetic, ideographic, phonetic. */
export function personNameGroups(name: string): { alphabetic: string; ideographic: string; phonetic: string } {
  const [alphabetic = '', ideographic = '', phonetic = ''] = name.split('=');
  return { alphabetic, ideographic, phonetic };
}

/** Text for a dataset declaring `term` (ISO_IR 192 or GB18030: the sets we write). */
export function encodeText(value: string, term: string): Buffer {
  return normalized(term) === 'GB18030' ? iconv.encode(value, 'gb18030') : Buffer.from(value, 'utf8');
}
