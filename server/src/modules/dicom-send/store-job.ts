import fs from 'node:fs/promises';
import { STATUS, statusText } from '../../dimse/command.js';
import { DimseError } from '../../dimse/scu.js';
import { forNodeCharset } from '../../dicom/charset-writer.js';
import { storeFiles, stored, type StoreOutcome, type StoreSource } from '../../dimse/store-scu.js';
import type { ImageFilesService } from '../images/service.js';
import { defineJobKind, type JobKind, type RunningJob } from '../jobs/kinds.js';
import type { PacsRepository } from '../pacs/repository.js';
import type { StudiesRepository } from '../studies/repository.js';
import { DimseOutput } from '../../dimse/output.js';
import { STORE_KIND, type StorePayload } from './store-repository.js';

export interface StoreJobOptions {
  callingAetFallback: string;
  timeoutMs: number;
  /** How long a claimed task is ours before another process may take it over. */
  leaseMs: number;
  retryBaseMs: number;
  retryMaxMs: number;
  maxAttempts: number;
}

/** Tasks one process sends at once (their studies' associations run side by side). */
const CONCURRENCY = 100;

type StoreJob = RunningJob<StorePayload>;

/**
 * The C-STORE send queue as a job kind: the tasks of one destination and one study claimed
 * together go over one association, and every outcome is recorded. Association failures are
 * retried with the runner's back-off; refusals (a failure status, a rejected association) end
 * the task as FAILED; "out of resources" is retried. The image's send_status follows each end.
 */
export function storeJobKind(
  pacs: PacsRepository,
  studies: StudiesRepository,
  files: ImageFilesService,
  options: StoreJobOptions,
): JobKind<StorePayload> {
  /** The image's DICOM object: its path when the blob store is local (read as it is sent), else its bytes. */
  async function fileOf(task: StorePayload): Promise<StoreSource | undefined> {
    const image = await studies.image(task.sopInstanceUid);
    if (!image?.image_file) return undefined;
    const row = await files.repo.byName(image.image_file, 'dicom');
    if (!row) return undefined;
    const local = files.blobs.localPath(row.blob_key);
    if (local)
      return fs.stat(local).then(
        () => ({ path: local }),
        () => undefined,
      );
    return files.blobs.read(row.blob_key).catch(() => undefined);
  }

  async function sendGroup(group: StoreJob[]): Promise<void> {
    const node = await pacs.byId(group[0].payload.pacsNodeId);
    const output = new DimseOutput(true, Boolean(node && (JSON.parse(node.params) as { debug?: unknown } | null)?.debug));
    if (!node || node.is_enabled !== 1) {
      for (const job of group) await job.fail(node ? `PACS node ${node.name} is disabled` : 'the PACS node was deleted', output.text());
      return;
    }
    const ready: { job: StoreJob; file: StoreSource }[] = [];
    for (const job of group) {
      const file = await fileOf(job.payload);
      if (file) ready.push({ job, file });
      else await job.fail('the image has no stored DICOM object', output.text());
    }
    if (ready.length === 0) return;
    if (node.charset === 'GB18030')
      for (const r of ready) r.file = forNodeCharset(Buffer.isBuffer(r.file) ? r.file : await fs.readFile(r.file.path), node.charset);
    const done = new Set<number>();
    try {
      await storeFiles(
        {
          host: node.address,
          port: node.port,
          calledAet: node.aet,
          callingAet: node.aec || options.callingAetFallback,
          connectTimeoutMs: options.timeoutMs,
          dimseTimeoutMs: options.timeoutMs,
        },
        ready.map((r) => r.file),
        output.log,
        async (outcome: StoreOutcome, index: number) => {
          const { job } = ready[index];
          done.add(job.id);
          if (stored(outcome.status)) await job.complete(output.text());
          else if ((outcome.status & 0xff00) === STATUS.OUT_OF_RESOURCES)
            await job.retry(`${statusText(outcome.status)} ${outcome.comment}`.trim(), output.text());
          else await job.fail(`${statusText(outcome.status)}${outcome.comment ? `: ${outcome.comment}` : ''}`, output.text());
        },
      );
    } catch (error) {
      const permanent = error instanceof DimseError && error.permanent;
      const reason = error instanceof Error ? error.message : String(error);
      for (const { job } of ready) {
        if (done.has(job.id)) continue;
        if (permanent) await job.fail(reason, output.text());
        else await job.retry(reason, output.text());
      }
    }
  }

  return defineJobKind<StorePayload>({
    name: STORE_KIND,
    concurrency: CONCURRENCY,
    maxAttempts: options.maxAttempts,
    backoff: { baseMs: options.retryBaseMs, maxMs: options.retryMaxMs },
    leaseMs: options.leaseMs,
    groupBy: (p) => `${p.pacsNodeId}/${p.studyPk}`,
    run: sendGroup,
    async afterAttempt(job, state) {
      if (state !== 'done' && state !== 'failed') return;
      const image = await studies.image(job.payload.sopInstanceUid);
      if (image) await studies.updateImage(image.id, { send_status: state === 'done' ? 'Sent' : 'Failed' });
    },
  });
}
