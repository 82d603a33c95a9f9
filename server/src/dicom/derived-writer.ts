import { SOP_CLASS } from './dx-writer.js';
import { da, ds, pixelBuffer, readPart10, tm, writePart10, type Dataset } from './part10.js';

export const SECONDARY_CAPTURE = '1.2.840.10008.5.1.4.1.1.7';

/** Decoded raster (from a PNG): greyscale or RGB, 8 or 16 bits per sample. */
export interface Raster {
  width: number;
  height: number;
  channels: 1 | 3;
  depth: 8 | 16;
  data: Uint8Array | Uint16Array;
}

export interface NewInstance {
  sopInstanceUid: string;
  seriesInstanceUid: string;
  seriesNumber: number;
  seriesDescription: string;
  equipment: { manufacturer: string; model: string; stationName: string; softwareVersion: string };
}

/** Patient and General Study attributes copied into derived objects so they file with their study. */
const IDENTITY_KEYWORDS = [
  'PatientName',
  'PatientID',
  'PatientBirthDate',
  'PatientSex',
  'PatientAge',
  'PatientWeight',
  'PatientSpeciesDescription',
  'PatientBreedDescription',
  'PatientBreedCodeSequence',
  'BreedRegistrationSequence',
  'ResponsiblePerson',
  'ResponsiblePersonRole',
  'ResponsibleOrganization',
  'PatientSexNeutered',
  'StudyInstanceUID',
  'StudyDate',
  'StudyTime',
  'ReferringPhysicianName',
  'StudyID',
  'AccessionNumber',
];

export function identityOf(dataset: Dataset): Dataset {
  return Object.fromEntries(IDENTITY_KEYWORDS.filter((k) => dataset[k] !== undefined).map((k) => [k, dataset[k]]));
}

function imagePixel(raster: Raster): Dataset {
  return {
    SamplesPerPixel: raster.channels,
    PhotometricInterpretation: raster.channels === 3 ? 'RGB' : 'MONOCHROME2',
    ...(raster.channels === 3 ? { PlanarConfiguration: 0 } : {}),
    Rows: raster.height,
    Columns: raster.width,
    BitsAllocated: raster.depth,
    BitsStored: raster.depth,
    HighBit: raster.depth - 1,
    PixelRepresentation: 0,
    PixelData: pixelBuffer(raster.data),
    _vrMap: { PixelData: raster.depth === 16 ? 'OW' : 'OB' },
  };
}

export interface SecondaryCaptureInput extends NewInstance {
  identity: Dataset;
  /** XC for a camera photograph (the emergency portrait), else the modality of the source. */
  modality: string;
  /** DI: taken by a digital camera; WSD: made on a workstation (a post-processed copy). */
  conversionType: 'DI' | 'WSD';
  raster: Raster;
  source?: { sopClassUid: string; sopInstanceUid: string };
  derivationDescription?: string;
  burnedInAnnotation: boolean;
}

/** A Secondary Capture Image (PS3.3 A.8.1) with every Type 1 and 2 attribute filled. */
export function writeSecondaryCapture(input: SecondaryCaptureInput): Buffer {
  const now = new Date();
  const derived = input.source !== undefined;
  return writePart10({
    SpecificCharacterSet: 'ISO_IR 192',
    ImageType: derived ? ['DERIVED', 'SECONDARY'] : ['ORIGINAL', 'PRIMARY'],
    InstanceCreationDate: da(now),
    InstanceCreationTime: tm(now),
    SOPClassUID: SECONDARY_CAPTURE,
    SOPInstanceUID: input.sopInstanceUid,
    PatientName: '',
    PatientID: '',
    PatientBirthDate: '',
    PatientSex: '',
    StudyDate: '',
    StudyTime: '',
    ReferringPhysicianName: '',
    StudyID: '',
    AccessionNumber: '',
    ...input.identity,
    SeriesDate: da(now),
    SeriesTime: tm(now),
    ContentDate: da(now),
    ContentTime: tm(now),
    Modality: input.modality,
    ConversionType: input.conversionType,
    SeriesDescription: input.seriesDescription,
    Laterality: '',
    Manufacturer: input.equipment.manufacturer,
    ManufacturerModelName: input.equipment.model,
    StationName: input.equipment.stationName,
    SoftwareVersions: input.equipment.softwareVersion,
    SecondaryCaptureDeviceManufacturer: input.equipment.manufacturer,
    SecondaryCaptureDeviceManufacturerModelName: input.equipment.model,
    SecondaryCaptureDeviceSoftwareVersions: input.equipment.softwareVersion,
    ...(input.derivationDescription ? { DerivationDescription: input.derivationDescription } : {}),
    ...(input.source
      ? {
          SourceImageSequence: [{ ReferencedSOPClassUID: input.source.sopClassUid, ReferencedSOPInstanceUID: input.source.sopInstanceUid }],
        }
      : {}),
    SeriesInstanceUID: input.seriesInstanceUid,
    SeriesNumber: input.seriesNumber,
    InstanceNumber: 1,
    PatientOrientation: '',
    BurnedInAnnotation: input.burnedInAnnotation ? 'YES' : 'NO',
    LossyImageCompression: '00',
    ...imagePixel(input.raster),
  });
}

export interface DerivedDxInput extends NewInstance {
  /** The Part 10 bytes of the DX image the new pixels were made from. */
  original: Uint8Array;
  raster: Raster & { channels: 1 };
  window: { center: number; width: number };
  derivationDescription: string;
}

/**
 * A post-processed DX For Presentation image: the original's modules carried over (patient,
 * study, equipment, dose, positioning, detector), new pixels and window, Image Type
 * DERIVED\SECONDARY and a Source Image Sequence naming the original.
 */
export function writeDerivedDx(input: DerivedDxInput): Buffer {
  const original = readPart10(input.original);
  const now = new Date();
  const dropped = new Set([
    'VOILUTSequence',
    'WindowCenterWidthExplanation',
    'PixelPaddingValue',
    'SmallestImagePixelValue',
    'LargestImagePixelValue',
    '_meta',
  ]);
  const dataset: Dataset = Object.fromEntries(Object.entries(original).filter(([key]) => !dropped.has(key)));
  const spacing = original.ImagerPixelSpacing as number[] | undefined;
  const scaleY = Number(original.Rows) / input.raster.height;
  const scaleX = Number(original.Columns) / input.raster.width;
  // Keep the original's Bits Stored when the new pixels fit in it (DX allows 6 to 16).
  let peak = 0;
  for (const v of input.raster.data) if (v > peak) peak = v;
  const originalBits = Number(original.BitsStored) || input.raster.depth;
  const stored = Math.max(
    6,
    peak < 2 ** Math.min(originalBits, input.raster.depth) ? Math.min(originalBits, input.raster.depth) : input.raster.depth,
  );
  Object.assign(dataset, {
    SOPClassUID: SOP_CLASS.DX_PRESENTATION,
    SOPInstanceUID: input.sopInstanceUid,
    PresentationIntentType: 'FOR PRESENTATION',
    ImageType: ['DERIVED', 'SECONDARY', ''],
    DerivationDescription: input.derivationDescription,
    SourceImageSequence: [{ ReferencedSOPClassUID: original.SOPClassUID, ReferencedSOPInstanceUID: original.SOPInstanceUID }],
    InstanceCreationDate: da(now),
    InstanceCreationTime: tm(now),
    ContentDate: da(now),
    ContentTime: tm(now),
    SeriesInstanceUID: input.seriesInstanceUid,
    SeriesNumber: input.seriesNumber,
    SeriesDescription: input.seriesDescription,
    InstanceNumber: 1,
    ...(spacing && spacing.length === 2 ? { ImagerPixelSpacing: [ds(spacing[0] * scaleY), ds(spacing[1] * scaleX)] } : {}),
    WindowCenter: ds(input.window.center),
    WindowWidth: ds(input.window.width),
    VOILUTFunction: 'LINEAR',
    RescaleIntercept: 0,
    RescaleSlope: 1,
    RescaleType: 'US',
    PixelIntensityRelationship: 'LIN',
    PixelIntensityRelationshipSign: 1,
    PresentationLUTShape: 'IDENTITY',
    SoftwareVersions: input.equipment.softwareVersion,
    ...imagePixel(input.raster),
    BitsStored: stored,
    HighBit: stored - 1,
  });
  return writePart10(dataset);
}
