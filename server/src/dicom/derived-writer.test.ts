import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { generateUid } from '../util/uid.js';
import { identityOf, SECONDARY_CAPTURE, writeDerivedDx, writeSecondaryCapture, type NewInstance } from './derived-writer.js';
import { patientModule, SOP_CLASS, writeDx } from './dx-writer.js';
import { readPart10 } from './part10.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'roentgen-derived-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const equipment = { manufacturer: 'Roentgen', model: 'Console', stationName: 'DR1', softwareVersion: '0.1.0' };
const fresh = (description: string): NewInstance => ({
  sopInstanceUid: generateUid(),
  seriesInstanceUid: generateUid(),
  seriesNumber: 900,
  seriesDescription: description,
  equipment,
});

function original(): Buffer {
  const rows = 64;
  const columns = 48;
  return writeDx({
    patient: {
      id: 'PET7',
      name: '旺财',
      birthDate: '',
      sex: 'M',
      age: '005Y',
      animal: { species: 'Dog', breed: 'Beagle', owner: '孙^某', neutered: 'ALTERED' },
    },
    study: { instanceUid: generateUid(), id: '251122120000000', accessionNumber: 'ACC', referringPhysician: '', date: new Date() },
    series: { instanceUid: generateUid(), number: 1, description: '胸部' },
    instance: { sopInstanceUid: generateUid(), number: 1, acquired: new Date() },
    view: { position: 'VD', laterality: 'U', bodyPart: 'ABDOMEN', orientation: ['L', 'CD'], sidMm: 1000 },
    exposure: { kV: 70, mA: 200, ms: 20, mAs: 4 },
    detector: { pixelSpacingMm: [0.14, 0.14], type: 'SCINTILLATOR' },
    pixels: { rows, columns, bitsStored: 14, data: new Uint16Array(rows * columns).map((_, i) => i % 16384) },
    window: { center: 8000, width: 16000 },
    intent: 'FOR PRESENTATION',
    equipment,
  });
}

function validate(name: string, bytes: Buffer): void {
  const file = path.join(dir, `${name}.dcm`);
  fs.writeFileSync(file, bytes);
  const report = spawnSync('dciodvfy', [file], { encoding: 'utf8' });
  assert.equal(report.error, undefined, 'dciodvfy is installed (apt-get install dicom3tools)');
  const errors = `${report.stdout}${report.stderr}`.split('\n').filter((l) => l.startsWith('Error'));
  assert.deepEqual(errors, [], `${name}:\n${errors.join('\n')}`);
  execFileSync('dcmdump', [file], { stdio: 'pipe' });
}

test('portrait: an RGB camera photograph becomes a Secondary Capture (XC) that dciodvfy passes', () => {
  const identity = {
    ...patientModule({ id: 'E1', name: 'Unknown^急诊', birthDate: null, sex: '', age: '' }),
    StudyInstanceUID: generateUid(),
    StudyID: '251122120000001',
  };
  const raster = { width: 40, height: 30, channels: 3 as const, depth: 8 as const, data: new Uint8Array(40 * 30 * 3).fill(120) };
  const bytes = writeSecondaryCapture({
    ...fresh('Portrait'),
    identity,
    modality: 'XC',
    conversionType: 'DI',
    raster,
    burnedInAnnotation: false,
  });
  validate('portrait', bytes);
  const read = readPart10(bytes);
  assert.equal(read.SOPClassUID, SECONDARY_CAPTURE);
  assert.equal(read.PhotometricInterpretation, 'RGB');
  assert.equal(read.StudyInstanceUID, identity.StudyInstanceUID);
});

test('post-processed 8-bit rendering: a derived Secondary Capture referencing its source', () => {
  const source = original();
  const src = readPart10(source);
  const raster = { width: 48, height: 64, channels: 1 as const, depth: 8 as const, data: new Uint8Array(48 * 64).fill(9) };
  const bytes = writeSecondaryCapture({
    ...fresh('Post-processed'),
    identity: identityOf(src),
    modality: 'DX',
    conversionType: 'WSD',
    raster,
    burnedInAnnotation: true,
    source: { sopClassUid: String(src.SOPClassUID), sopInstanceUid: String(src.SOPInstanceUID) },
    derivationDescription: 'window 8000/16000',
  });
  validate('post-proc-sc', bytes);
  const read = readPart10(bytes);
  assert.deepEqual(read.ImageType, ['DERIVED', 'SECONDARY']);
  assert.equal((read.SourceImageSequence as { ReferencedSOPInstanceUID: string }[])[0].ReferencedSOPInstanceUID, src.SOPInstanceUID);
  assert.equal(read.PatientSpeciesDescription, 'Dog', 'veterinary identity carried over');
});

test('post-processed 16-bit pixels: a derived DX For Presentation with the new window, dciodvfy-clean', () => {
  const source = original();
  const src = readPart10(source);
  const raster = { width: 24, height: 32, channels: 1 as const, depth: 16 as const, data: new Uint16Array(24 * 32).fill(3000) };
  const bytes = writeDerivedDx({
    ...fresh('Post-processed'),
    original: source,
    raster,
    window: { center: 3000, width: 2000 },
    derivationDescription: 'Edge enhancement',
  });
  validate('post-proc-dx', bytes);
  const read = readPart10(bytes);
  assert.equal(read.SOPClassUID, SOP_CLASS.DX_PRESENTATION);
  assert.deepEqual(read.ImageType, ['DERIVED', 'SECONDARY', '']);
  assert.equal(read.WindowCenter, 3000);
  assert.equal(read.BitsStored, 14, 'pixels that fit keep the original depth');
  assert.deepEqual(read.ImagerPixelSpacing, [0.28, 0.28], 'half the size: twice the spacing');
  assert.equal((read.SourceImageSequence as { ReferencedSOPInstanceUID: string }[])[0].ReferencedSOPInstanceUID, src.SOPInstanceUID);
  assert.equal(read.StudyInstanceUID, src.StudyInstanceUID);
  assert.notEqual(read.SeriesInstanceUID, src.SeriesInstanceUID);
});
