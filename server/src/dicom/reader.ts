import zlib from 'node:zlib';
import dicomParser, { type DataSet, type Element } from 'dicom-parser';

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

const tag = (group: number, element: number) => `x${group.toString(16).padStart(4, '0')}${element.toString(16).padStart(4, '0')}`;
export const TAGS = {
  transferSyntax: tag(0x0002, 0x0010), sopClass: tag(0x0008, 0x0016), sopInstance: tag(0x0008, 0x0018), modality: tag(0x0008, 0x0060),
  studyUid: tag(0x0020, 0x000d), seriesUid: tag(0x0020, 0x000e), samples: tag(0x0028, 0x0002), photometric: tag(0x0028, 0x0004),
  planar: tag(0x0028, 0x0006), frames: tag(0x0028, 0x0008), rows: tag(0x0028, 0x0010), columns: tag(0x0028, 0x0011),
  bitsAllocated: tag(0x0028, 0x0100), bitsStored: tag(0x0028, 0x0101), highBit: tag(0x0028, 0x0102), pixelRep: tag(0x0028, 0x0103),
  windowCenter: tag(0x0028, 0x1050), windowWidth: tag(0x0028, 0x1051), rescaleIntercept: tag(0x0028, 0x1052),
  rescaleSlope: tag(0x0028, 0x1053), voiLutFunction: tag(0x0028, 0x1056), voiLutSequence: tag(0x0028, 0x3010),
  lutDescriptor: tag(0x0028, 0x3002), lutData: tag(0x0028, 0x3006), presentationLutShape: tag(0x2050, 0x0020), pixelData: tag(0x7fe0, 0x0010),
};

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
  const item = ds.elements[TAGS.voiLutSequence]?.items?.[0]?.dataSet;
  const data = item?.elements[TAGS.lutData];
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
    rows: 0, columns: 0, samplesPerPixel: 1, photometric: '', bitsAllocated: 0, bitsStored: 0, highBit: 0,
    pixelRepresentation: 0, planarConfiguration: 0, numberOfFrames: 1, rescaleSlope: 1, rescaleIntercept: 0,
    windows: [], voiLutFunction: 'LINEAR', presentationLutShape: '',
  };
  // A header written apart from its pixels (our own writers' parts) still describes the image.
  if (!pixelData && ds.elements[TAGS.rows] === undefined) return meta;
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
  meta.numberOfFrames = positive(Number(ds.intString(TAGS.frames) ?? 1) || 1, 'Number of Frames', 100_000);
  const slope = ds.floatString(TAGS.rescaleSlope);
  meta.rescaleSlope = slope !== undefined && Number.isFinite(slope) && slope !== 0 ? slope : 1;
  const intercept = ds.floatString(TAGS.rescaleIntercept);
  meta.rescaleIntercept = intercept !== undefined && Number.isFinite(intercept) ? intercept : 0;
  const centers = numbers(ds, TAGS.windowCenter);
  const widths = numbers(ds, TAGS.windowWidth);
  meta.windows = centers.slice(0, widths.length).map((center, i) => ({ center, width: widths[i]! })).filter((w) => w.width >= 1);
  meta.voiLutFunction = (ds.string(TAGS.voiLutFunction) ?? 'LINEAR').toUpperCase();
  meta.voiLut = readVoiLut(ds, meta.pixelRepresentation);
  meta.presentationLutShape = (ds.string(TAGS.presentationLutShape) ?? '').toUpperCase();
  return meta;
}

/**
 * Parses a Part 10 file (or a bare dataset: in the transfer syntax `bare` names, as DIMSE carries
 * it, or else in implicit VR little endian, as some old modalities write) in any of the
 * uncompressed, deflated or encapsulated transfer syntaxes (a bare dataset: not deflated).
 * Never throws anything but DicomReadError.
 */
export interface ReadOptions {
  /** The bytes are a bare dataset in this transfer syntax (as DIMSE carries it). */
  transferSyntax?: string;
  /** Stop at the Pixel Data element's header: the bytes may end there (indexing reads only the head of a large file). */
  untilPixelData?: boolean;
}

export function readDicom(bytes: Uint8Array, options: ReadOptions = {}): ParsedDicom {
  const bare = options.transferSyntax === undefined ? undefined : { transferSyntax: options.transferSyntax };
  let dataSet: DataSet;
  try {
    const part10 = !bare && bytes.length >= 132 && bytes[128] === 0x44 && bytes[129] === 0x49 && bytes[130] === 0x43 && bytes[131] === 0x4d;
    // A bare dataset without a known syntax is accepted only when it starts where datasets start: group 0008.
    if (!part10 && !bare && !(bytes.length >= 8 && bytes[0] === 0x08 && bytes[1] === 0x00)) throw new DicomReadError('not a DICOM file: no DICM preamble');
    dataSet = dicomParser.parseDicom(bytes, {
      ...(part10 ? {} : { TransferSyntaxUID: bare?.transferSyntax ?? TRANSFER_SYNTAX.IMPLICIT_LE }),
      ...(options.untilPixelData ? { untilTag: TAGS.pixelData } : {}),
      // dicom-parser's typing says void; it uses the returned array (its docs and source).
      inflater: inflater as unknown as (arr: Uint8Array, position: number) => void,
    });
  } catch (error) {
    if (error instanceof DicomReadError) throw error;
    const message = typeof error === 'string' ? error : error instanceof Error ? error.message : 'unreadable';
    throw new DicomReadError(`not a readable DICOM file: ${message.replace(/^dicomParser\.\w+: /, '')}`);
  }
  const transferSyntaxUid = bare?.transferSyntax ?? (dataSet.string(TAGS.transferSyntax) ?? TRANSFER_SYNTAX.IMPLICIT_LE).replace(/\0/g, '').trim();
  const pixelData = dataSet.elements[TAGS.pixelData];
  try {
    const meta = imageMeta(dataSet, transferSyntaxUid, pixelData);
    return { dataSet, meta, pixelData, littleEndian: transferSyntaxUid !== TRANSFER_SYNTAX.EXPLICIT_BE };
  } catch (error) {
    if (error instanceof DicomReadError) throw error;
    throw new DicomReadError(`the image attributes cannot be read: ${(error as Error).message}`);
  }
}
