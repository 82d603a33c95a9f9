import { decodeText, encodeText } from './charsets.js';
import { DicomReadError, readMetaHeader, TRANSFER_SYNTAX } from './reader.js';

/**
 * A Part 10 file in explicit VR little endian with its text re-encoded in another set (a node
 * configured for GB18030 gets GB18030): every SH, LO, ST, LT, PN, UC and UT value decoded by the
 * file's (0008,0005) and encoded again, (0008,0005) set to the new term. Written by walking the
 * elements: dcmjs writes text only as UTF-8. Sequences and items are written with undefined
 * length, so no enclosing length needs recounting; everything else is copied as it was.
 */
export function withCharset(file: Uint8Array, term: 'GB18030' | 'ISO_IR 192'): Buffer {
  const bytes = Buffer.from(file.buffer, file.byteOffset, file.byteLength);
  const meta = readMetaHeader(bytes);
  if (!rewritable(meta.transferSyntax))
    throw new DicomReadError(`text is re-encoded in explicit VR little endian datasets only (this file: ${meta.transferSyntax})`);
  const writer = new TextRewriter(bytes, term);
  const out: Buffer[] = [bytes.subarray(0, meta.datasetOffset)];
  writer.dataset(meta.datasetOffset, bytes.length, out, undefined, true);
  return Buffer.concat(out);
}

/** Every transfer syntax but these three has an explicit VR little endian dataset (compressed ones too). */
const rewritable = (ts: string) =>
  ts !== TRANSFER_SYNTAX.IMPLICIT_LE && ts !== TRANSFER_SYNTAX.EXPLICIT_BE && ts !== TRANSFER_SYNTAX.DEFLATED_LE;

/**
 * A file as a node configured for `charset` gets it: re-encoded in GB18030 for a GB18030 node
 * (when its dataset is explicit VR little endian), else as it is (UTF-8, as we write, or the set
 * its sender declared).
 */
export function forNodeCharset(file: Buffer, charset: string): Buffer {
  if (charset !== 'GB18030') return file;
  try {
    return rewritable(readMetaHeader(file).transferSyntax) ? withCharset(file, 'GB18030') : file;
  } catch (error) {
    // A file we cannot walk goes as it is, in the set it declares: the peer decides, as for any object.
    if (error instanceof DicomReadError) return file;
    throw error;
  }
}

const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);
const TEXT_VRS = new Set(['SH', 'LO', 'ST', 'LT', 'PN', 'UC', 'UT']);
const UNDEFINED = 0xffffffff;
const ITEM = 0xe000;
const ITEM_END = 0xe00d;
const SEQUENCE_END = 0xe0dd;

function header(group: number, element: number, vr: string, length: number): Buffer {
  const long = LONG_VRS.has(vr);
  const h = Buffer.alloc(long ? 12 : 8);
  h.writeUInt16LE(group, 0);
  h.writeUInt16LE(element, 2);
  h.write(vr, 4, 'latin1');
  if (long) h.writeUInt32LE(length, 8);
  else h.writeUInt16LE(length, 6);
  return h;
}

function delimiter(element: number): Buffer {
  const d = Buffer.alloc(8);
  d.writeUInt16LE(0xfffe, 0);
  d.writeUInt16LE(element, 2);
  return d;
}

class TextRewriter {
  constructor(
    private readonly bytes: Buffer,
    private readonly term: string,
  ) {}

  private charsetElement(): Buffer {
    const value = this.term.length % 2 ? `${this.term} ` : this.term;
    return Buffer.concat([header(0x0008, 0x0005, 'CS', value.length), Buffer.from(value, 'latin1')]);
  }

  /**
   * The elements from `at` to `end` (or to an item delimiter when `end` is undefined length's
   * end of buffer) into `out`; returns where it stopped (after a delimiter it met).
   */
  dataset(at: number, end: number, out: Buffer[], inherited: string | undefined, top: boolean): number {
    const b = this.bytes;
    let declared = inherited;
    let charsetWritten = !top;
    while (at + 8 <= end) {
      const group = b.readUInt16LE(at);
      const element = b.readUInt16LE(at + 2);
      if (group === 0xfffe) return at + 8; // an item's end
      const tag = group * 0x10000 + element;
      if (!charsetWritten && tag > 0x00080005) {
        out.push(this.charsetElement());
        charsetWritten = true;
      }
      const vr = b.toString('latin1', at + 4, at + 6);
      const long = LONG_VRS.has(vr);
      const length = long ? b.readUInt32LE(at + 8) : b.readUInt16LE(at + 6);
      const start = at + (long ? 12 : 8);
      if (vr === 'SQ') {
        out.push(header(group, element, 'SQ', UNDEFINED));
        at = this.sequence(start, length, out, declared);
        out.push(delimiter(SEQUENCE_END));
        continue;
      }
      if (length === UNDEFINED) {
        // Encapsulated pixel data: fragments up to the sequence delimiter, copied as they are.
        let p = start;
        while (p + 8 <= end && !(b.readUInt16LE(p) === 0xfffe && b.readUInt16LE(p + 2) === SEQUENCE_END)) p += 8 + b.readUInt32LE(p + 4);
        out.push(b.subarray(at, p + 8));
        at = p + 8;
        continue;
      }
      if (start + length > end) throw new DicomReadError('an element runs past the end of the file');
      const value = b.subarray(start, start + length);
      if (tag === 0x00080005) {
        declared = value.toString('latin1').trim();
        out.push(this.charsetElement());
        charsetWritten = true;
      } else if (TEXT_VRS.has(vr)) {
        const text = decodeText(value, declared).replace(/[\0 ]+$/, '');
        let encoded = encodeText(text, this.term);
        if (encoded.length % 2) encoded = Buffer.concat([encoded, Buffer.from(' ')]);
        if (!long && encoded.length > 0xffff) throw new DicomReadError(`a ${vr} value is too long once re-encoded`);
        out.push(header(group, element, vr, encoded.length), encoded);
      } else out.push(b.subarray(at, start + length));
      at = start + length;
    }
    if (!charsetWritten) out.push(this.charsetElement());
    return at;
  }

  /** A sequence's items (each written with undefined length); returns the position after it. */
  private sequence(start: number, length: number, out: Buffer[], declared: string | undefined): number {
    const b = this.bytes;
    const end = length === UNDEFINED ? b.length : start + length;
    let at = start;
    while (at + 8 <= end) {
      const element = b.readUInt16LE(at + 2);
      if (b.readUInt16LE(at) !== 0xfffe) throw new DicomReadError('a sequence holds something other than items');
      if (element === SEQUENCE_END) return at + 8;
      if (element !== ITEM) throw new DicomReadError('a sequence holds something other than items');
      const itemLength = b.readUInt32LE(at + 4);
      out.push(delimiter(ITEM).fill(0xff, 4));
      if (itemLength === UNDEFINED) at = this.dataset(at + 8, b.length, out, declared, false);
      else {
        this.dataset(at + 8, at + 8 + itemLength, out, declared, false);
        at = at + 8 + itemLength;
      }
      out.push(delimiter(ITEM_END));
    }
    return end;
  }
}
