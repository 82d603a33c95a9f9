import { decodeFrame } from './pixels.js';
import { readPart10, writePart10 } from './part10.js';
import { readDicom, TRANSFER_SYNTAX as TS } from './reader.js';

/** Lossy Image Compression Method (0028,2114) of each lossy syntax (PS3.3 C.7.6.1.1.5.1). */
const LOSSY_METHOD: Record<string, string> = {
  [TS.JPEG_BASELINE]: 'ISO_10918_1',
  [TS.JPEG_EXTENDED]: 'ISO_10918_1',
  [TS.JPEG_LS_NEAR]: 'ISO_14495_1',
  [TS.J2K]: 'ISO_15444_1',
  [TS.HTJ2K]: 'ISO_15444_15',
};

/**
 * A compressed Part 10 file as the same object in explicit VR little endian, for a peer that
 * accepts only uncompressed syntaxes (what dcm4chee and Orthanc do when a context falls back).
 * Greyscale keeps its stored bit patterns; colour becomes 8-bit interleaved RGB, as the decoders
 * give it. An object that was lossy stays marked lossy (Lossy Image Compression "01" and its
 * method), so the receiver does not take it for an original. Throws DicomReadError when the
 * pixel data cannot be decoded.
 */
export async function decompressToExplicitLe(whole: Uint8Array): Promise<Buffer> {
  const parsed = readDicom(whole);
  const { meta } = parsed;
  const frames = [];
  for (let i = 0; i < meta.numberOfFrames; i += 1) frames.push(await decodeFrame(parsed, i));
  const colour = frames[0].kind === 'rgb';
  const parts = frames.map((f) => new Uint8Array(f.data.buffer, f.data.byteOffset, f.data.byteLength));
  const pixels = parts.length === 1 ? parts[0] : Buffer.concat(parts);

  const dataset = readPart10(whole);
  dataset.PixelData = pixels;
  dataset._vrMap = {
    ...(dataset._vrMap as Record<string, string> | undefined),
    PixelData: !colour && meta.bitsAllocated > 8 ? 'OW' : 'OB',
  };
  if (colour) {
    Object.assign(dataset, {
      PhotometricInterpretation: 'RGB',
      SamplesPerPixel: 3,
      PlanarConfiguration: 0,
      BitsAllocated: 8,
      BitsStored: 8,
      HighBit: 7,
      PixelRepresentation: 0,
    });
  }
  const method = LOSSY_METHOD[meta.transferSyntaxUid];
  if (method) {
    dataset.LossyImageCompression = '01';
    if (!dataset.LossyImageCompressionMethod) dataset.LossyImageCompressionMethod = method;
  }
  return writePart10(dataset, { sopClassUid: String(dataset.SOPClassUID), sopInstanceUid: String(dataset.SOPInstanceUID) });
}
