import type { Kysely } from 'kysely';

/**
 * Who holds a send task's lease: `<node id>/<boot id>`. A console that restarts after a crash
 * takes back at once the tasks its previous run was sending, instead of waiting for their lease
 * to run out (the node id is kept in the data directory; other processes' leases are left alone).
 */
export function storeTaskOwner() {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .alterTable('store_tasks')
        .addColumn('locked_by', 'text', (c) => c.notNull().defaultTo(''))
        .execute();
    },
  };
}
