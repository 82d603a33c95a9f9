import { Migrator } from 'kysely';
import type { Db } from '../src/db/index.js';
import { migrationsFor } from '../src/db/migrate.js';

/**
 * Brings a test database to the schema an earlier release had: every migration whose name sorts
 * before `first` (e.g. '015'), so an upgrade test can store rows as that release did and then
 * start the server, which runs the rest.
 */
export async function migrateBefore(db: Db, first: string): Promise<void> {
  const migrations = migrationsFor(db.dialect);
  const last = Object.keys(migrations)
    .filter((name) => name < first)
    .sort()
    .at(-1);
  if (!last) throw new Error(`no migration sorts before ${first}`);
  const migrator = new Migrator({
    db: db.kysely,
    provider: { getMigrations: () => Promise.resolve(migrations) },
    ...(db.schema ? { migrationTableSchema: db.schema } : {}),
  });
  const { error } = await migrator.migrateTo(last);
  if (error) throw error instanceof Error ? error : new Error(`migrating to ${last} failed`, { cause: error });
}
