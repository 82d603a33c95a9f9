import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DetectorSimulator } from '../../modules/devices/detector-simulator.js';
import { runPipeline, STAGES, type Stage } from './index.js';
import { PipelineRunner } from './runner.js';

test('the worker gives the in-thread result, reports every stage, and leaves the event loop free', async () => {
  const size = 2048;
  const detector = new DetectorSimulator(size, size);
  await detector.connect();
  const exposure = { kv: 110, mas: 2, sidMm: 1800, bodyPart: 'CHEST' };
  const inThread = await runPipeline({
    rows: size,
    columns: size,
    raw: detector.acquire(exposure).data,
    calibration: detector.calibration,
    targetEi: 300,
  });
  const runner = new PipelineRunner();
  try {
    const raw = detector.acquire(exposure).data;
    const stages: Stage[] = [];
    let last = performance.now();
    let worstGap = 0;
    const ticker = setInterval(() => {
      const now = performance.now();
      worstGap = Math.max(worstGap, now - last);
      last = now;
    }, 5);
    const started = performance.now();
    const result = await runner.run({ rows: size, columns: size, raw, calibration: detector.calibration, targetEi: 300 }, (s) => {
      stages.push(s);
    });
    clearInterval(ticker);
    assert.deepEqual(stages, [...STAGES]);
    assert.equal(raw.byteLength, 0, 'the raw frame was transferred, not copied');
    assert.ok(
      Math.abs(result.exposure.ei - inThread.exposure.ei) / inThread.exposure.ei < 0.05,
      `EI ${result.exposure.ei} vs ${inThread.exposure.ei}`,
    );
    assert.equal(result.presentation.length, size * size);
    const inThreadMs = Object.values(inThread.timings).reduce((a, b) => a + b, 0);
    assert.ok(
      worstGap < inThreadMs / 2,
      `the event loop stalled ${worstGap.toFixed(0)} ms of a ${(performance.now() - started).toFixed(0)} ms run (in-thread pipeline: ${inThreadMs.toFixed(0)} ms)`,
    );
  } finally {
    await runner.close();
  }
});
