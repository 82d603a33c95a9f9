import dcmjs from 'dcmjs';
import { personNameGroups } from './charsets.js';
import { DicomReadError, elementOf, readDataSet, textValue, TRANSFER_SYNTAX, type DataSet } from './reader.js';
import { TAGS } from './tags.js';

/** Our implementation identity in every file we write (PS3.7 D.3.3.2). */
export const IMPLEMENTATION_CLASS_UID = '2.25.208436957532941862398475329451781253247';
export const IMPLEMENTATION_VERSION = 'ROENTGEN_0_1';
export const EXPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2.1';

const pad2 = (n: number) => String(n).padStart(2, '0');
export const da = (d: Date) => `${d.getFullYear()}${pad2(d.getMonth() + 1)}${pad2(d.getDate())}`;
export const tm = (d: Date) => `${pad2(d.getHours())}${pad2(d.getMinutes())}${pad2(d.getSeconds())}`;
/** DS values: at most 16 characters. */
export const ds = (n: number) => Number(n.toPrecision(10));

export type Dataset = Record<string, unknown>;

/** A naturalized dataset (dcmjs keywords) as a Part 10 file in explicit VR little endian. */
/** `identity` names the meta header's SOP class and instance when the dataset has none (a query identifier). */
export function writePart10(dataset: Dataset, identity?: { sopClassUid: string; sopInstanceUid: string }): Buffer {
  return Buffer.concat(writePart10Parts(dataset, identity));
}

/**
 * The same file as consecutive parts: the header (a complete Part 10 file up to Pixel Data),
 * the Pixel Data element's header and the pixels, a view of the caller's frame. Written with
 * one writev, an 18 MB frame is never copied: Buffer.concat of it cost ~15–60 ms here, most of
 * it page faults on the fresh copy.
 */
export function writePart10Parts(dataset: Dataset, identity?: { sopClassUid: string; sopInstanceUid: string }): Uint8Array[] {
  const sopClass = identity?.sopClassUid ?? (dataset.SOPClassUID as string);
  const sopInstance = identity?.sopInstanceUid ?? (dataset.SOPInstanceUID as string);
  const meta = {
    FileMetaInformationVersion: new Uint8Array([0, 1]).buffer,
    MediaStorageSOPClassUID: sopClass,
    MediaStorageSOPInstanceUID: sopInstance,
    TransferSyntaxUID: EXPLICIT_VR_LITTLE_ENDIAN,
    ImplementationClassUID: IMPLEMENTATION_CLASS_UID,
    ImplementationVersionName: IMPLEMENTATION_VERSION,
  };
  const { DicomDict, DicomMetaDictionary } = dcmjs.data;
  const dict = new DicomDict(DicomMetaDictionary.denaturalizeDataset(meta));
  const pixels = nativePixelData(dataset);
  const withoutPixels = { ...dataset };
  if (pixels) delete withoutPixels.PixelData;
  dict.dict = DicomMetaDictionary.denaturalizeDataset(withoutPixels);
  const head = Buffer.from(dict.write());
  return pixels ? [head, ...pixelDataElement(pixels.bytes, pixels.vr)] : [head];
}

/**
 * Native (one-buffer) pixel data, which we append ourselves: dcmjs copies it byte by byte, ~130 ms
 * for an 18 MB 3072² frame here against ~5 ms for a header plus one concat. Pixel Data
 * (7FE0,0010) is the last element we write, so appending keeps the dataset in tag order.
 */
function nativePixelData(dataset: Dataset): { bytes: Uint8Array; vr: 'OB' | 'OW' } | undefined {
  const value = dataset.PixelData;
  let bytes: Uint8Array;
  if (value instanceof ArrayBuffer || value instanceof SharedArrayBuffer) bytes = new Uint8Array(value);
  else if (ArrayBuffer.isView(value)) bytes = new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  else return undefined;
  const vr = (dataset._vrMap as Record<string, string> | undefined)?.PixelData;
  return { bytes, vr: vr === 'OB' ? 'OB' : 'OW' };
}

/** (7FE0,0010) in explicit VR little endian, padded to even length (PS3.5 7.1.2). */
function pixelDataElement(bytes: Uint8Array, vr: 'OB' | 'OW'): Uint8Array[] {
  const padded = bytes.length % 2;
  const header = Buffer.alloc(12);
  header.writeUInt16LE(0x7fe0, 0);
  header.writeUInt16LE(0x0010, 2);
  header.write(vr, 4, 'latin1');
  header.writeUInt32LE(bytes.length + padded, 8);
  return padded ? [header, bytes, Buffer.alloc(1)] : [header, bytes];
}

/**
 * Preamble and group 0002 for a dataset received over the network, so it is kept as a Part 10
 * file (PS3.10 §7.1) in the transfer syntax it came in. Hand-written: dcmjs takes ~180 µs to
 * write these seven elements, this ~17 µs, once per received object.
 */
export function metaHeader(o: { sopClassUid: string; sopInstanceUid: string; transferSyntax: string; sourceAet: string }): Buffer {
  const element = (elementNo: number, vr: string, value: Buffer) => {
    const header = Buffer.alloc(vr === 'OB' ? 12 : 8);
    header.writeUInt16LE(0x0002, 0);
    header.writeUInt16LE(elementNo, 2);
    header.write(vr, 4, 'latin1');
    if (vr === 'OB') header.writeUInt32LE(value.length, 8);
    else header.writeUInt16LE(value.length, 6);
    return Buffer.concat([header, value]);
  };
  const text = (s: string, pad: string) => Buffer.from(s.length % 2 ? s + pad : s, 'latin1');
  const body = Buffer.concat([
    element(0x0001, 'OB', Buffer.from([0, 1])),
    element(0x0002, 'UI', text(o.sopClassUid, '\0')),
    element(0x0003, 'UI', text(o.sopInstanceUid, '\0')),
    element(0x0010, 'UI', text(o.transferSyntax, '\0')),
    element(0x0012, 'UI', text(IMPLEMENTATION_CLASS_UID, '\0')),
    element(0x0013, 'SH', text(IMPLEMENTATION_VERSION, ' ')),
    ...(o.sourceAet ? [element(0x0016, 'AE', text(o.sourceAet, ' '))] : []),
  ]);
  const length = element(0x0000, 'UL', Buffer.alloc(4));
  length.writeUInt32LE(body.length, 8);
  const preamble = Buffer.alloc(132);
  preamble.write('DICM', 128, 'latin1');
  return Buffer.concat([preamble, length, body]);
}

/**
 * A Part 10 file as a naturalized dataset (pixel data stays as dcmjs reads it), to change and
 * write again with writePart10: the DICOM façade's editing half (reader.ts reads). Its text is
 * decoded by the one rule of charsets.ts, not by dcmjs (which reads undeclared text as Latin-1
 * and refuses ISO 2022 code extensions), and it declares ISO_IR 192, as writePart10 writes it.
 * Never throws anything but DicomReadError.
 */
export function readPart10(bytes: Uint8Array): Dataset {
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  let parsed: DataSet | undefined;
  try {
    parsed = readDataSet(bytes);
  } catch {
    parsed = undefined; // dcmjs may still read it (and says why not below)
  }
  const deflated = parsed?.string(TAGS.transferSyntax)?.trim() === TRANSFER_SYNTAX.DEFLATED_LE;
  // dcmjs would decode (or refuse) by (0008,0005): blanked in its copy, its text is re-decoded below.
  if (parsed && !deflated) blankCharsets(parsed, new Uint8Array(buffer));
  try {
    const file = dcmjs.data.DicomMessage.readFile(buffer);
    if (parsed && !deflated) {
      redecodeText(file.dict as DcmjsDict, parsed);
      file.dict[CHARSET_KEY] = { vr: 'CS', Value: ['ISO_IR 192'] };
    }
    return dcmjs.data.DicomMetaDictionary.naturalizeDataset(file.dict);
  } catch (error) {
    throw new DicomReadError(`not a readable DICOM file: ${error instanceof Error ? error.message : String(error)}`);
  }
}

interface DcmjsElement {
  vr: string;
  Value?: unknown[];
  _rawValue?: unknown;
}
type DcmjsDict = Record<string, DcmjsElement>;

const CHARSET_KEY = '00080005';
/** Text VRs whose value may be multi-valued (LT, ST and UT are one value that may hold a backslash). */
const MULTI_VALUED_TEXT = new Set(['SH', 'LO', 'PN', 'UC']);
const SINGLE_VALUED_TEXT = new Set(['ST', 'LT', 'UT']);

function blankCharsets(ds: DataSet, copy: Uint8Array): void {
  for (const key in ds.elements) {
    const element = ds.elements[key];
    if (key === TAGS.specificCharacterSet) copy.fill(0x20, element.dataOffset, element.dataOffset + element.length);
    for (const item of element.items ?? []) if (item.dataSet) blankCharsets(item.dataSet, copy);
  }
}

function redecodeText(dict: DcmjsDict, ds: DataSet): void {
  for (const [tag, element] of Object.entries(dict)) {
    const key = `x${tag.toLowerCase()}`;
    if (element.vr === 'SQ') {
      const items = elementOf(ds, key)?.items ?? [];
      (element.Value ?? []).forEach((item, i) => {
        const itemSet = items[i]?.dataSet;
        if (itemSet) redecodeText(item as DcmjsDict, itemSet);
      });
      for (const item of (element.Value ?? []) as DcmjsDict[]) Reflect.deleteProperty(item, CHARSET_KEY);
      continue;
    }
    const multi = MULTI_VALUED_TEXT.has(element.vr);
    if (!multi && !SINGLE_VALUED_TEXT.has(element.vr)) continue;
    const value = textValue(ds, key);
    if (value === undefined) continue;
    const values = multi ? value.split('\\').map((v) => v.trim()) : [value.trimEnd()];
    element.Value = element.vr === 'PN' ? values.map(personNameObject) : values;
    delete element._rawValue;
  }
}

/** A PN value as dcmjs holds it: its non-empty component groups by name. */
function personNameObject(value: string): Record<string, string> {
  const { alphabetic, ideographic, phonetic } = personNameGroups(value);
  return {
    ...(alphabetic ? { Alphabetic: alphabetic } : {}),
    ...(ideographic ? { Ideographic: ideographic } : {}),
    ...(phonetic ? { Phonetic: phonetic } : {}),
  };
}

/** Native pixel data for writePart10: a view of the frame, written without a copy. */
export const pixelBuffer = (data: Uint8Array | Uint16Array): Uint8Array => new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
