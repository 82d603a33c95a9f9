import type { Kysely } from 'kysely';
import { addIdColumn } from '../columns.js';
import type { DialectName } from '../index.js';

/** DICOM nodes the console sends to (PACS) — one of them may be the default. */
export function pacsNodes(dialect: DialectName) {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await addIdColumn(db.schema.createTable('pacs_nodes'), dialect)
        .addColumn('name', 'text', (c) => c.notNull().unique())
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('address', 'text', (c) => c.notNull())
        .addColumn('port', 'integer', (c) => c.notNull())
        .addColumn('aet', 'text', (c) => c.notNull())
        .addColumn('aec', 'text', (c) => c.notNull())
        .addColumn('is_enabled', 'integer', (c) => c.notNull())
        .addColumn('is_default', 'integer', (c) => c.notNull())
        .addColumn('params', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
    },
  };
}
