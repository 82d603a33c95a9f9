import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DetectorSimulator } from '../../modules/devices/detector-simulator.js';
import { insideCollimation, type Collimation } from '../geometry.js';
import { DEFAULT_ENHANCEMENT, enhance } from './enhancement.js';
import { LOCAL } from './executor.js';
import { Workspace } from './shared.js';
import { runPipeline, STAGES, type Stage } from './index.js';

const SIZE = 512;
const detector = new DetectorSimulator(SIZE, SIZE);
await detector.connect();
const field: Collimation = { shape: 'rect', cx: 256, cy: 262, width: 420, height: 440, angleDeg: 5 };

async function run(mas: number, bodyPart = 'CHEST') {
  const raw = detector.acquire({ kv: 110, mas, sidMm: 1800, bodyPart, collimation: field });
  const stages: Stage[] = [];
  const result = await runPipeline({
    rows: SIZE,
    columns: SIZE,
    raw: raw.data,
    calibration: detector.calibration,
    targetEi: 300,
    onStage: (s) => {
      stages.push(s);
    },
  });
  return { raw, result, stages };
}

const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
const sd = (values: number[]) => Math.sqrt(mean(values.map((v) => (v - mean(values)) ** 2)));

describe('image-processing pipeline', () => {
  test("stages report in the documented order; outputs have the detector's size", async () => {
    const { result, stages } = await run(2);
    assert.deepEqual(stages, [...STAGES]);
    assert.equal(result.presentation.length, SIZE * SIZE);
    assert.equal(result.processing.length, SIZE * SIZE);
    for (const name of ['correction', 'collimation', 'enhancement', 'segmentation', 'apply']) assert.ok(result.timings[name] >= 0, name);
  });

  test('shutters are black, anatomy is shown, the window lies inside the 14-bit range', async () => {
    const { result } = await run(2);
    const outside: number[] = [];
    const anatomy: number[] = [];
    for (let y = 0; y < SIZE; y += 3) {
      for (let x = 0; x < SIZE; x += 3) {
        const v = result.presentation[y * SIZE + x];
        if (!insideCollimation(field, x + 0.5, y + 0.5)) outside.push(v);
        else if (Math.hypot(x - 256, y - 270) < 60) anatomy.push(v); // mediastinum, behind the heart
      }
    }
    assert.ok(Math.max(...outside) === 0, 'outside the field is black');
    assert.ok(mean(anatomy) > 4000, `dense anatomy is bright (${mean(anatomy)})`);
    const { center, width } = result.window;
    assert.ok(center > 0 && center < 16383 && width > 1000 && width < 20000, JSON.stringify(result.window));
  });

  test('the presentation does not depend on dose (auto-ranging), the processing image does, linearly', async () => {
    const low = await run(1);
    const high = await run(4);
    const region = (pixels: Uint16Array) => {
      const values: number[] = [];
      for (let y = 200; y < 300; y += 2) for (let x = 150; x < 200; x += 2) values.push(pixels[y * SIZE + x]);
      return mean(values);
    };
    const presentationRatio = region(high.result.presentation) / region(low.result.presentation);
    assert.ok(Math.abs(presentationRatio - 1) < 0.1, `presentation ratio ${presentationRatio.toFixed(3)}`);
    const processingRatio = region(high.result.processing) / region(low.result.processing);
    assert.ok(Math.abs(processingRatio - 4) < 0.3, `processing ratio ${processingRatio.toFixed(3)}`);
    assert.ok(high.result.exposure.di > low.result.exposure.di + 5, 'DI tells the two apart (+6 dB for 4×)');
  });
});

describe('multiscale enhancement', () => {
  const rows = 256;
  const columns = 256;
  let seed = 3;
  const noise = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 4294967296 - 0.5) * 0.2;
  // A soft gradient with thin bars (detail) and noise.
  const image = new Float32Array(rows * columns).map((_, i) => {
    const x = i % columns;
    const y = Math.floor(i / columns);
    return 2 + x / columns + (y % 32 < 3 ? 0.1 : 0) + noise();
  });

  test('with neutral settings the pyramid reconstructs the image exactly', async () => {
    const out = await enhance(
      { data: image, rows, columns },
      { power: 1, gains: [1, 1, 1, 1, 1], residualWeight: 1, noiseThreshold: 0 },
      LOCAL,
      new Workspace(),
    );
    let worst = 0;
    for (let i = 0; i < out.length; i += 1) worst = Math.max(worst, Math.abs(out[i] - image[i]));
    assert.ok(worst < 1e-4, `largest difference ${worst}`);
  });

  test('detail is amplified against the background, and the noise threshold smooths flat areas', async () => {
    const bars = (data: Float32Array) => {
      const on: number[] = [];
      const off: number[] = [];
      for (let y = 0; y < rows; y += 1)
        for (let x = 100; x < 150; x += 1) (y % 32 === 1 ? on : y % 32 === 16 ? off : []).push(data[y * columns + x]);
      return mean(on) - mean(off);
    };
    const enhanced = await enhance({ data: image, rows, columns }, DEFAULT_ENHANCEMENT, LOCAL, new Workspace());
    assert.ok(bars(enhanced) > 1.2 * bars(image), `bar contrast ${bars(image).toFixed(3)} → ${bars(enhanced).toFixed(3)}`);
    const flat = (data: Float32Array) => {
      const values: number[] = [];
      for (let y = 10; y < 28; y += 1) for (let x = 100; x < 110; x += 1) values.push(data[y * columns + x] - data[y * columns + x - 1]);
      return sd(values);
    };
    const quiet = await enhance(
      { data: image, rows, columns },
      { power: 1, gains: [1, 1, 1, 1, 1], residualWeight: 1, noiseThreshold: 2 },
      LOCAL,
      new Workspace(),
    );
    assert.ok(flat(quiet) < 0.8 * flat(image), `pixel-to-pixel noise ${flat(image).toFixed(4)} → ${flat(quiet).toFixed(4)}`);
  });
});
