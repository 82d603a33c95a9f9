import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildLibrary } from './build.js';
import { PATIENT_SIZES, splitMas, thicknessExposure } from './techniques.js';

test('the shipped libraries have the sizes the issue asks for', () => {
  const dros = buildLibrary('DROS');
  assert.ok(dros.procedures.length >= 150, `DROS procedures: ${dros.procedures.length}`);
  assert.ok(dros.views.length >= 140, `DROS views: ${dros.views.length}`);
  for (const region of ['SKULL', 'SPINE', 'CHEST', 'ABDOMEN', 'PELVIS', 'UPPER LIMB', 'LOWER LIMB']) {
    assert.ok(
      dros.views.some((v) => v.anatomic_region === region),
      region,
    );
  }
  assert.ok(dros.procedures.some((p) => p.procedure_category === 'Paediatric'));
  assert.ok(dros.procedures.filter((p) => p.procedure_type === 'EMERGENCY').length >= 5);
  const vet = buildLibrary('VETDROS');
  for (const species of ['Dog', 'Cat', 'Rabbit'])
    assert.ok(
      vet.views.some((v) => v.patient_type === species),
      species,
    );
  for (const position of ['VD', 'DV', 'RL', 'LL', 'OBL'])
    assert.ok(
      vet.views.some((v) => v.view_position === position),
      position,
    );
  for (const part of ['THORAX', 'ABDOMEN', 'Hip', 'SPINE', 'SKULL', 'FORELIMB', 'HINDLIMB']) {
    assert.ok(
      vet.bodyParts.some((b) => b.body_part_id === `Dog_${part}`) && vet.bodyParts.some((b) => b.body_part_id === `Cat_${part}`),
      part,
    );
  }
});

test('every view has an APR for every size on both work stations, with mAs = mA × ms / 1000', () => {
  for (const product of ['DROS', 'VETDROS'] as const) {
    const lib = buildLibrary(product);
    const ids = new Set(lib.views.map((v) => v.view_id));
    assert.equal(ids.size, lib.views.length, 'view ids are unique');
    assert.equal(lib.exposures.length, lib.views.length * 2 * PATIENT_SIZES.length);
    assert.equal(lib.devices.length, lib.views.length * 2);
    for (const row of lib.exposures) {
      const e = (JSON.parse(row.config_object) as { Common: { kV: number; mA: number; ms: number; mAs: number } }).Common;
      assert.ok(Math.abs((e.mA * e.ms) / 1000 - e.mAs) < 1e-9, `${row.apr_id} ${row.patient_size}: ${JSON.stringify(e)}`);
      assert.ok(e.kV >= 40 && e.kV <= 150 && e.mAs > 0 && e.ms >= 10, `${row.apr_id}: ${JSON.stringify(e)}`);
    }
    for (const view of lib.views) {
      const config = JSON.parse(view.config_object) as { DX: Record<string, unknown> };
      for (const key of ['CollimatorSize', 'ImageLaterality', 'LabelPosition', 'PatientOrientationRow', 'TargetEXI', 'ViewID']) {
        assert.ok(key in config.DX, `${view.view_id} lacks ${key}`);
      }
    }
    const procedureIds = new Set(lib.procedures.map((p) => p.procedure_id));
    for (const pv of lib.procedureViews) assert.ok(procedureIds.has(pv.procedure_id) && ids.has(pv.view_id));
  }
});

test('bigger patients get more mAs; the inverse-square law follows the SID', () => {
  const lib = buildLibrary('DROS');
  const chest = (ws: number, size: string) =>
    JSON.parse(
      lib.exposures.find((e) => e.apr_id === 'View_DX_T_A_CH_PA_00' && e.work_station_id === ws && e.patient_size === size)!.config_object,
    ).Common;
  assert.ok(chest(1, 'Large').mAs > chest(1, 'Medium').mAs && chest(1, 'Medium').mAs > chest(1, 'Small').mAs);
  assert.equal(chest(1, 'Medium').kV, 115, 'chest PA at 180 cm: the chart baseline');
  assert.ok(chest(0, 'Medium').mAs < chest(1, 'Medium').mAs / 2, 'table (100 cm) needs far less than 180 cm');
});

test("thickness chart follows Sante's rule and stays consistent", () => {
  assert.equal(thicknessExposure(11).kV, 2 * 11 + 40 + 12);
  assert.equal(thicknessExposure(5).kV, 50);
  assert.equal(thicknessExposure(50).kV, 140);
  for (let cm = 1; cm <= 50; cm += 1) {
    const e = thicknessExposure(cm);
    assert.ok(Math.abs((e.mA * e.ms) / 1000 - e.mAs) < 1e-9);
    if (cm > 1) assert.ok(e.kV >= thicknessExposure(cm - 1).kV);
  }
  assert.deepEqual(splitMas(4), { mA: 250, ms: 16, mAs: 4 });
});

test('procedure ids are unique and keep their meaning: the specification pins the skull four', () => {
  for (const product of ['DROS', 'VETDROS'] as const) {
    const lib = buildLibrary(product);
    assert.equal(new Set(lib.procedures.map((p) => p.procedure_id)).size, lib.procedures.length, `${product} procedure ids are unique`);
  }
  const dros = buildLibrary('DROS');
  const named = (id: string) => dros.procedures.find((p) => p.procedure_id === id)?.name_en;
  assert.deepEqual(['P0-0001', 'P0-0002', 'P0-0003', 'P0-0004', 'P0-0005', 'P0-0199'].map(named), [
    'Skull Townes View',
    'Skull AP + LAT',
    'Skull PA + LAT',
    'Skull AP',
    'Emergency skull trauma',
    'Bone age (left hand PA)',
  ]);
});
