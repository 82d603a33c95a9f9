import type { CreateTableBuilder } from 'kysely';
import type { DialectName } from './index.js';

/** Adds the auto-increment `id` primary key: SQLite's rowid alias, PostgreSQL's serial. */
export function addIdColumn<TB extends string, C extends string = never>(
  table: CreateTableBuilder<TB, C>,
  dialect: DialectName,
): CreateTableBuilder<TB, C | 'id'> {
  return dialect === 'sqlite'
    ? table.addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    : table.addColumn('id', 'serial', (c) => c.primaryKey());
}
