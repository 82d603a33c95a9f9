import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildLibrary } from './library/build.js';
import { parseViewExposureConfig } from './view-config.js';

test('every shipped view reads as its programme, an SID and a target EI', () => {
  for (const product of ['DROS', 'VETDROS'] as const) {
    const lib = buildLibrary(product);
    for (const view of lib.views) {
      const exposure = lib.exposures.find((e) => e.apr_id === view.view_id && e.patient_size === 'Medium');
      const device = lib.devices.find((d) => d.apr_id === view.view_id && d.work_station_id === exposure?.work_station_id);
      const config = parseViewExposureConfig({
        view: view.config_object,
        exposure: exposure?.config_object,
        device: device?.config_object,
      });
      const common = (JSON.parse(exposure!.config_object) as { Common: { kV: number; mA: number; ms: number } }).Common;
      assert.deepEqual([config.programme.kv, config.programme.ma, config.programme.ms], [common.kV, common.mA, common.ms], view.view_id);
      assert.ok(config.sidMm >= 1000 && config.targetEi > 0, view.view_id);
      // Every shipped view states its field, so none falls back to the default (most of the detector).
      assert.ok(config.field.size && config.field.size.widthCm >= 18 && config.field.size.heightCm >= 25, view.view_id);
    }
  }
});

test('the APR documents map to the exposure settings, with defaults for what is missing', () => {
  const config = parseViewExposureConfig({
    view: JSON.stringify({
      DX: {
        TargetEXI: 400,
        CollimatorShape: 'CIRCULAR',
        CollimatorSize: '10IN(24)X12IN(30.5)',
        PatientOrientationRow: 'A',
        PatientOrientationColumn: 'H',
      },
    }),
    exposure: JSON.stringify({ Common: { kV: 81, mA: 250, ms: 16, Focus: 0 } }),
    device: JSON.stringify({ Common: { SID: 115 } }),
  });
  assert.deepEqual(config, {
    programme: { kv: 81, ma: 250, ms: 16, focus: 0 },
    sidMm: 1150,
    targetEi: 400,
    field: { shape: 'circle', size: { widthCm: 24, heightCm: 30.5 } },
    orientation: ['A', 'H'],
  });
  assert.deepEqual(parseViewExposureConfig({ view: '{}' }), {
    programme: { kv: 70, ma: 200, ms: 50, focus: 1 },
    sidMm: 1000,
    targetEi: 300,
    field: { shape: 'rect' },
    orientation: ['L', 'F'],
  });
});

test("the collimator size reads in the library's and the specification's form", () => {
  const field = (size: string) => parseViewExposureConfig({ view: JSON.stringify({ DX: { CollimatorSize: size } }) }).field.size;
  assert.deepEqual(field('14IN(35CM)X17IN(43CM)'), { widthCm: 35, heightCm: 43 });
  assert.deepEqual(field('8IN(20CM)X10IN(25CM)'), { widthCm: 20, heightCm: 25 });
  assert.deepEqual(field('10in(24cm) x 12in(30.5cm)'), { widthCm: 24, heightCm: 30.5 });
  assert.deepEqual(field('10IN(24)X12IN(30.5)'), { widthCm: 24, heightCm: 30.5 });
  for (const unreadable of ['', '14X17', '(35)X(43)', '14IN(35CM)', 'X17IN(43CM)']) assert.equal(field(unreadable), undefined, unreadable);
});
