import dcmjs from 'dcmjs';

/** Our implementation identity in every file we write (PS3.7 D.3.3.2). */
export const IMPLEMENTATION_CLASS_UID = '2.25.208436957532941862398475329451781253247';
export const IMPLEMENTATION_VERSION = 'ROENTGEN_0_1';
export const EXPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2.1';

const pad2 = (n: number) => String(n).padStart(2, '0');
export const da = (d: Date) => `${d.getFullYear()}${pad2(d.getMonth() + 1)}${pad2(d.getDate())}`;
export const tm = (d: Date) => `${pad2(d.getHours())}${pad2(d.getMinutes())}${pad2(d.getSeconds())}`;
/** DS values: at most 16 characters. */
export const ds = (n: number) => Number(n.toPrecision(10));

export type Dataset = Record<string, unknown>;

/** A naturalized dataset (dcmjs keywords) as a Part 10 file in explicit VR little endian. */
export function writePart10(dataset: Dataset): Buffer {
  const sopClass = dataset.SOPClassUID as string;
  const sopInstance = dataset.SOPInstanceUID as string;
  const meta = {
    FileMetaInformationVersion: new Uint8Array([0, 1]).buffer, MediaStorageSOPClassUID: sopClass,
    MediaStorageSOPInstanceUID: sopInstance, TransferSyntaxUID: EXPLICIT_VR_LITTLE_ENDIAN,
    ImplementationClassUID: IMPLEMENTATION_CLASS_UID, ImplementationVersionName: IMPLEMENTATION_VERSION,
  };
  const { DicomDict, DicomMetaDictionary } = dcmjs.data;
  const dict = new DicomDict(DicomMetaDictionary.denaturalizeDataset(meta));
  dict.dict = DicomMetaDictionary.denaturalizeDataset(dataset);
  return Buffer.from(dict.write());
}

/** A Part 10 file as a naturalized dataset (pixel data stays as dcmjs reads it). */
export function readPart10(bytes: Uint8Array): Dataset {
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  const file = dcmjs.data.DicomMessage.readFile(buffer);
  return dcmjs.data.DicomMetaDictionary.naturalizeDataset(file.dict);
}

export const pixelBuffer = (data: Uint8Array | Uint16Array): ArrayBuffer =>
  data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer;
