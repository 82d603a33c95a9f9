import dicomParser from 'dicom-parser';
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

const text = (b: Buffer) => b.toString('latin1').replace(/[\0 ]+$/, '');

/**
 * Reads group 0002 (always explicit VR little endian) without parsing the dataset. `headOnly`:
 * `file` is the file's first bytes, and the dataset may go on past them.
 */
export function splitPart10(file: Buffer, headOnly = false): SplitFile {
  if (file.length < 144 || file.toString('latin1', 128, 132) !== 'DICM') throw new DatasetError('not a Part 10 file (no DICM preamble)');
  const meta: Record<number, string> = {};
  let at = 132;
  while (at + 8 <= file.length && file.readUInt16LE(at) === 0x0002) {
    const element = file.readUInt16LE(at + 2);
    const vr = file.toString('latin1', at + 4, at + 6);
    const long = ['OB', 'OW', 'OF', 'SQ', 'UT', 'UN', 'UC', 'UR'].includes(vr);
    const length = long ? file.readUInt32LE(at + 8) : file.readUInt16LE(at + 6);
    const start = at + (long ? 12 : 8);
    if (start + length > file.length) throw new DatasetError(headOnly ? 'the meta header runs past the bytes read' : 'the meta header runs past the end of the file');
    meta[element] = text(file.subarray(start, start + length));
    at = start + length;
  }
  if (headOnly && at + 8 > file.length) throw new DatasetError('the meta header runs past the bytes read');
  const transferSyntax = meta[0x0010];
  const sopClassUid = meta[0x0002];
  const sopInstanceUid = meta[0x0003];
  if (!transferSyntax || !sopClassUid || !sopInstanceUid) throw new DatasetError('the meta header lacks a transfer syntax or SOP class/instance UID');
  return { transferSyntax, sopClassUid, sopInstanceUid, dataset: file.subarray(at), datasetOffset: at };
}

/** Explicit VR little endian → implicit VR little endian, element by element (sequences recursively). */
export function explicitToImplicit(dataset: Buffer): Buffer[] {
  let parsed: dicomParser.DataSet;
  try {
    parsed = dicomParser.parseDicom(dataset, { TransferSyntaxUID: EXPLICIT_LE } as never);
  } catch (error) {
    throw new DatasetError(`the dataset cannot be read for conversion: ${typeof error === 'string' ? error : (error as Error).message}`);
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

function writeImplicit(ds: dicomParser.DataSet, source: Buffer, out: Buffer[]): void {
  const tags = Object.keys(ds.elements).sort();
  for (const tag of tags) {
    const element = ds.elements[tag]!;
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
