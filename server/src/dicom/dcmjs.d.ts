// dcmjs ships no TypeScript types; these cover the parts we use.
declare module 'dcmjs' {
  type Dataset = Record<string, unknown>;
  export const data: {
    DicomMetaDictionary: {
      denaturalizeDataset(dataset: Dataset): Dataset;
      naturalizeDataset(dataset: Dataset): Dataset;
    };
    DicomDict: new (meta: Dataset) => { dict: Dataset; write(options?: { fragmentMultiframe?: boolean }): ArrayBuffer };
    DicomMessage: { readFile(buffer: ArrayBuffer, options?: Record<string, unknown>): { meta: Dataset; dict: Dataset } };
  };
  const dcmjs: { data: typeof data };
  export default dcmjs;
}
