import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import { STATUS, statusText } from '../../dimse/command.js';
import { DimseError } from '../../dimse/scu.js';
import { storeFiles, stored, type StoreOutcome, type StoreSource } from '../../dimse/store-scu.js';
import type { ImageFilesService } from '../images/service.js';
import type { PacsRepository } from '../pacs/repository.js';
import type { StudiesRepository } from '../studies/repository.js';
import { DimseOutput } from './output.js';
import type { StoreTaskRepository, StoreTaskRow } from './store-repository.js';

export interface StoreWorkerOptions {
  callingAetFallback: string;
  timeoutMs: number;
  /** How long a claimed task is ours before another worker may take it over. */
  leaseMs: number;
  retryBaseMs: number;
  retryMaxMs: number;
  maxAttempts: number;
  pollMs: number;
  /** This installation (see util/node-id.ts); leases are held as `<node>/<boot>`. */
  node: string;
}

/** A task's state after one attempt, for callers waiting on it. */
export interface AttemptResult {
  status: StoreTaskRow['status'];
  output: string;
  error: string;
}

const iso = (ms: number) => new Date(ms).toISOString();

/** The wait before the next attempt after `attempts` failed ones: the base, doubled each time, never more than the max. */
export const retryDelayMs = (attempts: number, baseMs: number, maxMs: number): number => Math.min(maxMs, baseMs * 2 ** Math.max(0, attempts - 1));

/**
 * Works the send queue: claims due tasks with a lease, sends each destination's tasks of one
 * study over one association, and records every outcome. Association failures are retried
 * with exponential backoff; permanent refusals end the task as FAILED.
 */
export class StoreWorker {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private readonly waiters = new Map<string, ((r: AttemptResult) => void)[]>();
  /** Who holds this process's leases. */
  private readonly owner: string;

  constructor(
    private readonly tasks: StoreTaskRepository,
    private readonly pacs: PacsRepository,
    private readonly studies: StudiesRepository,
    private readonly files: ImageFilesService,
    private readonly options: StoreWorkerOptions,
  ) {
    this.owner = `${options.node}/${randomUUID()}`;
  }

  /** Takes back what this node's previous run was sending when it stopped, then works the queue. */
  async start(): Promise<void> {
    this.stopped = false;
    await this.tasks.releaseInterrupted(this.options.node, this.owner, iso(Date.now()));
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }

  /** Something was queued: look now rather than at the next poll. */
  kick(): void {
    if (this.running) this.again = true;
    else this.schedule(0);
  }

  /** Resolves after the task's next attempt ends (or undefined after `timeoutMs`). */
  nextAttempt(taskId: string, timeoutMs: number): Promise<AttemptResult | undefined> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(undefined), timeoutMs);
      const list = this.waiters.get(taskId) ?? [];
      list.push((r) => { clearTimeout(timer); resolve(r); });
      this.waiters.set(taskId, list);
    });
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => { this.running = this.work().finally(() => { this.running = undefined; }); }, ms);
    this.timer.unref();
  }

  private async work(): Promise<void> {
    try {
      do {
        this.again = false;
        const now = Date.now();
        const claimed = await this.tasks.claimDue(iso(now), iso(now + this.options.leaseMs), 100, this.owner);
        const groups = new Map<string, StoreTaskRow[]>();
        for (const t of claimed) {
          const key = `${t.pacs_node_id}/${t.study_pk}`;
          groups.set(key, [...(groups.get(key) ?? []), t]);
        }
        for (const group of groups.values()) {
          if (this.stopped) return;
          await this.sendGroup(group);
        }
        if (claimed.length > 0) this.again = true;
      } while (this.again && !this.stopped);
    } catch {
      // The database was unreachable for a moment: the next poll tries again.
    }
    const next = await this.tasks.nextDue().catch(() => undefined);
    const wait = this.again ? 0 : next ? Math.max(0, Math.min(this.options.pollMs, Date.parse(next) - Date.now())) : this.options.pollMs;
    this.schedule(wait);
  }

  private async sendGroup(group: StoreTaskRow[]): Promise<void> {
    const node = await this.pacs.byId(group[0]!.pacs_node_id);
    const output = new DimseOutput(true, Boolean(node && JSON.parse(node.params)?.debug));
    if (!node || node.is_enabled !== 1) {
      for (const task of group) await this.finish(task, 'FAILED', output.text(), node ? `PACS node ${node.name} is disabled` : 'the PACS node was deleted');
      return;
    }
    const ready: { task: StoreTaskRow; file: StoreSource }[] = [];
    for (const task of group) {
      const file = await this.fileOf(task);
      if (file) ready.push({ task, file });
      else await this.finish(task, 'FAILED', output.text(), 'the image has no stored DICOM object');
    }
    if (ready.length === 0) return;
    const heartbeat = setInterval(() => {
      this.tasks.renewLease(ready.map((r) => r.task.id), iso(Date.now() + this.options.leaseMs)).catch(() => undefined);
    }, Math.max(250, this.options.leaseMs / 3));
    const done = new Set<number>();
    try {
      await storeFiles(
        {
          host: node.address, port: node.port, calledAet: node.aet, callingAet: node.aec || this.options.callingAetFallback,
          connectTimeoutMs: this.options.timeoutMs, dimseTimeoutMs: this.options.timeoutMs,
        },
        ready.map((r) => r.file), output.log,
        async (outcome: StoreOutcome, index: number) => {
          const { task } = ready[index]!;
          done.add(task.id);
          if (stored(outcome.status)) await this.finish(task, 'COMPLETED', output.text(), '');
          else if ((outcome.status & 0xff00) === STATUS.OUT_OF_RESOURCES) await this.retry(task, output.text(), `${statusText(outcome.status)} ${outcome.comment}`.trim(), false);
          else await this.finish(task, 'FAILED', output.text(), `${statusText(outcome.status)}${outcome.comment ? `: ${outcome.comment}` : ''}`);
        },
      );
    } catch (error) {
      const permanent = error instanceof DimseError && error.permanent;
      const reason = error instanceof Error ? error.message : String(error);
      for (const { task } of ready) if (!done.has(task.id)) await this.retry(task, output.text(), reason, permanent);
    } finally {
      clearInterval(heartbeat);
    }
  }

  /** The image's DICOM object: its path when the blob store is local (read as it is sent), else its bytes. */
  private async fileOf(task: StoreTaskRow): Promise<StoreSource | undefined> {
    const image = await this.studies.image(task.sop_instance_uid);
    if (!image?.image_file) return undefined;
    const row = await this.files.repo.byName(image.image_file, 'dicom');
    if (!row) return undefined;
    const local = this.files.blobs.localPath(row.blob_key);
    if (local) return fs.stat(local).then(() => ({ path: local }), () => undefined);
    return this.files.blobs.read(row.blob_key).catch(() => undefined);
  }

  private async retry(task: StoreTaskRow, output: string, reason: string, permanent: boolean): Promise<void> {
    if (permanent || task.attempts >= this.options.maxAttempts) {
      await this.finish(task, 'FAILED', output, permanent ? reason : `${reason} (gave up after ${task.attempts} attempts)`);
      return;
    }
    const delay = retryDelayMs(task.attempts, this.options.retryBaseMs, this.options.retryMaxMs);
    await this.tasks.update(task.id, { status: 'RETRYING', next_attempt_at: iso(Date.now() + delay), locked_until: null, last_error: reason, output, updated_at: iso(Date.now()) });
    this.notify(task.task_id, { status: 'RETRYING', output, error: reason });
  }

  private async finish(task: StoreTaskRow, status: 'COMPLETED' | 'FAILED', output: string, error: string): Promise<void> {
    const now = iso(Date.now());
    await this.tasks.update(task.id, { status, locked_until: null, last_error: error, output, updated_at: now, completed_at: now });
    const image = await this.studies.image(task.sop_instance_uid);
    if (image) await this.studies.updateImage(image.id, { send_status: status === 'COMPLETED' ? 'Sent' : 'Failed' });
    this.notify(task.task_id, { status, output, error });
  }

  private notify(taskId: string, result: AttemptResult): void {
    const list = this.waiters.get(taskId);
    this.waiters.delete(taskId);
    for (const resolve of list ?? []) resolve(result);
  }
}
