import { execFile, spawnSync } from 'node:child_process';
import iconv from 'iconv-lite';
import { readDataSet } from '../src/dicom/reader.js';
import { TAGS } from '../src/dicom/tags.js';

/** Byte fixtures of Chinese (and other) names in the character sets a RIS or modality uses (issue 17). */
export const LI_LEI = '李^雷';
export const today = new Date().toISOString().slice(0, 10).replace(/-/g, '');
export const day = `${today.slice(0, 4)}-${today.slice(4, 6)}-${today.slice(6)}`;
const ESC = '\x1b';

/** The RIS's four ways of keeping 李^雷: UTF-8 or GB18030, with or without (0008,0005). */
export const RIS_VARIANTS = [
  { key: 'U8D', charset: 'ISO_IR 192', encoding: 'utf8' },
  { key: 'U8N', charset: undefined, encoding: 'utf8' },
  { key: 'GBD', charset: 'GB18030', encoding: 'gb18030' },
  { key: 'GBN', charset: undefined, encoding: 'gb18030' },
] as const;

/** A worklist item as dump2dcm text, its name in the variant's bytes. */
export function risItem(v: (typeof RIS_VARIANTS)[number], stamp: string): Buffer {
  const line = (s: string) => Buffer.from(`${s}\n`, 'latin1');
  return Buffer.concat([
    ...(v.charset ? [line(`(0008,0005) CS  [${v.charset}]`)] : []),
    line(`(0008,0050) SH  [A${v.key}${stamp}]`),
    line('(0008,0090) PN  [Ref^Doctor]'),
    Buffer.from('(0010,0010) PN  ['),
    iconv.encode(LI_LEI, v.encoding),
    line(']'),
    line(`(0010,0020) LO  [P${v.key}${stamp}]`),
    line('(0010,0030) DA  [19900102]'),
    line('(0010,0040) CS  [M]'),
    line(`(0020,000d) UI  [1.2.826.0.1.3680043.2.1143.${stamp}.${RIS_VARIANTS.indexOf(v) + 1}]`),
    Buffer.from('(0032,1060) LO  ['),
    iconv.encode('胸部正位', v.encoding),
    line(']'),
    line('(0040,0100) SQ'),
    line('(fffe,e000) -'),
    line('(0008,0060) CS  [DX]'),
    line('(0040,0001) AE  [ROENTGEN]'),
    line(`(0040,0002) DA  [${today}]`),
    line('(0040,0003) TM  [093000]'),
    Buffer.from('(0040,0007) LO  ['),
    iconv.encode('胸部', v.encoding),
    line(']'),
    line('(0040,0009) SH  [SPS1]'),
    line('(fffe,e00d) -'),
    line('(fffe,e0dd) -'),
    line('(0040,1001) SH  [RP1]'),
  ]);
}

/** What `dcmdump +U8` (DCMTK decoding by (0008,0005), printing UTF-8) shows as a file's Patient's Name. */
export function dumpedName(file: string): string {
  const dump = spawnSync('dcmdump', ['+U8', '+P', '0010,0010', file], { encoding: 'utf8' });
  return /\[(.*)\]/.exec(dump.stdout)?.[1] ?? dump.stdout + dump.stderr;
}

/**
 * A DX object (as a modality sends it) whose Specific Character Set and Patient's Name are
 * replaced by the given bytes: spliced into the explicit VR file, whose dataset has no group lengths.
 */
export function withName(file: Buffer, charset: string | undefined, name: Buffer): Buffer {
  const ds = readDataSet(file);
  const element = (group: number, el: number, vr: string, value: Buffer) => {
    const padded = value.length % 2 ? Buffer.concat([value, Buffer.from(' ')]) : value;
    const head = Buffer.alloc(8);
    head.writeUInt16LE(group, 0);
    head.writeUInt16LE(el, 2);
    head.write(vr, 4, 'latin1');
    head.writeUInt16LE(padded.length, 6);
    return Buffer.concat([head, padded]);
  };
  const span = (tag: string) => {
    const e = ds.elements[tag];
    return [e.dataOffset - 8, e.dataOffset + e.length] as const;
  };
  const [csStart, csEnd] = span(TAGS.specificCharacterSet);
  const [pnStart, pnEnd] = span(TAGS.patientName);
  return Buffer.concat([
    file.subarray(0, csStart),
    charset === undefined ? Buffer.alloc(0) : element(0x0008, 0x0005, 'CS', Buffer.from(charset, 'latin1')),
    file.subarray(csEnd, pnStart),
    element(0x0010, 0x0010, 'PN', name),
    file.subarray(pnEnd),
  ]);
}

export const gb = (s: string) => iconv.encode(s, 'gb18030');
const jis = (s: string) => Buffer.from([...iconv.encode(s, 'euc-jp')].map((b) => b & 0x7f));

/** Objects a modality might send: [declared set, Patient's Name bytes, the name we must show]. */
export const SENT: [string | undefined, Buffer, string][] = [
  ['ISO_IR 192', Buffer.from(LI_LEI), LI_LEI],
  ['GB18030', gb(LI_LEI), LI_LEI],
  ['GBK', gb(LI_LEI), LI_LEI],
  ['ISO_IR 100', Buffer.from('Müller^Jörg', 'latin1'), 'Müller^Jörg'],
  ['\\ISO 2022 IR 58', Buffer.concat([Buffer.from(`Li^Lei=${ESC}$)A`), gb('李'), Buffer.from(`^${ESC}$)A`), gb('雷')]), 'Li^Lei=李^雷'],
  [
    'ISO 2022 IR 6\\ISO 2022 IR 87',
    Buffer.concat([
      Buffer.from(`Yamada^Tarou=${ESC}$B`),
      jis('山田'),
      Buffer.from(`${ESC}(B^${ESC}$B`),
      jis('太郎'),
      Buffer.from(`${ESC}(B`),
    ]),
    'Yamada^Tarou=山田^太郎',
  ],
  [
    '\\ISO 2022 IR 149',
    Buffer.concat([
      Buffer.from(`Hong^Gildong=${ESC}$)C`),
      iconv.encode('洪', 'euc-kr'),
      Buffer.from(`^${ESC}$)C`),
      iconv.encode('吉洞', 'euc-kr'),
    ]),
    'Hong^Gildong=洪^吉洞',
  ],
  [undefined, gb(LI_LEI), LI_LEI],
  [undefined, Buffer.from(LI_LEI), LI_LEI],
];

/** A DCMTK tool, asynchronously: our own SCP answers on this process's event loop. */
export function dcmtk(tool: string, args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(tool, args, { env: { ...process.env, TCP_NODELAY: '1' } }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, output: `${stdout}${stderr}` });
    });
  });
}
