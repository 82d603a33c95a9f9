import { writeDx, type DxImageInput } from '../src/dicom/dx-writer.js';
import { testPattern } from '../test-support/dicom-fixtures.js';
import { generateUid } from '../src/util/uid.js';
import type { TestServer } from './helpers.js';

/** A DX For Presentation object for an image of a registered study (what an exposure would write). */
export function dxFor(sopInstanceUid: string, over: Partial<DxImageInput> = {}, size = { rows: 256, columns: 192 }): Buffer {
  return writeDx(dxInput(sopInstanceUid, over, size));
}

/** What dxFor writes, for writers of the same object in parts. */
export function dxInput(sopInstanceUid: string, over: Partial<DxImageInput> = {}, size = { rows: 256, columns: 192 }): DxImageInput {
  return {
    patient: { id: 'P1', name: 'Test^Patient', birthDate: '19800101', sex: 'M', age: '045Y' },
    study: { instanceUid: generateUid(), id: '251122120000000', accessionNumber: '', referringPhysician: '', date: new Date() },
    series: { instanceUid: generateUid(), number: 1, description: 'Chest PA' },
    instance: { sopInstanceUid, number: 1, acquired: new Date() },
    view: { position: 'PA', laterality: 'U', bodyPart: 'CHEST', orientation: ['L', 'F'], sidMm: 1800 },
    exposure: { kV: 110, mA: 200, ms: 10, mAs: 2 },
    detector: { pixelSpacingMm: [0.14, 0.14], type: 'SCINTILLATOR' },
    pixels: { ...size, bitsStored: 14, data: testPattern(size.rows, size.columns, 14) },
    window: { center: 8192, width: 16384 },
    intent: 'FOR PRESENTATION',
    equipment: { manufacturer: 'Roentgen', model: 'Test', stationName: 'T1', softwareVersion: '0' },
    ...over,
  };
}

/** Stores a DX for an image the way the exposure pipeline will: through the image files service. */
export function storeDx(t: TestServer, sopInstanceUid: string, over: Partial<DxImageInput> = {}) {
  return t.server.services.imageFiles.storeImage(sopInstanceUid, dxFor(sopInstanceUid, over));
}
