import assert from 'node:assert/strict';
import { test } from 'node:test';
import { insideCollimation, type Collimation } from '../../imaging/geometry.js';
import { DetectorSimulator, type RawImage } from './detector-simulator.js';
import { DeviceError } from './driver.js';

const SIZE = 512;
const detector = new DetectorSimulator(SIZE, SIZE);
await detector.connect();
const cal = detector.calibration;

/** Offset- and gain-corrected kerma (µGy) of a pixel, as the pipeline's first stage computes it. */
const kerma = (img: RawImage, i: number) => (img.data[i] - cal.offset[i]) / cal.gain[i] / cal.dnPerUGy;

function regionStats(img: RawImage, pick: (x: number, y: number) => boolean) {
  const values: number[] = [];
  for (let y = 0; y < SIZE; y += 1) {
    for (let x = 0; x < SIZE; x += 1) {
      const i = y * SIZE + x;
      if (!cal.defects[i] && pick(x, y)) values.push(kerma(img, i));
    }
  }
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const sd = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length);
  return { mean, sd, n: values.length };
}

const field: Collimation = { shape: 'rect', cx: 256, cy: 256, width: 480, height: 480, angleDeg: 0 };
// A strip of raw beam: inside the field, left of the limb phantom (which spans x ≈ 0.33–0.67).
const rawBeam = (x: number, y: number) => x > 30 && x < 120 && y > 200 && y < 312;
const expose = (mas: number, kv = 70, collimation: Collimation = field, bodyPart = 'HAND') =>
  detector.acquire({ kv, mas, sidMm: 1000, bodyPart, collimation });

test('signal follows mAs and kV²; the anatomy attenuates less at higher kV', () => {
  // Below the panel's saturation (~55 µGy): the open beam at 1 m is ~18 µGy per mAs at 70 kV.
  const one = regionStats(expose(0.5), rawBeam).mean;
  const two = regionStats(expose(1), rawBeam).mean;
  assert.ok(Math.abs(two / one - 2) < 0.05, `doubling mAs gave ×${(two / one).toFixed(3)}`);
  const low = expose(1, 60);
  const high = expose(1, 90);
  assert.ok(Math.abs(regionStats(high, rawBeam).mean / regionStats(low, rawBeam).mean - (90 / 60) ** 2) < 0.1);
  assert.ok(
    high.truth.anatomyKermaUGy / high.truth.rawBeamKermaUGy > low.truth.anatomyKermaUGy / low.truth.rawBeamKermaUGy,
    'transmission rises with kV',
  );
});

test('quantum noise: relative noise falls as 1/√dose', () => {
  const a = regionStats(expose(0.25), (x, y) => rawBeam(x, y) && y > 240 && y < 272); // a band of near-constant heel factor
  const b = regionStats(expose(1), (x, y) => rawBeam(x, y) && y > 240 && y < 272);
  const ratio = a.sd / a.mean / (b.sd / b.mean);
  assert.ok(Math.abs(ratio - 2) < 0.3, `relative noise ratio ${ratio.toFixed(2)} for 4× the dose`);
});

test('outside the field only scatter arrives; the heel effect brightens the cathode side', () => {
  const img = expose(1);
  const inside = regionStats(img, rawBeam).mean;
  const outside = regionStats(img, (x, y) => x < 10 && y > 100 && y < 400).mean;
  assert.ok(outside / inside < 0.02, `outside/inside ${outside / inside}`);
  const top = regionStats(img, (x, y) => x > 30 && x < 120 && y > 30 && y < 60).mean;
  const bottom = regionStats(img, (x, y) => x > 30 && x < 120 && y > 450 && y < 480).mean;
  assert.ok(top / bottom > 1.1 && top / bottom < 1.25, `heel ratio ${(top / bottom).toFixed(3)}`);
});

test('circular collimation; defective pixels; ground truth recorded', () => {
  const circle: Collimation = { shape: 'circle', cx: 256, cy: 256, radius: 200 };
  const img = expose(1, 70, circle, 'SKULL');
  assert.equal(img.truth.phantom, 'skull');
  assert.deepEqual(img.truth.collimation, circle);
  const corner = regionStats(img, (x, y) => x > 60 && x < 90 && y > 60 && y < 90 && !insideCollimation(circle, x + 0.5, y + 0.5)).mean;
  // Raw beam inside the circle, left of the skull (which spans x ≈ 0.17–0.83).
  const edgeInside = regionStats(img, (x, y) => x > 62 && x < 80 && y > 240 && y < 270).mean;
  assert.ok(corner < edgeInside / 20, 'the square corners outside the circle are dark');
  const deadColumn = Math.floor(SIZE * 0.61);
  assert.equal(img.data[256 * SIZE + deadColumn], Math.round(cal.offset[256 * SIZE + deadColumn]));
  assert.ok(cal.defects.reduce((a, b) => a + b, 0) >= SIZE, 'a dead column and scattered defects');
});

test('a closed detector refuses to acquire', async () => {
  const closed = new DetectorSimulator(64, 64);
  assert.throws(
    () => closed.acquire({ kv: 70, mas: 1, sidMm: 1000, bodyPart: 'HAND' }),
    (e: unknown) => e instanceof DeviceError && e.errorName === 'DEVICE_NOT_READY',
  );
});

test('prepare makes, a band at a time, the calibration first use makes, in shared memory', async () => {
  const [rows, columns] = [300, 700];
  const atOnce = new DetectorSimulator(rows, columns).calibration;
  const prepared = new DetectorSimulator(rows, columns);
  await prepared.prepare();
  const cal = prepared.calibration;
  for (const name of ['offset', 'gain', 'defects'] as const) {
    assert.deepEqual(cal[name], atOnce[name], `${name} is the same`);
    assert.ok(cal[name].buffer instanceof SharedArrayBuffer, `${name} is shared with the pipeline's threads, not copied`);
  }
  // A getter called while a build is under way finishes it rather than starting over.
  const interrupted = new DetectorSimulator(rows, columns);
  const running = interrupted.prepare();
  assert.deepEqual(interrupted.calibration.gain, atOnce.gain);
  await running;
});
