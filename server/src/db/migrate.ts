import { Migrator, type Migration, type MigrationProvider } from 'kysely';
import type { Db, DialectName } from './index.js';
import { foundation } from './migrations/001_foundation.js';
import { drCore } from './migrations/002_dr_core.js';
import { files } from './migrations/003_files.js';
import { pacsNodes } from './migrations/004_pacs_nodes.js';
import { storeTasks } from './migrations/005_store_tasks.js';
import { storeTaskOwner } from './migrations/006_store_task_owner.js';
import { jobRunner } from './migrations/007_job_runner.js';
import { auditChain } from './migrations/008_audit_chain.js';
import { pacsNodePermissions } from './migrations/009_pacs_node_permissions.js';
import { leastPrivilege } from './migrations/010_least_privilege.js';
import { sessions } from './migrations/011_sessions.js';
import { specLibraryIds } from './migrations/012_spec_library_ids.js';
import { auditSession } from './migrations/014_audit_session.js';
import { pgWriteContention } from './migrations/015_pg_write_contention.js';
import { pacsNodeCharset } from './migrations/018_pacs_node_charset.js';
import { patientRecords } from './migrations/019_patient_records.js';

/** Numbered migrations, applied in order; never edit one that has shipped, add the next. */
export function migrationsFor(dialect: DialectName): Record<string, Migration> {
  return {
    '001_foundation': foundation(dialect),
    '002_dr_core': drCore(dialect),
    '003_files': files(dialect),
    '004_pacs_nodes': pacsNodes(dialect),
    '005_store_tasks': storeTasks(dialect),
    '006_store_task_owner': storeTaskOwner(),
    '007_job_runner': jobRunner(),
    '008_audit_chain': auditChain(dialect),
    '009_pacs_node_permissions': pacsNodePermissions(),
    '010_least_privilege': leastPrivilege(),
    '011_sessions': sessions(),
    '012_spec_library_ids': specLibraryIds(),
    '014_audit_session': auditSession(),
    '015_pg_write_contention': pgWriteContention(dialect),
    '018_pacs_node_charset': pacsNodeCharset(),
    '019_patient_records': patientRecords(dialect),
  };
}

/**
 * Brings the schema up to date. Kysely's migrator takes a PostgreSQL advisory lock for the
 * whole run, so two processes starting at once apply each migration exactly once; on SQLite
 * the run is one write transaction, which serialises the same way.
 */
export async function migrateToLatest(db: Db): Promise<string[]> {
  const provider: MigrationProvider = { getMigrations: () => Promise.resolve(migrationsFor(db.dialect)) };
  // Naming the schema matters: unqualified, Kysely's table check sees other schemas' lock tables.
  const migrator = new Migrator({ db: db.kysely, provider, ...(db.schema ? { migrationTableSchema: db.schema } : {}) });
  for (let attempt = 1; ; attempt += 1) {
    const { error, results } = await migrator.migrateToLatest();
    if (!error) return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
    if (attempt < 5 && otherSchemaVanished(error, db.schema)) continue;
    throw error instanceof Error ? error : new Error('the database migration failed', { cause: error });
  }
}

/**
 * Kysely's check for its own tables lists the tables of every schema, calling
 * has_schema_privilege() by name; a schema another process drops during that query fails it
 * with 3F000 ("schema … does not exist"). Nothing was migrated then, so it is safe to ask again
 * (seen when test suites on one PostgreSQL drop their schemas while others start).
 */
export function otherSchemaVanished(error: unknown, ours: string | undefined): boolean {
  if (!(error instanceof Error) || (error as { code?: unknown }).code !== '3F000') return false;
  return ours === undefined || !error.message.includes(`"${ours}"`);
}
