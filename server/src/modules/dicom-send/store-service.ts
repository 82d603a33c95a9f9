import { randomUUID } from 'node:crypto';
import type { AuthUser } from '../../http/context.js';
import { AppError } from '../../http/errors.js';
import type { PacsNodeRow, PacsRepository } from '../pacs/repository.js';
import type { ImageRow, StudiesRepository } from '../studies/repository.js';
import type { StudiesService } from '../studies/service.js';
import type { StoreTaskRepository, StoreTaskRow } from './store-repository.js';
import type { StoreWorker } from './store-worker.js';

/** How long POST scp/store waits for the first attempt before answering "queued". */
const FIRST_ATTEMPT_WAIT_MS = 30_000;

function taskBody(t: StoreTaskRow) {
  return {
    task_id: t.task_id, patient_name: t.patient_name, patient_id: t.patient_id, priority: t.priority, status: t.status,
    destination: t.destination, start_time: t.created_at, sop_instance_uid: t.sop_instance_uid, attempts: t.attempts,
    next_attempt_time: t.status === 'RETRYING' || t.status === 'PENDING' ? t.next_attempt_at : null, error: t.last_error,
    end_time: t.completed_at,
  };
}

/**
 * The send queue's public face: queue an image or a study for a PACS node, list, retry and
 * delete tasks. Sending is the worker's; a request waits for the first attempt so the console
 * shows its outcome, and the task goes on retrying in the background if that attempt failed.
 */
export class StoreService {
  constructor(
    private readonly tasks: StoreTaskRepository,
    private readonly pacs: PacsRepository,
    private readonly studiesRepo: StudiesRepository,
    private readonly studies: StudiesService,
    private readonly worker: StoreWorker,
  ) {}

  private async node(name: string): Promise<PacsNodeRow> {
    const node = await this.pacs.byName(name.trim());
    if (!node) throw new AppError('PACS_NOT_FOUND', [{ field: 'pacs_name', message: `no PACS node named ${name}` }], name);
    if (node.is_enabled !== 1) throw new AppError('PACS_NOT_FOUND', [{ field: 'pacs_name', message: `PACS node ${name} is disabled` }], name);
    return node;
  }

  private async queue(images: ImageRow[], node: PacsNodeRow): Promise<string[]> {
    const now = new Date().toISOString();
    const rows = [];
    for (const image of images) {
      const study = await this.studiesRepo.studyByPk(image.study_pk);
      rows.push({
        task_id: randomUUID(), image_pk: image.id, study_pk: image.study_pk, sop_instance_uid: image.sop_instance_uid, pacs_node_id: node.id,
        destination: node.name, patient_name: study.patient_name, patient_id: study.patient_id, priority: 'Medium', status: 'PENDING' as const,
        next_attempt_at: now, created_at: now, updated_at: now,
      });
    }
    await this.tasks.insert(rows);
    for (const image of images) await this.studiesRepo.updateImage(image.id, { send_status: 'Sending' });
    this.worker.kick();
    return rows.map((r) => r.task_id);
  }

  /** Waits for the first attempt of every task and reports them together. */
  private async firstAttempts(taskIds: string[]) {
    const results = await Promise.all(taskIds.map((id) => this.worker.nextAttempt(id, FIRST_ATTEMPT_WAIT_MS)));
    const ok = results.every((r) => r?.status === 'COMPLETED');
    // One association's log grows with each object: the longest is the whole of it.
    const output = results.reduce((longest, r) => (r && r.output.length > longest.length ? r.output : longest), '');
    const errors = [...new Set(results.filter((r) => r && r.status !== 'COMPLETED').map((r) => `E: ${r!.error} (${r!.status === 'RETRYING' ? 'will retry' : 'failed'})`))];
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
    const images = (await this.studiesRepo.db.selectFrom('images').selectAll().where('study_pk', '=', study.id).orderBy('sort').execute())
      .filter((i) => i.image_file && i.judged_status !== 'Reject');
    if (images.length === 0) throw new AppError('IMAGE_NOT_EXPOSED', [], `study ${studyId} has no stored images to send`);
    return this.firstAttempts(await this.queue(images, node));
  }

  /** Queues an accepted image for the default node, when auto-send is on and there is one. */
  async autoSend(image: ImageRow): Promise<void> {
    const node = (await this.pacs.list()).find((n) => n.is_default === 1 && n.is_enabled === 1);
    if (node && image.image_file) await this.queue([image], node);
  }

  async list(from?: string, to?: string) {
    return (await this.tasks.list(from, to)).map(taskBody);
  }

  private async task(taskId: string): Promise<StoreTaskRow> {
    const task = await this.tasks.byTaskId(taskId);
    if (!task) throw new AppError('STORE_TASK_NOT_FOUND', [], taskId);
    const leased = task.status === 'SENDING' && task.locked_until !== null && task.locked_until > new Date().toISOString();
    if (leased) throw new AppError('STORE_TASK_BUSY', [], taskId);
    return task;
  }

  /** store_reply: the task goes again now, its attempts counted afresh. */
  async retry(taskId: string) {
    const task = await this.task(taskId);
    const now = new Date().toISOString();
    await this.tasks.update(task.id, { status: 'PENDING', attempts: 0, next_attempt_at: now, locked_until: null, completed_at: null, updated_at: now });
    await this.studiesRepo.updateImage(task.image_pk, { send_status: 'Sending' });
    this.worker.kick();
    return this.firstAttempts([taskId]);
  }

  async remove(taskId: string): Promise<void> {
    const task = await this.task(taskId);
    await this.tasks.delete(task.id);
  }
}
