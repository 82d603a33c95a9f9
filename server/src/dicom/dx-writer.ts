import { REGION_CODES, VIEW_CODES } from './codes.js';
import { da, ds, pixelBuffer, tm, writePart10Parts } from './part10.js';

export const SOP_CLASS = {
  DX_PRESENTATION: '1.2.840.10008.5.1.4.1.1.1.1',
  DX_PROCESSING: '1.2.840.10008.5.1.4.1.1.1.1.1',
} as const;

export interface DxPatient {
  id: string;
  name: string;
  birthDate: string | null; // YYYYMMDD
  sex: '' | 'M' | 'F' | 'O';
  age: string; // DICOM AS, e.g. 045Y
  weightKg?: number;
  /** Veterinary patients (CP-643): species, breed, responsible person, neutered status. */
  animal?: { species: string; breed: string; owner: string; neutered: '' | 'ALTERED' | 'UNALTERED' };
}

export interface DxImageInput {
  patient: DxPatient;
  study: { instanceUid: string; id: string; accessionNumber: string; referringPhysician: string; date: Date };
  series: { instanceUid: string; number: number; description: string };
  instance: { sopInstanceUid: string; number: number; acquired: Date };
  view: { position: string; laterality: 'R' | 'L' | 'U' | 'B'; bodyPart: string; orientation: [string, string]; sidMm: number };
  exposure: {
    kV: number;
    mA: number;
    ms: number;
    mAs: number;
    exposureIndex?: number;
    targetExposureIndex?: number;
    /** Body Part Thickness (0018,11A0): the part's thickness in front of the detector, mm. */
    bodyPartThicknessMm?: number;
  };
  detector: { pixelSpacingMm: [number, number]; type: 'SCINTILLATOR' | 'DIRECT' | 'STORAGE' | 'FILM' };
  pixels: { rows: number; columns: number; bitsStored: number; data: Uint16Array };
  /** Window for presentation objects; required there, not allowed for processing ones. */
  window?: { center: number; width: number };
  intent: 'FOR PRESENTATION' | 'FOR PROCESSING';
  equipment: { manufacturer: string; model: string; stationName: string; softwareVersion: string };
}

/** Deviation Index per IEC 62494-1: DI = 10·log10(EI / EI_T). */
export function deviationIndex(ei: number, target: number): number {
  return Math.round(10 * Math.log10(ei / target) * 100) / 100;
}

/** Integer dose fields with their µ-unit companions for fractions (mA/ms/mAs are IS). */
function acquisitionDose(e: DxImageInput['exposure']) {
  const dose: Record<string, unknown> = {
    KVP: ds(e.kV),
    XRayTubeCurrent: Math.round(e.mA),
    XRayTubeCurrentInuA: ds(e.mA * 1000),
    ExposureTime: Math.round(e.ms),
    ExposureTimeInuS: ds(e.ms * 1000),
    Exposure: Math.round(e.mAs),
    ExposureInuAs: ds(e.mAs * 1000),
  };
  if (e.bodyPartThicknessMm !== undefined) dose.BodyPartThickness = ds(e.bodyPartThicknessMm);
  if (e.exposureIndex !== undefined) dose.ExposureIndex = ds(e.exposureIndex);
  if (e.targetExposureIndex !== undefined) dose.TargetExposureIndex = ds(e.targetExposureIndex);
  if (e.exposureIndex !== undefined && e.targetExposureIndex !== undefined)
    dose.DeviationIndex = deviationIndex(e.exposureIndex, e.targetExposureIndex);
  return dose;
}

export function patientModule(p: DxPatient): Record<string, unknown> {
  const module: Record<string, unknown> = {
    PatientName: p.name,
    PatientID: p.id,
    PatientBirthDate: p.birthDate ?? '',
    PatientSex: p.sex,
    PatientAge: p.age,
  };
  if (p.weightKg) module.PatientWeight = ds(p.weightKg);
  if (p.animal) {
    Object.assign(module, {
      PatientSpeciesDescription: p.animal.species,
      PatientBreedDescription: p.animal.breed,
      PatientBreedCodeSequence: [],
      BreedRegistrationSequence: [],
      // Role is 1C: present exactly when a responsible person is named.
      ResponsiblePerson: p.animal.owner,
      ...(p.animal.owner ? { ResponsiblePersonRole: 'OWNER' } : {}),
      ResponsibleOrganization: '',
      PatientSexNeutered: p.animal.neutered,
      AnatomicalOrientationType: 'QUADRUPED',
    });
  }
  return module;
}

/** A DX image as a Part 10 file (explicit VR little endian), every Type 1 and 2 attribute filled. */
export function writeDx(input: DxImageInput): Buffer {
  return Buffer.concat(writeDxParts(input));
}

/** writeDx as the file's consecutive parts, the pixels a view of the input's (see writePart10Parts). */
export function writeDxParts(input: DxImageInput): Uint8Array[] {
  const presentation = input.intent === 'FOR PRESENTATION';
  if (presentation && !input.window) throw new Error('a DX For Presentation image needs a window (VOI LUT)');
  const { pixels, view } = input;
  if (pixels.data.length !== pixels.rows * pixels.columns) throw new Error('pixel data does not match rows × columns');
  const sopClass = presentation ? SOP_CLASS.DX_PRESENTATION : SOP_CLASS.DX_PROCESSING;
  const regionCode = REGION_CODES[view.bodyPart];
  const viewCode = VIEW_CODES[view.position];
  const dataset: Record<string, unknown> = {
    SpecificCharacterSet: 'ISO_IR 192',
    ImageType: ['ORIGINAL', 'PRIMARY', ''],
    InstanceCreationDate: da(new Date()),
    InstanceCreationTime: tm(new Date()),
    SOPClassUID: sopClass,
    SOPInstanceUID: input.instance.sopInstanceUid,
    StudyDate: da(input.study.date),
    SeriesDate: da(input.study.date),
    AcquisitionDate: da(input.instance.acquired),
    ContentDate: da(input.instance.acquired),
    StudyTime: tm(input.study.date),
    SeriesTime: tm(input.study.date),
    AcquisitionTime: tm(input.instance.acquired),
    ContentTime: tm(input.instance.acquired),
    AccessionNumber: input.study.accessionNumber,
    Modality: 'DX',
    PresentationIntentType: input.intent,
    Manufacturer: input.equipment.manufacturer,
    ReferringPhysicianName: input.study.referringPhysician,
    StationName: input.equipment.stationName,
    SeriesDescription: input.series.description,
    ManufacturerModelName: input.equipment.model,
    SoftwareVersions: input.equipment.softwareVersion,
    ...patientModule(input.patient),
    // Body Part Examined (Type 3) only with its region code: a known part needs a coded region.
    ...(regionCode ? { BodyPartExamined: view.bodyPart } : {}),
    DistanceSourceToDetector: ds(view.sidMm),
    ...acquisitionDose(input.exposure),
    ImagerPixelSpacing: input.detector.pixelSpacingMm.map(ds),
    DetectorType: input.detector.type,
    ViewPosition: view.position,
    PositionerType: 'COLUMN',
    ...(viewCode ? { ViewCodeSequence: [viewCode] } : {}),
    StudyInstanceUID: input.study.instanceUid,
    SeriesInstanceUID: input.series.instanceUid,
    StudyID: input.study.id,
    SeriesNumber: input.series.number,
    InstanceNumber: input.instance.number,
    PatientOrientation: view.orientation,
    ImageLaterality: view.laterality,
    SamplesPerPixel: 1,
    PhotometricInterpretation: 'MONOCHROME2',
    Rows: pixels.rows,
    Columns: pixels.columns,
    BitsAllocated: 16,
    BitsStored: pixels.bitsStored,
    HighBit: pixels.bitsStored - 1,
    PixelRepresentation: 0,
    PixelIntensityRelationship: 'LIN',
    PixelIntensityRelationshipSign: 1,
    RescaleIntercept: 0,
    RescaleSlope: 1,
    RescaleType: 'US',
    LossyImageCompression: '00',
    BurnedInAnnotation: 'NO',
    PresentationLUTShape: 'IDENTITY',
    // Empty only when the region is unknown (dciodvfy enforces it).
    AnatomicRegionSequence: regionCode ? [regionCode] : [],
    AcquisitionContextSequence: [],
    PixelData: pixelBuffer(pixels.data),
    _vrMap: { PixelData: 'OW' },
  };
  if (presentation && input.window) {
    Object.assign(dataset, { WindowCenter: ds(input.window.center), WindowWidth: ds(input.window.width), VOILUTFunction: 'LINEAR' });
  }
  return writePart10Parts(dataset);
}
