import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { DetectorSimulator } from '../../modules/devices/detector-simulator.js';
import { LOCAL, SplitExecutor } from './executor.js';
import { runPipeline } from './index.js';
import { sharedFloat32 } from './shared.js';

const SIZE = 512;
const detector = new DetectorSimulator(SIZE, SIZE);
await detector.connect();
const raw = detector.acquire({ kv: 110, mas: 2, sidMm: 1800, bodyPart: 'CHEST' }).data;
const input = { rows: SIZE, columns: SIZE, raw, calibration: detector.calibration, targetEi: 300 };
const local = await runPipeline(input, LOCAL);
const split = new SplitExecutor();
after(() => split.close());

const differences = (a: Uint16Array, b: Uint16Array) => a.reduce((n, v, i) => n + (v === b[i] ? 0 : 1), 0);

test('split between two threads, the pipeline gives the one-thread result bit for bit', async () => {
  const result = await runPipeline(input, split);
  assert.equal(differences(result.presentation, local.presentation), 0);
  assert.equal(differences(result.processing, local.processing), 0);
  assert.deepEqual(result.window, local.window);
  assert.deepEqual(result.exposure, local.exposure);
});

test('a kernel whose output is not shared memory is refused, not half-written', async () => {
  const out = new Float32Array(SIZE * SIZE); // an ordinary buffer: the helper would write to a copy
  await assert.rejects(
    split.run(
      'density',
      {
        processing: new Uint16Array(1),
        logTable: sharedFloat32(1),
        outside: 0,
        shutter: { shape: 'circle', cx: 0, cy: 0, radius: 1 },
        columns: SIZE,
        density: out,
      },
      SIZE,
    ),
    /not in shared memory/,
  );
});

test('without its helper thread the executor still finishes every run on its own', async () => {
  const alone = new SplitExecutor();
  await alone.close();
  const result = await runPipeline(input, alone);
  assert.equal(differences(result.presentation, local.presentation), 0);
});
