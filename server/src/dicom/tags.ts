/**
 * The one table of DICOM tags this server reads, as the element keys of a read dataset
 * (`x` + group + element in lower-case hex, dicom-parser's spelling). Add a tag here rather than
 * writing its key where it is read.
 */
export const tagKey = (group: number, element: number): string =>
  `x${group.toString(16).padStart(4, '0')}${element.toString(16).padStart(4, '0')}`;

export const TAGS = {
  // File meta information
  transferSyntax: tagKey(0x0002, 0x0010),
  sourceAet: tagKey(0x0002, 0x0016),
  // SOP common, study and series
  specificCharacterSet: tagKey(0x0008, 0x0005),
  sopClass: tagKey(0x0008, 0x0016),
  sopInstance: tagKey(0x0008, 0x0018),
  modality: tagKey(0x0008, 0x0060),
  studyDate: tagKey(0x0008, 0x0020),
  seriesDate: tagKey(0x0008, 0x0021),
  studyTime: tagKey(0x0008, 0x0030),
  seriesTime: tagKey(0x0008, 0x0031),
  accessionNumber: tagKey(0x0008, 0x0050),
  referringPhysician: tagKey(0x0008, 0x0090),
  codeValue: tagKey(0x0008, 0x0100),
  studyDescription: tagKey(0x0008, 0x1030),
  seriesDescription: tagKey(0x0008, 0x103e),
  operatorsName: tagKey(0x0008, 0x1070),
  studyUid: tagKey(0x0020, 0x000d),
  seriesUid: tagKey(0x0020, 0x000e),
  seriesNumber: tagKey(0x0020, 0x0011),
  instanceNumber: tagKey(0x0020, 0x0013),
  // Patient (the 0010,22xx group: veterinary patients)
  patientName: tagKey(0x0010, 0x0010),
  patientId: tagKey(0x0010, 0x0020),
  patientBirthDate: tagKey(0x0010, 0x0030),
  patientSex: tagKey(0x0010, 0x0040),
  patientAge: tagKey(0x0010, 0x1010),
  patientWeight: tagKey(0x0010, 0x1030),
  patientSpecies: tagKey(0x0010, 0x2201),
  patientSexNeutered: tagKey(0x0010, 0x2203),
  patientBreed: tagKey(0x0010, 0x2292),
  responsiblePerson: tagKey(0x0010, 0x2297),
  // Acquisition
  bodyPart: tagKey(0x0018, 0x0015),
  viewPosition: tagKey(0x0018, 0x5101),
  viewCodeSequence: tagKey(0x0054, 0x0220),
  // Image pixel, VOI and presentation
  samples: tagKey(0x0028, 0x0002),
  photometric: tagKey(0x0028, 0x0004),
  planar: tagKey(0x0028, 0x0006),
  frames: tagKey(0x0028, 0x0008),
  rows: tagKey(0x0028, 0x0010),
  columns: tagKey(0x0028, 0x0011),
  bitsAllocated: tagKey(0x0028, 0x0100),
  bitsStored: tagKey(0x0028, 0x0101),
  highBit: tagKey(0x0028, 0x0102),
  pixelRep: tagKey(0x0028, 0x0103),
  windowCenter: tagKey(0x0028, 0x1050),
  windowWidth: tagKey(0x0028, 0x1051),
  rescaleIntercept: tagKey(0x0028, 0x1052),
  rescaleSlope: tagKey(0x0028, 0x1053),
  voiLutFunction: tagKey(0x0028, 0x1056),
  lossyCompression: tagKey(0x0028, 0x2110),
  lossyCompressionMethod: tagKey(0x0028, 0x2114),
  lutDescriptor: tagKey(0x0028, 0x3002),
  lutData: tagKey(0x0028, 0x3006),
  voiLutSequence: tagKey(0x0028, 0x3010),
  presentationLutShape: tagKey(0x2050, 0x0020),
  pixelData: tagKey(0x7fe0, 0x0010),
  // Modality worklist
  requestedProcedureDescription: tagKey(0x0032, 0x1060),
  scheduledStationAet: tagKey(0x0040, 0x0001),
  scheduledStepStartDate: tagKey(0x0040, 0x0002),
  scheduledStepStartTime: tagKey(0x0040, 0x0003),
  scheduledStepDescription: tagKey(0x0040, 0x0007),
  scheduledStepId: tagKey(0x0040, 0x0009),
  scheduledStepSequence: tagKey(0x0040, 0x0100),
  requestedProcedureId: tagKey(0x0040, 0x1001),
} as const;
