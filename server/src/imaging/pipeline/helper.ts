import { parentPort } from 'node:worker_threads';
import type { RpcReply } from '../../util/worker-rpc.js';
import { runKernel, type KernelName } from './kernels.js';

/** The pipeline's second thread: runs the row range of a kernel it is sent, on shared planes. */
export interface HelperJob {
  id: number;
  kernel: KernelName;
  args: never;
  from: number;
  to: number;
}

parentPort?.on('message', (job: HelperJob) => {
  try {
    runKernel(job.kernel, job.args, job.from, job.to);
    parentPort?.postMessage({ id: job.id } satisfies RpcReply<void>);
  } catch (error) {
    parentPort?.postMessage({ id: job.id, error: error instanceof Error ? error.message : String(error) } satisfies RpcReply<void>);
  }
});
