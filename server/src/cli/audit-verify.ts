import { loadConfig } from '../config.js';
import { openDatabase } from '../db/index.js';
import { AuditRepository } from '../modules/audit/repository.js';

/**
 * `npm run audit:verify`: walks the audit log's hash chain of the configured database (same
 * environment as `npm start`) and reports the first row that does not hold. Exit status 0 when
 * the chain is intact, 2 when it is broken, 1 when it could not be read. Read-only.
 */
async function main(): Promise<number> {
  const db = await openDatabase(loadConfig());
  try {
    const verdict = await new AuditRepository(db).verify();
    if (verdict.ok) {
      process.stdout.write(`audit chain intact: ${verdict.rows} rows verified\n`);
      return 0;
    }
    process.stdout.write(`audit chain BROKEN at row id ${verdict.brokenId}: ${verdict.reason} (${verdict.rows} rows before it verified)\n`);
    return 2;
  } finally {
    await db.close();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`audit verification failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
