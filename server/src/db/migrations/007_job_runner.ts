import type { Kysely } from 'kysely';

/** The send queue's rows as 005/006 made them (read once here, then the table goes). */
interface StoreTaskRow {
  id: number;
  task_id: string;
  image_pk: number;
  study_pk: number;
  sop_instance_uid: string;
  pacs_node_id: number;
  destination: string;
  patient_name: string;
  patient_id: string;
  priority: string;
  status: string;
  attempts: number;
  next_attempt_at: string;
  locked_until: string | null;
  locked_by: string;
  last_error: string;
  output: string;
  created_at: string;
  updated_at: string;
  completed_at: string | null;
}

interface Tables {
  store_tasks: StoreTaskRow;
  jobs: Record<string, unknown>;
}

/** How a send task's status reads as a job state (PENDING/RETRYING differ only by attempts). */
const STATE: Record<string, string> = { PENDING: 'queued', RETRYING: 'queued', SENDING: 'running', COMPLETED: 'done', FAILED: 'failed' };

const COPY_BATCH = 500;

/**
 * One job runner over `jobs` (the queue column names the job's kind): a caller's key for the
 * job (the send queue's task id, which the API exposes), progress, the handler's last report,
 * a cancel request and when the job ended. The C-STORE send queue becomes the `dicom.store`
 * kind: its rows move into `jobs` with their task ids, states and leases, and `store_tasks` goes.
 */
export function jobRunner() {
  return {
    async up(untyped: Kysely<unknown>): Promise<void> {
      const db = untyped as unknown as Kysely<Tables>;
      await db.schema.alterTable('jobs').addColumn('job_key', 'text').execute();
      await db.schema
        .alterTable('jobs')
        .addColumn('progress', 'real', (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema
        .alterTable('jobs')
        .addColumn('result', 'text', (c) => c.notNull().defaultTo(''))
        .execute();
      await db.schema
        .alterTable('jobs')
        .addColumn('cancel_requested', 'integer', (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema.alterTable('jobs').addColumn('completed_at', 'text').execute();
      await db.schema.createIndex('jobs_key').on('jobs').columns(['queue', 'job_key']).unique().execute();
      await db.schema.createIndex('jobs_created').on('jobs').columns(['queue', 'created_at']).execute();

      for (let after = 0; ;) {
        const rows = await db.selectFrom('store_tasks').selectAll().where('id', '>', after).orderBy('id').limit(COPY_BATCH).execute();
        if (rows.length === 0) break;
        after = rows[rows.length - 1].id;
        await db
          .insertInto('jobs')
          .values(
            rows.map((t) => ({
              queue: 'dicom.store',
              job_key: t.task_id,
              payload: JSON.stringify({
                imagePk: t.image_pk,
                studyPk: t.study_pk,
                sopInstanceUid: t.sop_instance_uid,
                pacsNodeId: t.pacs_node_id,
                destination: t.destination,
                patientName: t.patient_name,
                patientId: t.patient_id,
                priority: t.priority,
              }),
              state: STATE[t.status] ?? 'failed',
              attempts: t.attempts,
              run_at: t.next_attempt_at,
              locked_by: t.locked_by || null,
              locked_until: t.locked_until,
              last_error: t.last_error,
              result: t.output,
              created_at: t.created_at,
              updated_at: t.updated_at,
              completed_at: t.completed_at,
            })),
          )
          .execute();
      }
      await db.schema.dropTable('store_tasks').execute();
    },
  };
}
