import zlib from 'node:zlib';
import dicomParser, { type DataSet, type Element } from 'dicom-parser';
import { decodeText, nodeCharset } from './charsets.js';
import { TAGS } from './tags.js';

/**
 * The one way this server reads DICOM: a dataset's attributes (readDataSet, with the tags of
 * `tags.ts`), an image's attributes and pixel element (readDicom, decoded by `pixels.ts`), and a
 * Part 10 file's meta header alone (readMetaHeader). Reading a file to change and write it again
 * is `part10.ts`'s readPart10/writePart10 pair: it needs dcmjs, which takes most of a second to
 * load and stays out of this module (the ingest index thread loads this one).
 */
export type { DataSet };

/** A dataset's element, or undefined when the data lacks it (dicom-parser's typings claim every tag is present). */
export function elementOf(ds: DataSet, tag: string): Element | undefined {
  return ds.elements[tag];
}

/** A file we cannot read as DICOM, with the reason in words a user can act on. */
export class DicomReadError extends Error {}

/** A transfer syntax we read but whose pixels we cannot decode (e.g. 12-bit JPEG). */
export class UnsupportedTransferSyntaxError extends DicomReadError {}

export const TRANSFER_SYNTAX = {
  IMPLICIT_LE: '1.2.840.10008.1.2',
  EXPLICIT_LE: '1.2.840.10008.1.2.1',
  DEFLATED_LE: '1.2.840.10008.1.2.1.99',
  EXPLICIT_BE: '1.2.840.10008.1.2.2',
  JPEG_BASELINE: '1.2.840.10008.1.2.4.50',
  JPEG_EXTENDED: '1.2.840.10008.1.2.4.51',
  JPEG_LOSSLESS: '1.2.840.10008.1.2.4.57',
  JPEG_LOSSLESS_SV1: '1.2.840.10008.1.2.4.70',
  JPEG_LS_LOSSLESS: '1.2.840.10008.1.2.4.80',
  JPEG_LS_NEAR: '1.2.840.10008.1.2.4.81',
  J2K_LOSSLESS: '1.2.840.10008.1.2.4.90',
  J2K: '1.2.840.10008.1.2.4.91',
  HTJ2K_LOSSLESS: '1.2.840.10008.1.2.4.201',
  HTJ2K_LOSSLESS_RPCL: '1.2.840.10008.1.2.4.202',
  HTJ2K: '1.2.840.10008.1.2.4.203',
  RLE: '1.2.840.10008.1.2.5',
} as const;

/** An inflated dataset larger than this is refused: a few kilobytes of deflate can claim gigabytes. */
const MAX_INFLATED_BYTES = 1 << 30;

export interface VoiLut {
  firstMapped: number;
  bits: number;
  data: Uint16Array;
}

export interface ImageMeta {
  transferSyntaxUid: string;
  sopClassUid: string;
  sopInstanceUid: string;
  studyInstanceUid: string;
  seriesInstanceUid: string;
  modality: string;
  rows: number;
  columns: number;
  samplesPerPixel: number;
  photometric: string;
  bitsAllocated: number;
  bitsStored: number;
  highBit: number;
  pixelRepresentation: number;
  planarConfiguration: number;
  numberOfFrames: number;
  rescaleSlope: number;
  rescaleIntercept: number;
  windows: { center: number; width: number }[];
  voiLutFunction: string;
  voiLut?: VoiLut;
  presentationLutShape: string;
}

export interface ParsedDicom {
  dataSet: DataSet;
  meta: ImageMeta;
  pixelData?: Element;
  littleEndian: boolean;
}

/** Inflates deflated datasets with Node's zlib, bounded (dicom-parser's own path has no limit). */
function inflater(bytes: Uint8Array, position: number): Uint8Array {
  let inflated: Buffer;
  try {
    inflated = zlib.inflateRawSync(bytes.subarray(position), { maxOutputLength: MAX_INFLATED_BYTES });
  } catch (error) {
    throw new DicomReadError(`the deflated dataset cannot be inflated: ${(error as Error).message}`);
  }
  const full = new Uint8Array(position + inflated.length);
  full.set(bytes.subarray(0, position), 0);
  full.set(inflated, position);
  return full;
}

function positive(value: number | undefined, name: string, max: number): number {
  if (value === undefined || !Number.isInteger(value) || value < 1 || value > max) {
    throw new DicomReadError(`${name} is ${value === undefined ? 'missing' : `invalid (${value})`}`);
  }
  return value;
}

function numbers(ds: DataSet, t: string): number[] {
  const raw = ds.string(t);
  if (!raw) return [];
  return raw.split('\\').map(Number).filter(Number.isFinite);
}

function readVoiLut(ds: DataSet, pixelRepresentation: number): VoiLut | undefined {
  const item = elementOf(ds, TAGS.voiLutSequence)?.items?.[0]?.dataSet;
  const data = item && elementOf(item, TAGS.lutData);
  if (!item || !data || data.length < 2) return undefined;
  const entries = item.uint16(TAGS.lutDescriptor, 0) || 65536;
  const firstMapped = (pixelRepresentation ? item.int16(TAGS.lutDescriptor, 1) : item.uint16(TAGS.lutDescriptor, 1)) ?? 0;
  const bits = item.uint16(TAGS.lutDescriptor, 2) ?? 16;
  const count = Math.min(entries, Math.floor(data.length / 2));
  const values = new Uint16Array(count);
  for (let i = 0; i < count; i += 1) values[i] = item.byteArrayParser.readUint16(item.byteArray, data.dataOffset + i * 2);
  return { firstMapped, bits: bits >= 1 && bits <= 16 ? bits : 16, data: values };
}

/** The attributes rendering and indexing need, checked for the ranges the decoders rely on. */
function imageMeta(ds: DataSet, transferSyntaxUid: string, pixelData: Element | undefined): ImageMeta {
  const meta: ImageMeta = {
    transferSyntaxUid,
    sopClassUid: ds.string(TAGS.sopClass) ?? '',
    sopInstanceUid: ds.string(TAGS.sopInstance) ?? '',
    studyInstanceUid: ds.string(TAGS.studyUid) ?? '',
    seriesInstanceUid: ds.string(TAGS.seriesUid) ?? '',
    modality: ds.string(TAGS.modality) ?? '',
    rows: 0,
    columns: 0,
    samplesPerPixel: 1,
    photometric: '',
    bitsAllocated: 0,
    bitsStored: 0,
    highBit: 0,
    pixelRepresentation: 0,
    planarConfiguration: 0,
    numberOfFrames: 1,
    rescaleSlope: 1,
    rescaleIntercept: 0,
    windows: [],
    voiLutFunction: 'LINEAR',
    presentationLutShape: '',
  };
  // A header written apart from its pixels (our own writers' parts) still describes the image.
  if (!pixelData && elementOf(ds, TAGS.rows) === undefined) return meta;
  meta.rows = positive(ds.uint16(TAGS.rows), 'Rows', 65535);
  meta.columns = positive(ds.uint16(TAGS.columns), 'Columns', 65535);
  meta.samplesPerPixel = positive(ds.uint16(TAGS.samples) ?? 1, 'Samples per Pixel', 4);
  meta.photometric = (ds.string(TAGS.photometric) ?? (meta.samplesPerPixel === 1 ? 'MONOCHROME2' : 'RGB')).toUpperCase();
  meta.bitsAllocated = positive(ds.uint16(TAGS.bitsAllocated), 'Bits Allocated', 32);
  if (![1, 8, 16, 32].includes(meta.bitsAllocated)) throw new DicomReadError(`Bits Allocated ${meta.bitsAllocated} is not 1, 8, 16 or 32`);
  meta.bitsStored = positive(ds.uint16(TAGS.bitsStored) ?? meta.bitsAllocated, 'Bits Stored', meta.bitsAllocated);
  meta.highBit = ds.uint16(TAGS.highBit) ?? meta.bitsStored - 1;
  meta.pixelRepresentation = ds.uint16(TAGS.pixelRep) === 1 ? 1 : 0;
  meta.planarConfiguration = ds.uint16(TAGS.planar) === 1 ? 1 : 0;
  meta.numberOfFrames = positive((ds.intString(TAGS.frames) ?? 1) || 1, 'Number of Frames', 100_000);
  const slope = ds.floatString(TAGS.rescaleSlope);
  meta.rescaleSlope = slope !== undefined && Number.isFinite(slope) && slope !== 0 ? slope : 1;
  const intercept = ds.floatString(TAGS.rescaleIntercept);
  meta.rescaleIntercept = intercept !== undefined && Number.isFinite(intercept) ? intercept : 0;
  const centers = numbers(ds, TAGS.windowCenter);
  const widths = numbers(ds, TAGS.windowWidth);
  meta.windows = centers
    .slice(0, widths.length)
    .map((center, i) => ({ center, width: widths[i] }))
    .filter((w) => w.width >= 1);
  meta.voiLutFunction = (ds.string(TAGS.voiLutFunction) ?? 'LINEAR').toUpperCase();
  meta.voiLut = readVoiLut(ds, meta.pixelRepresentation);
  meta.presentationLutShape = (ds.string(TAGS.presentationLutShape) ?? '').toUpperCase();
  return meta;
}

export interface ReadOptions {
  /** The bytes are a bare dataset in this transfer syntax (as DIMSE carries it). */
  transferSyntax?: string;
  /** Stop at the Pixel Data element's header: the bytes may end there (indexing reads only the head of a large file). */
  untilPixelData?: boolean;
  /** The character set of text that declares none (else the Part 10 file's Source AE Title's node's, else the site's: charsets.ts). */
  defaultCharset?: string;
}

/** How a dataset's text is decoded: its (0008,0005), inherited by sequence items that lack one (PS3.5 §7.5.3). */
interface TextContext {
  specificCharacterSet: string | undefined;
  defaultCharset: string | undefined;
}
const textContexts = new WeakMap<DataSet, TextContext>();

/** Records the text context of a dataset and of every sequence item in it. */
function recordTextContext(ds: DataSet, inherited: TextContext): void {
  const declared = elementOf(ds, TAGS.specificCharacterSet);
  const context = declared ? { ...inherited, specificCharacterSet: ds.string(TAGS.specificCharacterSet) ?? '' } : inherited;
  textContexts.set(ds, context);
  for (const key in ds.elements) {
    const items = ds.elements[key].items;
    if (items) for (const item of items) if (item.dataSet) recordTextContext(item.dataSet, context);
  }
}

/** A dataset's attributes (Part 10 or bare, as readDicom takes them), without checking them as an image. */
export function readDataSet(bytes: Uint8Array, options: ReadOptions = {}): DataSet {
  const bare = options.transferSyntax === undefined ? undefined : { transferSyntax: options.transferSyntax };
  try {
    const part10 = !bare && bytes.length >= 132 && bytes[128] === 0x44 && bytes[129] === 0x49 && bytes[130] === 0x43 && bytes[131] === 0x4d;
    // A bare dataset without a known syntax is accepted only when it starts where datasets start: group 0008.
    if (!part10 && !bare && !(bytes.length >= 8 && bytes[0] === 0x08 && bytes[1] === 0x00))
      throw new DicomReadError('not a DICOM file: no DICM preamble');
    const dataSet = dicomParser.parseDicom(bytes, {
      ...(part10 ? {} : { TransferSyntaxUID: bare?.transferSyntax ?? TRANSFER_SYNTAX.IMPLICIT_LE }),
      ...(options.untilPixelData ? { untilTag: TAGS.pixelData } : {}),
      // dicom-parser's typing says void; it uses the returned array (its docs and source).
      inflater: inflater as unknown as (arr: Uint8Array, position: number) => void,
    });
    // A received file names its sender in its meta header: a node configured with a set reads in it.
    const defaultCharset = options.defaultCharset ?? (part10 ? nodeCharset(dataSet.string(TAGS.sourceAet)) : undefined);
    recordTextContext(dataSet, { specificCharacterSet: undefined, defaultCharset });
    return dataSet;
  } catch (error) {
    if (error instanceof DicomReadError) throw error;
    const message = typeof error === 'string' ? error : error instanceof Error ? error.message : 'unreadable';
    throw new DicomReadError(`not a readable DICOM file: ${message.replace(/^dicomParser\.\w+: /, '')}`);
  }
}

/**
 * A text attribute decoded by the dataset's character set (charsets.ts), up to its first NUL and
 * untrimmed; undefined when absent. A dataset this module did not read (an item reached some other
 * way) decodes as undeclared text.
 */
export function textValue(dataSet: DataSet, tag: string): string | undefined {
  const element = elementOf(dataSet, tag);
  if (!element || element.length < 0 || element.length === 0xffffffff) return undefined;
  let bytes = dataSet.byteArray.subarray(element.dataOffset, element.dataOffset + element.length);
  const nul = bytes.indexOf(0);
  if (nul >= 0) bytes = bytes.subarray(0, nul);
  const context = textContexts.get(dataSet);
  return decodeText(bytes, context?.specificCharacterSet, context?.defaultCharset);
}

/** A text attribute (textValue), trimmed; '' when absent (also when the dataset is: an empty sequence). */
export const text = (dataSet: DataSet | undefined, tag: string): string => (dataSet ? (textValue(dataSet, tag) ?? '') : '').trim();

/**
 * An image: its attributes checked for the ranges the decoders rely on, and its Pixel Data
 * element. Reads a Part 10 file (or a bare dataset: in the transfer syntax `bare` names, as DIMSE carries
 * it, or else in implicit VR little endian, as some old modalities write) in any of the
 * uncompressed, deflated or encapsulated transfer syntaxes (a bare dataset: not deflated).
 * Never throws anything but DicomReadError.
 */
export function readDicom(bytes: Uint8Array, options: ReadOptions = {}): ParsedDicom {
  const dataSet = readDataSet(bytes, options);
  const transferSyntaxUid =
    options.transferSyntax ?? (dataSet.string(TAGS.transferSyntax) ?? TRANSFER_SYNTAX.IMPLICIT_LE).replace(/\0/g, '').trim();
  const pixelData = elementOf(dataSet, TAGS.pixelData);
  try {
    const meta = imageMeta(dataSet, transferSyntaxUid, pixelData);
    return { dataSet, meta, pixelData, littleEndian: transferSyntaxUid !== TRANSFER_SYNTAX.EXPLICIT_BE };
  } catch (error) {
    if (error instanceof DicomReadError) throw error;
    throw new DicomReadError(`the image attributes cannot be read: ${(error as Error).message}`);
  }
}

/** A Part 10 file's meta header: what the file holds and where its dataset starts. */
export interface MetaHeader {
  transferSyntax: string;
  sopClassUid: string;
  sopInstanceUid: string;
  /** Where the dataset starts in the file. */
  datasetOffset: number;
}

/** VRs whose length is 32 bits after two reserved bytes in explicit VR (PS3.5 7.1.2). */
const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);

const metaText = (b: Uint8Array) =>
  Buffer.from(b.buffer, b.byteOffset, b.byteLength)
    .toString('latin1')
    .replace(/[\0 ]+$/, '');

/**
 * Reads group 0002 (always explicit VR little endian) by hand, without parsing the dataset: a
 * sender splits each file here, and reads only its first bytes when the file is large.
 * `headOnly`: `file` is the file's first bytes, and the dataset may go on past them.
 */
export function readMetaHeader(file: Uint8Array, options: { headOnly?: boolean } = {}): MetaHeader {
  const view = Buffer.from(file.buffer, file.byteOffset, file.byteLength);
  if (view.length < 144 || view.toString('latin1', 128, 132) !== 'DICM') throw new DicomReadError('not a Part 10 file (no DICM preamble)');
  const meta: Record<number, string> = {};
  let at = 132;
  while (at + 8 <= view.length && view.readUInt16LE(at) === 0x0002) {
    const element = view.readUInt16LE(at + 2);
    const long = LONG_VRS.has(view.toString('latin1', at + 4, at + 6));
    const length = long ? view.readUInt32LE(at + 8) : view.readUInt16LE(at + 6);
    const start = at + (long ? 12 : 8);
    if (start + length > view.length)
      throw new DicomReadError(
        options.headOnly ? 'the meta header runs past the bytes read' : 'the meta header runs past the end of the file',
      );
    meta[element] = metaText(view.subarray(start, start + length));
    at = start + length;
  }
  if (options.headOnly && at + 8 > view.length) throw new DicomReadError('the meta header runs past the bytes read');
  const transferSyntax = meta[0x0010];
  const sopClassUid = meta[0x0002];
  const sopInstanceUid = meta[0x0003];
  if (!transferSyntax || !sopClassUid || !sopInstanceUid)
    throw new DicomReadError('the meta header lacks a transfer syntax or SOP class/instance UID');
  return { transferSyntax, sopClassUid, sopInstanceUid, datasetOffset: at };
}
