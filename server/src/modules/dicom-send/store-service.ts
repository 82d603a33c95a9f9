import { randomUUID } from 'node:crypto';
import type { AuthUser } from '../auth/auth-user.js';
import { AppError } from '../../util/errors.js';
import type { PacsNodeRow, PacsRepository } from '../pacs/repository.js';
import type { ImageRow, StudiesRepository } from '../studies/repository.js';
import type { StudiesService } from '../studies/service.js';
import type { AttemptEnd, JobKind } from '../jobs/kinds.js';
import type { JobRunner } from '../jobs/runner.js';
import {
  STORE_KIND,
  taskStatus,
  type StorePayload,
  type StoreTask,
  type StoreTaskRepository,
  type StoreTaskStatus,
} from './store-repository.js';

/** How long POST scp/store waits for the first attempt before answering "queued". */
const FIRST_ATTEMPT_WAIT_MS = 30_000;

/** A task's state after one attempt, for a request waiting on it. */
interface AttemptResult {
  status: StoreTaskStatus;
  output: string;
  error: string;
}

function taskBody(t: StoreTask) {
  return {
    task_id: t.taskId,
    patient_name: t.patientName,
    patient_id: t.patientId,
    priority: t.priority,
    status: t.status,
    destination: t.destination,
    start_time: t.createdAt,
    sop_instance_uid: t.sopInstanceUid,
    attempts: t.attempts,
    next_attempt_time: t.status === 'QUEUING' ? t.nextAttemptAt : null,
    error: t.lastError,
    end_time: t.completedAt,
  };
}

/**
 * The send queue's public face: queue an image or a study for a PACS node, list, retry and
 * delete tasks. Sending is the job runner's (store-job.ts); a request waits for the first attempt
 * so the console shows its outcome, and the task goes on retrying in the background if that
 * attempt failed.
 */
export class StoreService {
  /** Requests waiting for a task's next attempt, by task id (registered before the task exists). */
  private readonly waiters = new Map<string, ((r: AttemptResult) => void)[]>();

  constructor(
    private readonly tasks: StoreTaskRepository,
    private readonly pacs: PacsRepository,
    private readonly studiesRepo: StudiesRepository,
    private readonly studies: StudiesService,
    private readonly runner: JobRunner,
    private readonly kind: JobKind<StorePayload>,
  ) {
    runner.onAttemptEnd((end) => this.attemptEnded(end));
  }

  private attemptEnded(end: AttemptEnd): void {
    if (end.kind !== STORE_KIND || !end.key) return;
    const list = this.waiters.get(end.key);
    this.waiters.delete(end.key);
    // A job queued again after its attempt ended will be retried.
    const status = taskStatus({ state: end.state });
    for (const resolve of list ?? []) resolve({ status, output: end.result, error: end.error });
  }

  /** Resolves after the task's next attempt ends (or undefined after `timeoutMs`). */
  private nextAttempt(taskId: string, timeoutMs: number): Promise<AttemptResult | undefined> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiters.delete(taskId);
        resolve(undefined);
      }, timeoutMs);
      const list = this.waiters.get(taskId) ?? [];
      list.push((r) => {
        clearTimeout(timer);
        resolve(r);
      });
      this.waiters.set(taskId, list);
    });
  }

  private async node(name: string): Promise<PacsNodeRow> {
    const node = await this.pacs.byName(name.trim());
    if (!node) throw new AppError('PACS_NOT_FOUND', [{ field: 'pacs_name', message: `no PACS node named ${name}` }], name);
    if (node.is_enabled !== 1)
      throw new AppError('PACS_NOT_FOUND', [{ field: 'pacs_name', message: `PACS node ${name} is disabled` }], name);
    return node;
  }

  /**
   * Queues the images' tasks, waiting for their first attempts from before the runner can take
   * them. The images say Sending before the tasks exist, so an attempt's Sent or Failed is never
   * overwritten.
   */
  private async queue(
    images: ImageRow[],
    node: PacsNodeRow,
    wait = true,
  ): Promise<{ taskIds: string[]; attempts: Promise<AttemptResult | undefined>[] }> {
    const payloads: StorePayload[] = [];
    for (const image of images) {
      const study = await this.studiesRepo.studyByPk(image.study_pk);
      payloads.push({
        imagePk: image.id,
        studyPk: image.study_pk,
        sopInstanceUid: image.sop_instance_uid,
        pacsNodeId: node.id,
        destination: node.name,
        patientName: study.patient_name,
        patientId: study.patient_id,
        priority: 'Medium',
      });
    }
    for (const image of images) await this.studiesRepo.updateImage(image.id, { send_status: 'Sending' });
    const taskIds = payloads.map(() => randomUUID());
    const attempts = wait ? taskIds.map((id) => this.nextAttempt(id, FIRST_ATTEMPT_WAIT_MS)) : [];
    await this.runner.enqueue(this.kind, payloads, { keys: taskIds });
    return { taskIds, attempts };
  }

  /** Waits for the first attempt of every task and reports them together. */
  private async firstAttempts({ taskIds, attempts }: { taskIds: string[]; attempts: Promise<AttemptResult | undefined>[] }) {
    const results = await Promise.all(attempts);
    const ok = results.every((r) => r?.status === 'COMPLETED');
    // One association's log grows with each object: the longest is the whole of it.
    const output = results.reduce((longest, r) => (r && r.output.length > longest.length ? r.output : longest), '');
    const errors = [
      ...new Set(
        results
          .filter((r) => r && r.status !== 'COMPLETED')
          .map((r) => `E: ${r!.error} (${r!.status === 'QUEUING' ? 'will retry' : 'failed'})`),
      ),
    ];
    const pending = results.filter((r) => !r).length;
    const tail = [...errors, ...(pending > 0 ? [`I: ${pending} task(s) still queued`] : [])].map((l) => `${l}\n`).join('');
    return { ok, output: output + tail, task_ids: taskIds };
  }

  async storeImage(sopInstanceUid: string, pacsName: string, user: AuthUser) {
    const node = await this.node(pacsName);
    const image = await this.studiesRepo.image(sopInstanceUid);
    if (!image) throw new AppError('IMAGE_NOT_FOUND', [], sopInstanceUid);
    const study = await this.studiesRepo.studyByPk(image.study_pk);
    this.studies.assertAccess(user, study, false);
    if (!image.image_file) throw new AppError('IMAGE_NOT_EXPOSED', [], sopInstanceUid);
    return this.firstAttempts(await this.queue([image], node));
  }

  /** Every stored image of the study that was not rejected. */
  async storeStudy(studyId: string, pacsName: string, user: AuthUser) {
    const node = await this.node(pacsName);
    const study = await this.studies.requireStudy(studyId, user, false);
    const images = (await this.studiesRepo.imagesOf([study.id])).filter((i) => i.image_file && i.judged_status !== 'Reject');
    if (images.length === 0) throw new AppError('IMAGE_NOT_EXPOSED', [], `study ${studyId} has no stored images to send`);
    return this.firstAttempts(await this.queue(images, node));
  }

  /** Queues an accepted image for the default node, when auto-send is on and there is one. */
  async autoSend(image: ImageRow): Promise<void> {
    const node = (await this.pacs.list()).find((n) => n.is_default === 1 && n.is_enabled === 1);
    if (node && image.image_file) await this.queue([image], node, false);
  }

  async list(from?: string, to?: string) {
    return (await this.tasks.list(from, to)).map(taskBody);
  }

  private async task(taskId: string): Promise<StoreTask> {
    const task = await this.tasks.byTaskId(taskId);
    if (!task) throw new AppError('STORE_TASK_NOT_FOUND', [], taskId);
    const leased = task.status === 'SENDING' && task.lockedUntil !== null && task.lockedUntil > new Date().toISOString();
    if (leased) throw new AppError('STORE_TASK_BUSY', [], taskId);
    return task;
  }

  /** store_reply: the task goes again now, its attempts counted afresh. */
  async retry(taskId: string) {
    const task = await this.task(taskId);
    await this.studiesRepo.updateImage(task.imagePk, { send_status: 'Sending' });
    const attempts = [this.nextAttempt(taskId, FIRST_ATTEMPT_WAIT_MS)];
    // Running again (its lease ran out and another process took it): the request waits for that attempt.
    await this.runner.requeue(task.id);
    return this.firstAttempts({ taskIds: [taskId], attempts });
  }

  async remove(taskId: string): Promise<void> {
    const task = await this.task(taskId);
    await this.tasks.delete(task.id);
  }
}
