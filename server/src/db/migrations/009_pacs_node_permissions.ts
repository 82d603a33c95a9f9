import type { Kysely } from 'kysely';

/**
 * What a DICOM node may do to us. Calling AE titles are now checked against the nodes table, so
 * each node says whether it may store objects here (C-STORE), query (C-FIND) and retrieve
 * (C-MOVE/C-GET, for the Q/R SCP to come). Existing nodes were configured by an operator and,
 * before this, any caller could store: they keep storing (1); query and retrieve are off (0)
 * until the Q/R SCP exists and an operator switches them on.
 */
export function pacsNodePermissions() {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      // One column per statement: SQLite's ALTER TABLE adds one at a time.
      for (const [column, initial] of [
        ['may_store', 1],
        ['may_query', 0],
        ['may_retrieve', 0],
      ] as const) {
        await db.schema
          .alterTable('pacs_nodes')
          .addColumn(column, 'integer', (c) => c.notNull().defaultTo(initial))
          .execute();
      }
    },
  };
}
