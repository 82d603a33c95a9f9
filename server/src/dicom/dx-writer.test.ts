import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import dcmjs from 'dcmjs';
import { generateUid } from '../util/uid.js';
import { deviationIndex, SOP_CLASS, writeDx, type DxImageInput } from './dx-writer.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'roentgen-dx-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

function input(over: Partial<DxImageInput> = {}): DxImageInput {
  const rows = 128;
  const columns = 96;
  return {
    patient: { id: 'P1', name: '张三^San', birthDate: '19800101', sex: 'M', age: '045Y', weightKg: 70 },
    study: { instanceUid: generateUid(), id: '251122120000000', accessionNumber: 'ACC1', referringPhysician: 'Li^Wei', date: new Date() },
    series: { instanceUid: generateUid(), number: 1, description: '胸部正位' },
    instance: { sopInstanceUid: generateUid(), number: 1, acquired: new Date() },
    view: { position: 'PA', laterality: 'U', bodyPart: 'CHEST', orientation: ['L', 'F'], sidMm: 1800 },
    exposure: { kV: 115, mA: 250, ms: 16, mAs: 2.375, exposureIndex: 260, targetExposureIndex: 250 },
    detector: { pixelSpacingMm: [0.139, 0.139], type: 'SCINTILLATOR' },
    pixels: { rows, columns, bitsStored: 14, data: new Uint16Array(rows * columns).map((_, i) => (i * 7) % 16384) },
    window: { center: 8192, width: 16384 },
    intent: 'FOR PRESENTATION',
    equipment: { manufacturer: 'Roentgen', model: 'Simulator', stationName: 'DR1', softwareVersion: '0.1.0' },
    ...over,
  };
}

const KINDS: Record<string, DxImageInput> = {
  'human, for presentation': input(),
  'human, for processing': input({ intent: 'FOR PROCESSING', window: undefined }),
  'human, paired limb': input({ view: { position: 'PA', laterality: 'R', bodyPart: 'HAND', orientation: ['L', 'F'], sidMm: 1000 } }),
  'human, uncoded body part': input({
    view: { position: 'AP', laterality: 'L', bodyPart: 'CLAVICLE', orientation: ['L', 'F'], sidMm: 1000 },
  }),
  'veterinary, for presentation': input({
    patient: {
      id: 'PET7',
      name: 'Buddy',
      birthDate: '',
      sex: 'M',
      age: '005Y',
      animal: { species: 'Dog', breed: 'Golden Retriever', owner: '孙^某', neutered: 'ALTERED' },
    },
    view: { position: 'VD', laterality: 'U', bodyPart: 'ABDOMEN', orientation: ['L', 'CD'], sidMm: 1000 },
  }),
  'veterinary, for processing': input({
    intent: 'FOR PROCESSING',
    window: undefined,
    patient: {
      id: 'CAT1',
      name: 'Mimi',
      birthDate: '',
      sex: 'F',
      age: '003Y',
      animal: { species: 'Cat', breed: '', owner: '', neutered: 'UNALTERED' },
    },
    view: { position: 'RL', laterality: 'U', bodyPart: 'PELVIS', orientation: ['CR', 'V'], sidMm: 1000 },
  }),
};

/** The IOD validator and DCMTK come from Debian (.ci/run installs them); tests need them. */
function tool(name: string): string {
  const found = spawnSync('which', [name], { encoding: 'utf8' }).stdout.trim();
  assert.ok(found, `${name} is not installed (apt-get install dicom3tools dcmtk)`);
  return found;
}

for (const [kind, dx] of Object.entries(KINDS)) {
  test(`DX ${kind}: dciodvfy reports 0 errors and dcmdump reads it`, () => {
    const file = path.join(dir, `${kind.replace(/\W+/g, '_')}.dcm`);
    fs.writeFileSync(file, writeDx(dx));
    const report = spawnSync(tool('dciodvfy'), [file], { encoding: 'utf8' });
    const errors = `${report.stdout}${report.stderr}`.split('\n').filter((l) => l.startsWith('Error'));
    assert.deepEqual(errors, [], `${kind}:\n${errors.join('\n')}`);
    const dump = execFileSync(tool('dcmdump'), ['+U8', file], { encoding: 'utf8' });
    assert.match(dump, /\(0008,0060\) CS \[DX\]/);
    assert.match(dump, new RegExp(`\\(0008,0068\\) CS \\[${dx.intent}\\]`));
  });
}

test('attributes read back as written: SOP class, intent, VOI only for presentation, dose with µ-units, EI/DI, vet tags', () => {
  const read = (dx: DxImageInput) => {
    const buffer = writeDx(dx);
    const file = dcmjs.data.DicomMessage.readFile(
      buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + buffer.byteLength) as ArrayBuffer,
    );
    return dcmjs.data.DicomMetaDictionary.naturalizeDataset(file.dict);
  };
  const pres = read(KINDS['human, for presentation']);
  assert.equal(pres.SOPClassUID, SOP_CLASS.DX_PRESENTATION);
  assert.equal(pres.PresentationIntentType, 'FOR PRESENTATION');
  assert.equal(pres.WindowCenter, 8192);
  assert.equal(pres.SpecificCharacterSet, 'ISO_IR 192');
  assert.equal((pres.PatientName as { Alphabetic: string }[])[0].Alphabetic, '张三^San');
  assert.equal(pres.KVP, 115);
  assert.equal(pres.Exposure, 2, 'mAs is IS: rounded');
  assert.equal(pres.ExposureInuAs, 2375, 'the exact value in µAs');
  assert.equal(pres.DeviationIndex, deviationIndex(260, 250));
  assert.equal(pres.ImageLaterality, 'U');
  const proc = read(KINDS['human, for processing']);
  assert.equal(proc.SOPClassUID, SOP_CLASS.DX_PROCESSING);
  assert.equal(proc.WindowCenter, undefined, 'VOI LUT is not allowed for processing');
  const vet = read(KINDS['veterinary, for presentation']);
  assert.equal(vet.PatientSpeciesDescription, 'Dog');
  assert.equal(vet.PatientSexNeutered, 'ALTERED');
  assert.equal(vet.ResponsiblePersonRole, 'OWNER');
  assert.throws(() => writeDx(input({ window: undefined })), /needs a window/);
  assert.throws(() => writeDx(input({ pixels: { rows: 2, columns: 2, bitsStored: 14, data: new Uint16Array(3) } })), /rows × columns/);
});

test('Deviation Index follows IEC 62494-1', () => {
  assert.equal(deviationIndex(250, 250), 0);
  assert.equal(deviationIndex(500, 250), 3.01);
  assert.equal(deviationIndex(125, 250), -3.01);
});
