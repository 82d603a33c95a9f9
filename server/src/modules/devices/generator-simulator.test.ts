import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DeviceError } from './driver.js';
import { DEFAULT_LIMITS, GENERATOR_STATUS, GeneratorSimulator } from './generator-simulator.js';

const refused = (name: string) => (e: unknown) => e instanceof DeviceError && e.errorName === name;

test('kV steps by one, mA/ms/mAs along the R10 series, and mAs stays mA × ms', async () => {
  const gen = new GeneratorSimulator();
  await gen.connect();
  await gen.action('SetParam_KV', '70');
  await gen.action('IncParam_KV', '');
  assert.equal(gen.currentTechnique().kv, 71);
  await gen.action('SetParam_MA', '200');
  await gen.action('SetParam_MS', '50');
  assert.equal(gen.currentTechnique().mas, 10);
  await gen.action('IncParam_MA', '');
  assert.equal(gen.currentTechnique().ma, 250);
  assert.equal(gen.currentTechnique().mas, 12.5);
  await gen.action('DecParam_MS', '');
  assert.equal(gen.currentTechnique().ms, 40);
  await gen.action('SetParam_MAS', '20'); // 2-point: the time follows at the set current
  assert.deepEqual([gen.currentTechnique().mas, gen.currentTechnique().ms], [20, 80]);
  await gen.action('IncParam_MAS', '');
  assert.equal(gen.currentTechnique().mas, 25);
});

test('limits: range, power per focal spot, unknown actions and non-numbers are refused and change nothing', async () => {
  const gen = new GeneratorSimulator();
  await gen.connect();
  const before = gen.currentTechnique();
  await assert.rejects(gen.action('SetParam_KV', '151'), refused('DEVICE_PARAM_RANGE'));
  await assert.rejects(gen.action('SetParam_KV', 'abc'), refused('DEVICE_PARAM_RANGE'));
  await assert.rejects(gen.action('SetParam_FOCUS', '3'), refused('DEVICE_PARAM_RANGE'));
  await assert.rejects(gen.action('Explode', ''), refused('DEVICE_ACTION_UNKNOWN'));
  assert.deepEqual(gen.currentTechnique(), before);
  await gen.action('SetParam_KV', '100');
  await assert.rejects(gen.action('SetParam_MA', '900'), refused('DEVICE_PARAM_RANGE'), '100 kV × 900 mA is over 80 kW');
  await gen.action('SetParam_MA', '800');
  await assert.rejects(gen.action('SetParam_FOCUS', '0'), refused('DEVICE_PARAM_RANGE'), 'the small focus allows 30 kW only');
  const params = gen.params();
  assert.equal(params.MA.max, '800.00', 'device/get reports the power-limited maximum');
  assert.equal(params.KV.Value, '100.000000');
});

test('heat rises with each exposure, cools while idle, and a hot tube refuses to expose', async () => {
  let now = 0;
  const gen = new GeneratorSimulator({ ...DEFAULT_LIMITS, heatCapacityHu: 10_000, coolingHuPerSecond: 100 }, () => now);
  await assert.rejects(
    gen.expose(async () => undefined),
    refused('DEVICE_NOT_READY'),
    'closed',
  );
  await gen.connect();
  await gen.action('SetParam_KV', '100');
  await gen.action('SetParam_MA', '400');
  await gen.action('SetParam_MS', '100'); // 40 mAs → 4,000 HU
  const first = await gen.expose(async () => undefined);
  assert.equal(first.heatHu, 4000);
  await gen.expose(async () => undefined);
  assert.equal(gen.heat(), 8000);
  assert.equal(gen.ready(), true);
  await assert.rejects(
    gen.expose(async () => undefined),
    refused('DEVICE_NOT_READY'),
    'a third would pass the capacity',
  );
  now += 10_000; // 10 s idle: 1,000 HU shed
  assert.equal(gen.heat(), 7000);
  gen['heatHu'] = 9500;
  assert.equal(gen.currentStatus(), GENERATOR_STATUS.COOLING);
  assert.equal(gen.ready(), false);
  assert.equal(gen.params().ErrorList.Value, 'TUBE_HEAT');
  now += 60_000;
  assert.equal(gen.currentStatus(), GENERATOR_STATUS.STANDBY);
  assert.equal(gen.exposures, 2);
});

test('a second exposure while the first runs is refused (busy)', async () => {
  const gen = new GeneratorSimulator();
  await gen.connect();
  let release!: () => void;
  const first = gen.expose((ms) =>
    ms === 0
      ? Promise.resolve()
      : new Promise((r) => {
          release = r;
        }),
  );
  await new Promise((r) => setImmediate(r));
  assert.equal(gen.currentStatus(), GENERATOR_STATUS.EXPOSING);
  await assert.rejects(
    gen.expose(async () => undefined),
    refused('DEVICE_NOT_READY'),
  );
  release();
  await first;
  assert.equal(gen.currentStatus(), GENERATOR_STATUS.STANDBY);
});
