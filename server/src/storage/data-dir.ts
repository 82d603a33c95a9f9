import fs from 'node:fs';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { createPrivateFile } from '../db/index.js';

/** Files in the data directory are this process's user's alone: patient data, the database, the secret key. */
export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

/** Creates the data directory if missing and takes away group and other access (also from one made earlier). */
export function preparePrivateDir(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  const mode = fs.statSync(dir).mode & 0o777;
  if (mode !== PRIVATE_DIR_MODE) fs.chmodSync(dir, PRIVATE_DIR_MODE);
}

export class DataDirLockedError extends Error {
  constructor(readonly dataDir: string) {
    super(
      `another Roentgen process is using the data directory ${dataDir} (it holds ${path.join(dataDir, LOCK_FILE)}); ` +
        'stop it first, or give this process its own ROENTGEN_DATA_DIR',
    );
    this.name = 'DataDirLockedError';
  }
}

export const LOCK_FILE = 'roentgen.lock';

/** Lock files this process holds (see lockDataDir). */
const heldHere = new Set<string>();

/** The lock of a data directory, held until release() or until the process ends in any way. */
export interface DataDirLock {
  readonly file: string;
  release(): void;
}

/**
 * Makes this process the only one working on `dataDir` (the ingest journal, the blob store's
 * temporary files and the SQLite database assume one writer). The lock file is opened as an SQLite
 * database in exclusive locking mode inside an open exclusive transaction: SQLite holds that with a
 * POSIX advisory lock (fcntl), which the kernel drops when the process dies, kill -9 included, so
 * there is no stale PID file to clean up and no PID-reuse problem. A second process (or a second
 * server in this process) gets SQLITE_BUSY at once and is refused with DataDirLockedError.
 */
export function lockDataDir(dataDir: string): DataDirLock {
  const file = path.join(fs.realpathSync(dataDir), LOCK_FILE);
  // POSIX drops every lock a process holds on a file when it closes any descriptor of it, so a
  // second attempt from this process must not even open the file: it is answered from here.
  if (heldHere.has(file)) throw new DataDirLockedError(dataDir);
  let database: BetterSqlite3.Database | undefined;
  try {
    createPrivateFile(file);
    database = new BetterSqlite3(file, { timeout: 0 });
    database.pragma('locking_mode = EXCLUSIVE');
    database.exec('BEGIN EXCLUSIVE');
    // A write inside the transaction makes SQLite take the file's exclusive lock now, not at commit.
    database.exec('CREATE TABLE IF NOT EXISTS holder (pid INTEGER, started_at TEXT)');
    database.prepare('INSERT INTO holder VALUES (?, ?)').run(process.pid, new Date().toISOString());
  } catch (error) {
    database?.close();
    const code = (error as { code?: string }).code;
    if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') throw new DataDirLockedError(dataDir);
    throw error;
  }
  const held = database;
  heldHere.add(file);
  let released = false;
  return {
    file,
    release() {
      if (released) return;
      released = true;
      // Closing the connection ends the transaction and drops the fcntl lock.
      held.close();
      heldHere.delete(file);
    },
  };
}
