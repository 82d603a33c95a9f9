import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import { describe, test } from 'node:test';
import { metaHeader, readPart10 } from './part10.js';
import { decodeFrame } from './pixels.js';
import { DicomReadError, elementOf, readDataSet, readDicom, readMetaHeader, text, TRANSFER_SYNTAX as TS } from './reader.js';
import { TAGS } from './tags.js';

/**
 * Datasets are written here by hand, element by element, so each transfer syntax's encoding
 * (implicit, explicit, big endian, deflated) is what the test says it is, not what a library
 * chose to write.
 */
type Vr = 'UI' | 'PN' | 'LO' | 'CS' | 'DA' | 'US' | 'DS' | 'OW' | 'SQ';
interface El {
  group: number;
  element: number;
  vr: Vr;
  value: string | number[] | El[][];
}

const SOP_CLASS = '1.2.840.10008.5.1.4.1.1.1.1';
const SOP_INSTANCE = '2.25.314159265358979';
const PIXELS = [0, 1000, 2000, 4095, 7, 300];

const elements: El[] = [
  { group: 0x0008, element: 0x0016, vr: 'UI', value: SOP_CLASS },
  { group: 0x0008, element: 0x0018, vr: 'UI', value: SOP_INSTANCE },
  { group: 0x0008, element: 0x0020, vr: 'DA', value: '20250619' },
  { group: 0x0008, element: 0x0060, vr: 'CS', value: 'DX' },
  { group: 0x0010, element: 0x0010, vr: 'PN', value: 'Doe^Jane' },
  { group: 0x0010, element: 0x0020, vr: 'LO', value: 'P-42 ' },
  { group: 0x0020, element: 0x000d, vr: 'UI', value: '2.25.1' },
  { group: 0x0020, element: 0x000e, vr: 'UI', value: '2.25.2' },
  { group: 0x0028, element: 0x0002, vr: 'US', value: [1] },
  { group: 0x0028, element: 0x0004, vr: 'CS', value: 'MONOCHROME2' },
  { group: 0x0028, element: 0x0010, vr: 'US', value: [2] },
  { group: 0x0028, element: 0x0011, vr: 'US', value: [3] },
  { group: 0x0028, element: 0x0100, vr: 'US', value: [16] },
  { group: 0x0028, element: 0x0101, vr: 'US', value: [12] },
  { group: 0x0028, element: 0x0102, vr: 'US', value: [11] },
  { group: 0x0028, element: 0x0103, vr: 'US', value: [0] },
  { group: 0x0028, element: 0x1050, vr: 'DS', value: '2048' },
  { group: 0x0028, element: 0x1051, vr: 'DS', value: '4096' },
  { group: 0x0040, element: 0x0100, vr: 'SQ', value: [[{ group: 0x0040, element: 0x0001, vr: 'CS', value: 'STATION1' }]] },
  { group: 0x7fe0, element: 0x0010, vr: 'OW', value: PIXELS },
];

type Encoding = { explicit: boolean; littleEndian: boolean };

function valueBytes(el: El, enc: Encoding): Buffer {
  if (el.vr === 'SQ') {
    const items = (el.value as El[][]).map((item) => {
      const body = Buffer.concat(item.map((child) => encode(child, enc)));
      return Buffer.concat([tagBytes(0xfffe, 0xe000, enc), u32(body.length, enc), body]);
    });
    return Buffer.concat(items);
  }
  if (el.vr === 'US' || el.vr === 'OW') {
    const values = el.value as number[];
    const out = Buffer.alloc(values.length * 2);
    values.forEach((v, i) => (enc.littleEndian ? out.writeUInt16LE(v, i * 2) : out.writeUInt16BE(v, i * 2)));
    return out;
  }
  const s = el.value as string;
  return Buffer.from(s.length % 2 ? s + (el.vr === 'UI' ? '\0' : ' ') : s, 'latin1');
}

const u16 = (n: number, enc: Encoding) => {
  const b = Buffer.alloc(2);
  if (enc.littleEndian) b.writeUInt16LE(n);
  else b.writeUInt16BE(n);
  return b;
};
const u32 = (n: number, enc: Encoding) => {
  const b = Buffer.alloc(4);
  if (enc.littleEndian) b.writeUInt32LE(n);
  else b.writeUInt32BE(n);
  return b;
};
const tagBytes = (group: number, element: number, enc: Encoding) => Buffer.concat([u16(group, enc), u16(element, enc)]);

function encode(el: El, enc: Encoding): Buffer {
  const value = valueBytes(el, enc);
  const head = tagBytes(el.group, el.element, enc);
  if (!enc.explicit) return Buffer.concat([head, u32(value.length, enc), value]);
  const long = el.vr === 'OW' || el.vr === 'SQ';
  const vr = Buffer.from(el.vr, 'latin1');
  return long
    ? Buffer.concat([head, vr, Buffer.alloc(2), u32(value.length, enc), value])
    : Buffer.concat([head, vr, u16(value.length, enc), value]);
}

const ENCODINGS: Record<string, Encoding> = {
  [TS.IMPLICIT_LE]: { explicit: false, littleEndian: true },
  [TS.EXPLICIT_LE]: { explicit: true, littleEndian: true },
  [TS.EXPLICIT_BE]: { explicit: true, littleEndian: false },
  [TS.DEFLATED_LE]: { explicit: true, littleEndian: true },
};

function dataset(transferSyntax: string): Buffer {
  const body = Buffer.concat(elements.map((el) => encode(el, ENCODINGS[transferSyntax])));
  return transferSyntax === TS.DEFLATED_LE ? zlib.deflateRawSync(body) : body;
}

function part10(transferSyntax: string): Buffer {
  return Buffer.concat([
    metaHeader({ sopClassUid: SOP_CLASS, sopInstanceUid: SOP_INSTANCE, transferSyntax, sourceAet: 'MODALITY' }),
    dataset(transferSyntax),
  ]);
}

describe('the DICOM reading façade', () => {
  for (const [name, syntax] of [
    ['implicit VR LE', TS.IMPLICIT_LE],
    ['explicit VR LE', TS.EXPLICIT_LE],
    ['explicit VR BE', TS.EXPLICIT_BE],
    ['deflated', TS.DEFLATED_LE],
  ] as const) {
    test(`${name}: attributes, sequences, image attributes and pixels`, async () => {
      const file = part10(syntax);
      const ds = readDataSet(file);
      assert.equal(text(ds, TAGS.patientName), 'Doe^Jane');
      assert.equal(text(ds, TAGS.patientId), 'P-42', 'text() trims the padding');
      assert.equal(text(ds, TAGS.studyDate), '20250619');
      assert.equal(text(ds, TAGS.accessionNumber), '', 'an absent attribute reads as empty');
      assert.equal(ds.uint16(TAGS.columns), 3);
      const step = elementOf(ds, TAGS.scheduledStepSequence)?.items?.[0]?.dataSet;
      assert.equal(text(step, TAGS.scheduledStationAet), 'STATION1');

      const parsed = readDicom(file);
      assert.equal(parsed.meta.transferSyntaxUid, syntax);
      assert.equal(parsed.littleEndian, syntax !== TS.EXPLICIT_BE);
      assert.deepEqual(
        [
          parsed.meta.sopClassUid,
          parsed.meta.sopInstanceUid,
          parsed.meta.studyInstanceUid,
          parsed.meta.seriesInstanceUid,
          parsed.meta.modality,
        ],
        [SOP_CLASS, SOP_INSTANCE, '2.25.1', '2.25.2', 'DX'],
      );
      assert.deepEqual([parsed.meta.rows, parsed.meta.columns, parsed.meta.bitsAllocated, parsed.meta.bitsStored], [2, 3, 16, 12]);
      assert.deepEqual(parsed.meta.windows, [{ center: 2048, width: 4096 }]);
      const frame = await decodeFrame(parsed, 0);
      assert.equal(frame.kind, 'grey');
      assert.deepEqual([...frame.data], PIXELS);
    });
  }

  test('a bare dataset in the transfer syntax DIMSE names (no meta header)', () => {
    const bare = dataset(TS.EXPLICIT_BE);
    assert.throws(() => readDataSet(bare), DicomReadError, 'without a syntax, big endian is not guessed');
    const parsed = readDicom(bare, { transferSyntax: TS.EXPLICIT_BE });
    assert.equal(parsed.meta.sopInstanceUid, SOP_INSTANCE);
    assert.equal(readDicom(dataset(TS.IMPLICIT_LE)).meta.rows, 2, 'a bare implicit dataset starting at group 0008 is read');
  });

  test('meta header: what the file holds and where its dataset starts', () => {
    for (const syntax of Object.keys(ENCODINGS)) {
      const file = part10(syntax);
      const meta = readMetaHeader(file);
      assert.deepEqual([meta.transferSyntax, meta.sopClassUid, meta.sopInstanceUid], [syntax, SOP_CLASS, SOP_INSTANCE]);
      assert.ok(file.subarray(meta.datasetOffset).equals(dataset(syntax)), `${syntax}: the dataset follows the header`);
    }
    const file = part10(TS.EXPLICIT_LE);
    const { datasetOffset } = readMetaHeader(file);
    assert.equal(
      readMetaHeader(file.subarray(0, datasetOffset + 8), { headOnly: true }).datasetOffset,
      datasetOffset,
      'a head holding the header is enough',
    );
    assert.throws(() => readMetaHeader(file.subarray(0, datasetOffset - 4), { headOnly: true }), /runs past the bytes read/);
    // A head that ends before the next tag cannot tell whether group 0002 goes on.
    assert.throws(() => readMetaHeader(file.subarray(0, datasetOffset + 4), { headOnly: true }), /runs past the bytes read/);
    assert.throws(() => readMetaHeader(file.subarray(0, datasetOffset - 4)), /runs past the end of the file/);
    assert.throws(
      () => readMetaHeader(dataset(TS.EXPLICIT_LE)),
      (e: unknown) => e instanceof DicomReadError && /no DICM preamble/.test(e.message),
    );
  });

  test('untilPixelData reads the head of a file that ends inside its pixels', () => {
    const file = part10(TS.EXPLICIT_LE);
    // The file cut two bytes into the pixel values, as indexing reads a large file's first bytes.
    const head = file.subarray(0, file.length - PIXELS.length * 2 + 2);
    assert.throws(() => readDicom(head), DicomReadError, 'the whole-file read notices the cut');
    const parsed = readDicom(head, { untilPixelData: true });
    assert.equal(parsed.meta.sopInstanceUid, SOP_INSTANCE);
    assert.deepEqual([parsed.meta.rows, parsed.meta.columns], [2, 3]);
    assert.equal(text(parsed.dataSet, TAGS.patientName), 'Doe^Jane');
  });

  test('unreadable input is a DicomReadError, from both halves of the façade', () => {
    const junk = Buffer.from('junk'.repeat(100));
    assert.throws(() => readDicom(junk), DicomReadError);
    assert.throws(() => readDataSet(junk), DicomReadError);
    assert.throws(() => readPart10(junk), DicomReadError);
    assert.throws(() => readDicom(part10(TS.EXPLICIT_LE).subarray(0, 300)), DicomReadError);
  });

  test('readPart10 (editing) and readDicom agree on what they read', () => {
    const file = part10(TS.EXPLICIT_LE);
    const edited = readPart10(file);
    assert.equal(edited.SOPInstanceUID, SOP_INSTANCE);
    assert.equal(edited.PatientName !== undefined, true);
    assert.equal(edited.Rows, readDicom(file).meta.rows);
  });
});
