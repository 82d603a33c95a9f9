import { parentPort } from 'node:worker_threads';
import type { RpcReply } from '../../util/worker-rpc.js';
import type { DetectorCalibration } from '../calibration.js';
import { SplitExecutor } from './executor.js';
import { runPipeline, type PipelineResult, type Stage } from './index.js';
import { Workspace } from './shared.js';
import { warmUpFrame, yieldingExecutor } from './warm-up.js';

/**
 * The pipeline's thread. The calibration (~85 MB at 3072²) arrives once per detector and is
 * kept, so each exposure only moves its raw frame in (transferred) and its two output frames
 * out (shared memory, not copied). Full-size stages are split with a helper thread.
 */
export type WorkerRequest =
  | { type: 'calibration'; key: string; calibration: DetectorCalibration }
  | { type: 'run'; id: number; key: string; rows: number; columns: number; raw: Uint16Array; targetEi: number }
  /** The start-up warm-up (warm-up.ts): the pipeline over a synthetic frame, giving way to any run. */
  | { type: 'warm-up'; id: number; key: string; targetEi: number };

const reply = (message: RpcReply<PipelineResult, Stage>) => parentPort?.postMessage(message);
const calibrations = new Map<string, DetectorCalibration>();
const executor = new SplitExecutor();
const workspace = new Workspace();
/** Runs one at a time: they share the workspace, and a room exposes one image at a time anyway. */
let queue: Promise<void> = Promise.resolve();
/** Exposures received and not started yet: a warm-up running gives way to them. */
let runsWaiting = 0;

async function run(message: Exclude<WorkerRequest, { type: 'calibration' }>): Promise<void> {
  const calibration = calibrations.get(message.key);
  try {
    if (!calibration) throw new Error(`no calibration ${message.key} in the pipeline worker`);
    const result =
      message.type === 'warm-up'
        ? await runPipeline(
            {
              rows: calibration.rows,
              columns: calibration.columns,
              raw: warmUpFrame(calibration),
              calibration,
              targetEi: message.targetEi,
              workspace,
            },
            yieldingExecutor(executor, () => runsWaiting > 0),
          )
        : await runPipeline(
            {
              rows: message.rows,
              columns: message.columns,
              raw: message.raw,
              calibration,
              targetEi: message.targetEi,
              workspace,
              onStage: (stage) => reply({ id: message.id, progress: stage }),
            },
            executor,
          );
    reply({ id: message.id, result });
  } catch (error) {
    reply({ id: message.id, error: error instanceof Error ? error.message : String(error) });
  }
}

parentPort?.on('message', (message: WorkerRequest) => {
  if (message.type === 'calibration') {
    calibrations.set(message.key, message.calibration);
    return;
  }
  if (message.type === 'run') runsWaiting += 1;
  queue = queue.then(() => {
    if (message.type === 'run') runsWaiting -= 1;
    return run(message);
  });
});
