import { DicomReadError, readDataSet, readMetaHeader, type DataSet } from '../dicom/reader.js';
import { EXPLICIT_LE } from './scu.js';

export class DatasetError extends Error {}

/** A Part 10 file split at the end of its meta header: what C-STORE sends is the dataset. */
export interface SplitFile {
  transferSyntax: string;
  sopClassUid: string;
  sopInstanceUid: string;
  dataset: Buffer;
  /** Where the dataset starts in the file. */
  datasetOffset: number;
}

/**
 * The file's meta header (read by the DICOM façade), and the dataset after it. `headOnly`:
 * `file` is the file's first bytes, and the dataset may go on past them.
 */
export function splitPart10(file: Buffer, headOnly = false): SplitFile {
  try {
    const meta = readMetaHeader(file, { headOnly });
    return { ...meta, dataset: file.subarray(meta.datasetOffset) };
  } catch (error) {
    if (error instanceof DicomReadError) throw new DatasetError(error.message);
    throw error;
  }
}

/** Explicit VR little endian → implicit VR little endian, element by element (sequences recursively). */
export function explicitToImplicit(dataset: Buffer): Buffer[] {
  let parsed: DataSet;
  try {
    parsed = readDataSet(dataset, { transferSyntax: EXPLICIT_LE });
  } catch (error) {
    throw new DatasetError(`the dataset cannot be read for conversion: ${(error as Error).message}`);
  }
  const out: Buffer[] = [];
  writeImplicit(parsed, dataset, out);
  return out;
}

function tagHeader(tag: string, length: number): Buffer {
  const header = Buffer.alloc(8);
  header.writeUInt16LE(parseInt(tag.slice(1, 5), 16), 0);
  header.writeUInt16LE(parseInt(tag.slice(5, 9), 16), 2);
  header.writeUInt32LE(length >>> 0, 4);
  return header;
}

const ITEM = Buffer.from([0xfe, 0xff, 0x00, 0xe0, 0xff, 0xff, 0xff, 0xff]);
const ITEM_END = Buffer.from([0xfe, 0xff, 0x0d, 0xe0, 0, 0, 0, 0]);
const SEQUENCE_END = Buffer.from([0xfe, 0xff, 0xdd, 0xe0, 0, 0, 0, 0]);

function writeImplicit(ds: DataSet, source: Buffer, out: Buffer[]): void {
  const tags = Object.keys(ds.elements).sort();
  for (const tag of tags) {
    const element = ds.elements[tag];
    // Meta elements do not belong in a dataset; dicom-parser keeps delimiters (FFFE,E00D) among an item's elements.
    if (tag.startsWith('x0002') || tag.startsWith('xfffe')) continue;
    if (element.items) {
      out.push(tagHeader(tag, 0xffffffff));
      for (const entry of element.items) {
        out.push(ITEM);
        if (entry.dataSet) writeImplicit(entry.dataSet, source, out);
        out.push(ITEM_END);
      }
      out.push(SEQUENCE_END);
    } else {
      if (element.encapsulatedPixelData) throw new DatasetError('encapsulated pixel data cannot be sent in implicit VR little endian');
      out.push(tagHeader(tag, element.length), source.subarray(element.dataOffset, element.dataOffset + element.length));
    }
  }
}
