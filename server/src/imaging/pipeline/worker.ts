import { parentPort } from 'node:worker_threads';
import type { RpcReply } from '../../util/worker-rpc.js';
import type { DetectorCalibration } from '../calibration.js';
import { SplitExecutor } from './executor.js';
import { runPipeline, type PipelineResult, type Stage } from './index.js';
import { Workspace } from './shared.js';

/**
 * The pipeline's thread. The calibration (~85 MB at 3072²) arrives once per detector and is
 * kept, so each exposure only moves its raw frame in (transferred) and its two output frames
 * out (shared memory, not copied). Full-size stages are split with a helper thread.
 */
export type WorkerRequest =
  | { type: 'calibration'; key: string; calibration: DetectorCalibration }
  | { type: 'run'; id: number; key: string; rows: number; columns: number; raw: Uint16Array; targetEi: number };

const reply = (message: RpcReply<PipelineResult, Stage>) => parentPort?.postMessage(message);
const calibrations = new Map<string, DetectorCalibration>();
const executor = new SplitExecutor();
const workspace = new Workspace();
/** Runs one at a time: they share the workspace, and a room exposes one image at a time anyway. */
let queue: Promise<void> = Promise.resolve();

async function run(message: Extract<WorkerRequest, { type: 'run' }>): Promise<void> {
  const calibration = calibrations.get(message.key);
  try {
    if (!calibration) throw new Error(`no calibration ${message.key} in the pipeline worker`);
    const result = await runPipeline(
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
  if (message.type === 'calibration') calibrations.set(message.key, message.calibration);
  else queue = queue.then(() => run(message));
});
