import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DetectorSimulator } from '../../modules/devices/detector-simulator.js';
import { PipelineRunner } from './runner.js';

const size = 512;
const detector = new DetectorSimulator(size, size);
await detector.connect();
const exposure = { kv: 70, mas: 4, sidMm: 1000, bodyPart: 'SKULL' };
const expose = (runner: PipelineRunner) =>
  runner.run(
    { rows: size, columns: size, raw: detector.acquire(exposure).data, calibration: detector.calibration, targetEi: 300 },
    () => undefined,
  );

/** The same readout each time: a fresh simulator with the same seed repeats its noise. */
const sameDetector = () => {
  const d = new DetectorSimulator(size, size);
  return d.connect().then(() => d);
};

test('the warm-up runs the pipeline once and leaves nothing that changes an exposure', async () => {
  const cold = new PipelineRunner();
  const warm = new PipelineRunner();
  try {
    const [a, b] = [await sameDetector(), await sameDetector()];
    const reference = await cold.run(
      { rows: size, columns: size, raw: a.acquire(exposure).data, calibration: a.calibration, targetEi: 300 },
      () => undefined,
    );
    assert.equal(await warm.warmUp(b.calibration), 'done');
    const after = await warm.run(
      { rows: size, columns: size, raw: b.acquire(exposure).data, calibration: b.calibration, targetEi: 300 },
      () => undefined,
    );
    assert.deepEqual(after.exposure, reference.exposure);
    assert.deepEqual(after.window, reference.window);
    assert.ok(Buffer.from(after.presentation.buffer).equals(Buffer.from(reference.presentation.buffer)), 'the same pixels');
  } finally {
    await Promise.all([cold.close(), warm.close()]);
  }
});

test('an exposure arriving during the warm-up runs at once: the warm-up gives way', async () => {
  const runner = new PipelineRunner();
  try {
    const warming = runner.warmUp(detector.calibration);
    const stages: string[] = [];
    const result = await runner.run(
      { rows: size, columns: size, raw: detector.acquire(exposure).data, calibration: detector.calibration, targetEi: 300 },
      (stage) => {
        stages.push(stage);
      },
    );
    assert.equal(await warming, 'yielded');
    assert.equal(stages.length, 5, 'every stage of the exposure reported');
    assert.ok(result.exposure.ei > 0);
    // Later exposures are unaffected by the interrupted warm-up.
    assert.ok((await expose(runner)).exposure.ei > 0);
  } finally {
    await runner.close();
  }
});

test('a warm-up whose threads are closed rejects; it is not left waiting', async () => {
  const runner = new PipelineRunner();
  const refused = assert.rejects(runner.warmUp(detector.calibration), /closed/);
  await runner.close();
  await refused;
});
