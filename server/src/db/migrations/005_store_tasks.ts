import type { Kysely } from 'kysely';
import { addIdColumn } from '../columns.js';
import type { DialectName } from '../index.js';

/**
 * The C-STORE send queue: one row per (image, destination) send. The row is its own durable
 * job: due rows are claimed with a lease (`locked_until`), so a process that dies mid-send
 * leaves a row another worker — or this one after a restart — takes again when the lease ends.
 */
export function storeTasks(dialect: DialectName) {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await addIdColumn(db.schema.createTable('store_tasks'), dialect)
        .addColumn('task_id', 'text', (c) => c.notNull().unique())
        .addColumn('image_pk', 'integer', (c) => c.notNull())
        .addColumn('study_pk', 'integer', (c) => c.notNull())
        .addColumn('sop_instance_uid', 'text', (c) => c.notNull())
        .addColumn('pacs_node_id', 'integer', (c) => c.notNull())
        .addColumn('destination', 'text', (c) => c.notNull())
        .addColumn('patient_name', 'text', (c) => c.notNull())
        .addColumn('patient_id', 'text', (c) => c.notNull())
        .addColumn('priority', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('next_attempt_at', 'text', (c) => c.notNull())
        .addColumn('locked_until', 'text')
        .addColumn('last_error', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('output', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addColumn('completed_at', 'text')
        .execute();
      await db.schema.createIndex('store_tasks_due').on('store_tasks').columns(['status', 'next_attempt_at']).execute();
      await db.schema.createIndex('store_tasks_created').on('store_tasks').column('created_at').execute();
      await db.schema.createIndex('store_tasks_image').on('store_tasks').column('image_pk').execute();
    },
  };
}
