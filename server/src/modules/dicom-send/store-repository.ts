import type { JobRow, JobsRepository } from '../jobs/repository.js';

/** The job kind's name: send tasks are `jobs` rows of this queue, their task id the job key. */
export const STORE_KIND = 'dicom.store';

/** What a send task carries (the job's payload). */
export interface StorePayload {
  imagePk: number;
  studyPk: number;
  sopInstanceUid: string;
  pacsNodeId: number;
  destination: string;
  patientName: string;
  patientId: string;
  priority: string;
}

/**
 * The spec's send-task states. A queued task is QUEUING whether or not an attempt failed before;
 * `attempts` and `next_attempt_time` tell a retry apart (earlier builds said PENDING/RETRYING,
 * which a client written from the spec does not know).
 */
export type StoreTaskStatus = 'QUEUING' | 'SENDING' | 'COMPLETED' | 'FAILED';

/** A send task as the API has always shown it. */
export interface StoreTask extends StorePayload {
  id: number;
  taskId: string;
  status: StoreTaskStatus;
  attempts: number;
  nextAttemptAt: string;
  lockedUntil: string | null;
  lastError: string;
  createdAt: string;
  completedAt: string | null;
}

/** A job's state in the send queue's words. */
export function taskStatus(row: Pick<JobRow, 'state'>): StoreTaskStatus {
  switch (row.state) {
    case 'queued':
      return 'QUEUING';
    case 'running':
      return 'SENDING';
    case 'done':
      return 'COMPLETED';
    default:
      return 'FAILED';
  }
}

function asTask(row: JobRow): StoreTask {
  return {
    ...(JSON.parse(row.payload) as StorePayload),
    id: row.id,
    taskId: row.job_key ?? String(row.id),
    status: taskStatus(row),
    attempts: row.attempts,
    nextAttemptAt: row.run_at,
    lockedUntil: row.locked_until,
    lastError: row.last_error ?? '',
    createdAt: row.created_at,
    completedAt: row.completed_at,
  };
}

/** Send tasks read from the job table (the runner writes them). */
export class StoreTaskRepository {
  constructor(private readonly jobs: JobsRepository) {}

  async byTaskId(taskId: string): Promise<StoreTask | undefined> {
    const row = await this.jobs.byKey(STORE_KIND, taskId);
    return row && asTask(row);
  }

  async list(from: string | undefined, to: string | undefined): Promise<StoreTask[]> {
    return (await this.jobs.list(STORE_KIND, from, to, 1000)).map(asTask);
  }

  async delete(id: number): Promise<void> {
    await this.jobs.delete(id);
  }
}
