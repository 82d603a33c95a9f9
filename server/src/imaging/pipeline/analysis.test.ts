import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DetectorSimulator } from '../../modules/devices/detector-simulator.js';
import { corners, type Collimation } from '../geometry.js';
import { detectCollimation } from './collimation.js';
import { correct } from './correction.js';
import { exposureIndex, segment } from './exposure-index.js';

const SIZE = 1024;
const detector = new DetectorSimulator(SIZE, SIZE);
await detector.connect();
const tolerance = 0.02 * SIZE; // the bar: collimator edges within 2 % of the image size

function analyse(collimation: Collimation, mas = 4, bodyPart = 'CHEST', kv = 110) {
  const raw = detector.acquire({ kv, mas, sidMm: 1800, bodyPart, collimation });
  const kerma = correct(raw.data, detector.calibration);
  const found = detectCollimation(kerma, SIZE, SIZE);
  return { raw, found, seg: segment(found) };
}

describe("collimator detection against the simulator's ground truth", () => {
  const rects: Collimation[] = [
    { shape: 'rect', cx: 512, cy: 512, width: 860, height: 900, angleDeg: 0 },
    { shape: 'rect', cx: 480, cy: 540, width: 700, height: 820, angleDeg: 7 },
    { shape: 'rect', cx: 530, cy: 500, width: 600, height: 640, angleDeg: -20 },
    { shape: 'rect', cx: 400, cy: 600, width: 500, height: 300, angleDeg: 33 },
  ];
  for (const truth of rects) {
    test(`rectangle ${JSON.stringify(truth)}`, () => {
      const { field } = analyse(truth).found;
      assert.equal(field.shape, 'rect');
      const expected = corners(truth as Extract<Collimation, { shape: 'rect' }>);
      const actual = corners(field);
      for (const [x, y] of expected) {
        const nearest = Math.min(...actual.map(([ax, ay]) => Math.hypot(ax - x, ay - y)));
        assert.ok(
          nearest <= tolerance,
          `corner (${x.toFixed(0)}, ${y.toFixed(0)}) missed by ${nearest.toFixed(1)} px: found ${JSON.stringify(field)}`,
        );
      }
    });
  }

  test('circle (iris collimator)', () => {
    const truth: Collimation = { shape: 'circle', cx: 500, cy: 530, radius: 380 };
    const { field } = analyse(truth, 4, 'SKULL', 75).found;
    assert.ok(field.shape === 'circle', JSON.stringify(field));
    assert.ok(Math.hypot(field.cx - truth.cx, field.cy - truth.cy) <= tolerance, JSON.stringify(field));
    assert.ok(Math.abs(field.radius - truth.radius) <= tolerance, JSON.stringify(field));
  });

  test('open field (no shutters in view) is the whole detector', () => {
    const { field } = analyse({ shape: 'rect', cx: 512, cy: 512, width: 1100, height: 1100, angleDeg: 0 }).found;
    assert.ok(field.shape === 'rect');
    assert.ok(field.width >= SIZE - tolerance && field.height >= SIZE - tolerance, JSON.stringify(field));
  });
});

describe('Exposure Index and Deviation Index (IEC 62494-1)', () => {
  const field: Collimation = { shape: 'rect', cx: 512, cy: 512, width: 880, height: 900, angleDeg: 4 };
  test('EI rises monotonically with mAs and tracks the true detector dose; DI within ±1', () => {
    let previous = 0;
    for (const mas of [0.5, 1, 2, 4, 8]) {
      const { raw, found, seg } = analyse(field, mas);
      const expectedEi = 100 * raw.truth.anatomyKermaUGy;
      const targetEi = 300;
      const index = exposureIndex(seg, found.coarse.data, targetEi);
      assert.ok(index.ei > previous, `EI ${index.ei} at ${mas} mAs is not above ${previous}`);
      previous = index.ei;
      const expectedDi = 10 * Math.log10(expectedEi / targetEi);
      assert.ok(
        Math.abs(index.di - expectedDi) <= 1,
        `${mas} mAs: DI ${index.di} vs expected ${expectedDi.toFixed(2)} (EI ${index.ei} vs ${expectedEi.toFixed(1)})`,
      );
    }
  });

  test('each body part and a narrow field still give a DI within ±1', () => {
    for (const [bodyPart, kv, mas] of [
      ['HAND', 55, 2],
      ['SKULL', 75, 10],
      ['ABDOMEN', 80, 20],
      ['PELVIS', 75, 25],
    ] as const) {
      const { raw, found, seg } = analyse({ shape: 'rect', cx: 520, cy: 500, width: 640, height: 760, angleDeg: -5 }, mas, bodyPart, kv);
      const index = exposureIndex(seg, found.coarse.data, 250);
      const expectedDi = 10 * Math.log10((100 * raw.truth.anatomyKermaUGy) / 250);
      assert.ok(Math.abs(index.di - expectedDi) <= 1, `${bodyPart}: DI ${index.di} vs ${expectedDi.toFixed(2)}`);
    }
  });
});
