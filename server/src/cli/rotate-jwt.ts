/**
 * `npm run secrets:rotate-jwt`: replaces the JWT signing secret, so every access and refresh
 * token issued before stops working (everyone logs in again). Run it with the server stopped: it
 * takes the data-directory lock like the server does. Other processes on the same PostgreSQL
 * database keep the old secret in memory until they restart.
 */
import { loadConfig } from '../config.js';
import { openDatabase } from '../db/index.js';
import { migrateToLatest } from '../db/migrate.js';
import { loadSecretKey } from '../modules/auth/secret-key.js';
import { randomHex, SecretsRepository } from '../modules/auth/secrets.js';
import { lockDataDir, preparePrivateDir } from '../storage/data-dir.js';

async function rotate(): Promise<void> {
  const config = loadConfig();
  if (config.jwtSecret) {
    throw new Error('JWT_SECRET is set in the environment and overrides the stored secret: change that value instead');
  }
  preparePrivateDir(config.dataDir);
  const lock = lockDataDir(config.dataDir);
  try {
    const db = await openDatabase(config);
    try {
      await migrateToLatest(db);
      const secrets = new SecretsRepository(db, loadSecretKey(config));
      await secrets.sealClearValues();
      await secrets.replace('jwt_secret', randomHex(32));
    } finally {
      await db.close();
    }
  } finally {
    lock.release();
  }
  process.stdout.write('JWT secret rotated: every token issued before is invalid. Restart any other process on this database.\n');
}

rotate().catch((error: unknown) => {
  process.stderr.write(`secrets:rotate-jwt failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
