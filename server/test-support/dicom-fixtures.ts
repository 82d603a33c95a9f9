import dcmjs from 'dcmjs';
import { generateUid } from '../src/util/uid.js';
import { TRANSFER_SYNTAX } from '../src/dicom/reader.js';

/**
 * Test and benchmark fixtures: small DICOM images with known pixels in any transfer syntax
 * dcmjs writes correctly (native little endian and the encapsulated ones). Big endian and
 * deflated files are made from these by DCMTK's dcmconv, since dcmjs writes those wrongly.
 */
export interface FixtureImage {
  rows: number;
  columns: number;
  bitsAllocated: 8 | 16;
  bitsStored: number;
  pixelRepresentation?: 0 | 1;
  photometric?: string;
  samplesPerPixel?: 1 | 3;
  planarConfiguration?: 0 | 1;
  /** Native frames (little endian bytes) or, for encapsulated syntaxes, one compressed frame each. */
  frames: Uint8Array[];
  transferSyntaxUid?: string;
  window?: { center: number; width: number; fn?: string };
  rescale?: { slope: number; intercept: number };
  voiLut?: { firstMapped: number; bits: number; data: Uint16Array };
  presentationLutShape?: string;
  sopClassUid?: string;
}

const NATIVE_SYNTAXES: string[] = [TRANSFER_SYNTAX.EXPLICIT_LE, TRANSFER_SYNTAX.IMPLICIT_LE];

/** A radiograph-like test pattern: a horizontal ramp with a bright disc, values within `bits`. */
export function testPattern(rows: number, columns: number, bits: number): Uint16Array {
  const max = 2 ** bits - 1;
  const data = new Uint16Array(rows * columns);
  const cx = columns / 2;
  const cy = rows / 2;
  const r2 = (Math.min(rows, columns) / 4) ** 2;
  for (let y = 0; y < rows; y += 1) {
    for (let x = 0; x < columns; x += 1) {
      const ramp = Math.round((x / Math.max(1, columns - 1)) * max * 0.5);
      data[y * columns + x] = (x - cx) ** 2 + (y - cy) ** 2 < r2 ? max - ramp : ramp;
    }
  }
  return data;
}

export const bytesOf = (a: ArrayBufferView): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

export function writeFixture(image: FixtureImage): Buffer {
  const ts = image.transferSyntaxUid ?? TRANSFER_SYNTAX.EXPLICIT_LE;
  const native = NATIVE_SYNTAXES.includes(ts);
  const sopClass = image.sopClassUid ?? '1.2.840.10008.5.1.4.1.1.7';
  const sopInstance = generateUid();
  const samples = image.samplesPerPixel ?? 1;
  const dataset: Record<string, unknown> = {
    SpecificCharacterSet: 'ISO_IR 192',
    SOPClassUID: sopClass,
    SOPInstanceUID: sopInstance,
    Modality: 'OT',
    PatientName: 'Fixture^Test',
    PatientID: 'FIXTURE',
    StudyInstanceUID: generateUid(),
    SeriesInstanceUID: generateUid(),
    SamplesPerPixel: samples,
    PhotometricInterpretation: image.photometric ?? (samples === 3 ? 'RGB' : 'MONOCHROME2'),
    Rows: image.rows,
    Columns: image.columns,
    BitsAllocated: image.bitsAllocated,
    BitsStored: image.bitsStored,
    HighBit: image.bitsStored - 1,
    PixelRepresentation: image.pixelRepresentation ?? 0,
    ...(samples === 3 ? { PlanarConfiguration: image.planarConfiguration ?? 0 } : {}),
    ...(image.frames.length > 1 ? { NumberOfFrames: image.frames.length } : {}),
    ...(image.window
      ? { WindowCenter: image.window.center, WindowWidth: image.window.width, VOILUTFunction: image.window.fn ?? 'LINEAR' }
      : {}),
    ...(image.rescale ? { RescaleSlope: image.rescale.slope, RescaleIntercept: image.rescale.intercept, RescaleType: 'US' } : {}),
    ...(image.presentationLutShape ? { PresentationLUTShape: image.presentationLutShape } : {}),
    ...(image.voiLut
      ? {
          VOILUTSequence: [
            {
              LUTDescriptor: [image.voiLut.data.length, image.voiLut.firstMapped, image.voiLut.bits],
              LUTData: bytesOf(image.voiLut.data).slice().buffer,
              _vrMap: { LUTData: 'OW', LUTDescriptor: 'US' },
            },
          ],
        }
      : {}),
    PixelData: native ? joined(image.frames) : image.frames.map((f) => f.slice().buffer),
    _vrMap: { PixelData: image.bitsAllocated === 16 && native ? 'OW' : 'OB' },
  };
  const meta = {
    FileMetaInformationVersion: new Uint8Array([0, 1]).buffer,
    MediaStorageSOPClassUID: sopClass,
    MediaStorageSOPInstanceUID: sopInstance,
    TransferSyntaxUID: ts,
    ImplementationClassUID: '2.25.1',
  };
  const { DicomDict, DicomMetaDictionary } = dcmjs.data;
  const dict = new DicomDict(DicomMetaDictionary.denaturalizeDataset(meta));
  dict.dict = DicomMetaDictionary.denaturalizeDataset(dataset);
  return Buffer.from(dict.write({ fragmentMultiframe: false }));
}

function joined(frames: Uint8Array[]): ArrayBuffer {
  const total = frames.reduce((n, f) => n + f.length, 0);
  const out = new Uint8Array(total + (total % 2));
  let offset = 0;
  for (const f of frames) {
    out.set(f, offset);
    offset += f.length;
  }
  return out.buffer;
}
