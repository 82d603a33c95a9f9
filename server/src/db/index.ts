import fs from 'node:fs';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import {
  CompiledQuery,
  Kysely,
  PostgresDialect,
  SqliteDialect,
  sql,
  type Expression,
  type RawBuilder,
  type SqlBool,
  type SqliteDatabase,
  type Dialect,
  type Transaction,
} from 'kysely';
import pg from 'pg';
import type { Database } from './schema.js';
import { ilikeFor } from './sql.js';
import { recordingDialect, withDriver, type CommittedWriteListener, type WriteRecorder } from './write-guard.js';

export type { CommittedWriteListener, RunInTransaction, WriteChange, WriteRecorder } from './write-guard.js';

export type DialectName = 'sqlite' | 'postgres';

/** The database handle repositories receive (services never query through it). */
export interface Db {
  kysely: Kysely<Database>;
  dialect: DialectName;
  /** PostgreSQL schema in use, when not the default. */
  schema: string | undefined;
  /** Case-insensitive LIKE with a pattern from `likePattern`. */
  ilike(column: Expression<string | null>, pattern: string): RawBuilder<SqlBool>;
  /**
   * Installs the recorder every committed write is reported to (the audit log): from then on a
   * write it wants recorded commits only together with its record.
   */
  recordWrites(recorder: WriteRecorder): void;
  /**
   * Calls `listener` with the tables a write changed, once it is committed (before the writer's
   * own code goes on): in-process caches drop rows this process changed at once.
   */
  onCommittedWrite(listener: CommittedWriteListener): void;
  /** Human description for health/software_info, e.g. "SQLite 3.53.2". */
  describe(): Promise<string>;
  close(): Promise<void>;
}

/** A connection or an open transaction: what a repository method runs its SQL on when a caller spans several. */
export type Executor = Kysely<Database> | Transaction<Database>;

// COUNT(*) and BIGINT come back as strings from pg; our counts and ids stay far below 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, (value: string) => Number(value));

async function ensureSchema(url: string, schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
  } catch (error) {
    // Two processes creating the schema at once: the loser sees a duplicate, which is fine.
    const code = (error as { code?: string }).code;
    if (code !== '42P06' && code !== '23505') throw error;
  } finally {
    await client.end();
  }
}

/** Fans a committed write out to every listener registered on the handle. */
function committedWrites(): { listeners: CommittedWriteListener[]; tell: CommittedWriteListener } {
  const listeners: CommittedWriteListener[] = [];
  return {
    listeners,
    tell: (tables) => {
      for (const listener of listeners) listener(tables);
    },
  };
}

/**
 * SQLite transactions begin IMMEDIATE. Two connections write this database (the server's and the
 * ingest index thread's); a deferred transaction that has read and then writes after the other
 * committed fails at once with SQLITE_BUSY ("database is locked") instead of waiting out
 * busy_timeout, which failed index batches under load once indexing ran while objects arrived.
 * Taking the write lock at BEGIN makes every writer wait its turn.
 */
function immediateTransactions(dialect: Dialect): Dialect {
  return withDriver(dialect, (driver) => {
    driver.beginTransaction = async (connection) => {
      await connection.executeQuery(CompiledQuery.raw('begin immediate'));
    };
    return driver;
  });
}

/** Prepared statements kept per SQL text; more distinct texts than this and the cache starts over. */
const STATEMENT_CACHE_SIZE = 500;

/**
 * better-sqlite3 behind Kysely with its prepared statements reused: Kysely prepares every query
 * anew, and preparing was ~0.7 ms of a ~2.9 ms ingest transaction (11 statements) here. Safe
 * because Kysely runs a statement to completion before the next (we never stream queries).
 */
function withStatementCache(database: BetterSqlite3.Database): SqliteDatabase {
  const cache = new Map<string, BetterSqlite3.Statement>();
  return {
    prepare(text: string) {
      let statement = cache.get(text);
      if (!statement) {
        if (cache.size >= STATEMENT_CACHE_SIZE) cache.clear();
        statement = database.prepare(text);
        cache.set(text, statement);
      }
      return statement;
    },
    close: () => database.close(),
  };
}

/**
 * Creates an empty file with mode 0600 unless it exists. Never opens an existing file: closing any
 * descriptor of a file drops every POSIX lock this process holds on it, SQLite's included.
 */
export function createPrivateFile(file: string): void {
  try {
    fs.closeSync(fs.openSync(file, 'wx', 0o600));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
}

/** Opens the configured database; another thread (the ingest indexer) opens its own connection with the same settings. */
export interface DatabaseSettings {
  /** postgres:// URL; SQLite under dataDir when unset. */
  databaseUrl: string | undefined;
  /** PostgreSQL schema to create and use, when not the default. */
  databaseSchema: string | undefined;
  /** PostgreSQL connections in the pool (default 10). */
  databasePoolMax?: number;
  dataDir: string;
}

export async function openDatabase(config: DatabaseSettings): Promise<Db> {
  if (config.databaseUrl) {
    const schema = config.databaseSchema;
    if (schema) await ensureSchema(config.databaseUrl, schema);
    const pool = new pg.Pool({
      connectionString: config.databaseUrl,
      max: config.databasePoolMax ?? 10,
      // Our own `options` would hide PGOPTIONS (libpq's way to pass settings such as log_lock_waits), so both go.
      ...(schema || process.env.PGOPTIONS
        ? { options: [schema ? `-c search_path=${schema}` : '', process.env.PGOPTIONS ?? ''].filter(Boolean).join(' ') }
        : {}),
    });
    let recorder: WriteRecorder | undefined;
    const writes = committedWrites();
    const kysely = new Kysely<Database>({ dialect: recordingDialect(new PostgresDialect({ pool }), () => recorder, writes.tell) });
    return {
      kysely,
      recordWrites: (r) => {
        recorder = r;
      },
      onCommittedWrite: (listener) => {
        writes.listeners.push(listener);
      },
      dialect: 'postgres',
      schema,
      ilike: (column, pattern) => ilikeFor('postgres', column, pattern),
      async describe() {
        const result = await sql<{ version: string }>`select current_setting('server_version') as version`.execute(kysely);
        return `PostgreSQL ${result.rows[0]?.version ?? 'unknown'}`;
      },
      close: () => kysely.destroy(),
    };
  }
  fs.mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const file = path.join(config.dataDir, 'roentgen.sqlite');
  // Patient data and password hashes: this user's only. SQLite gives its -wal and -shm files the
  // database file's mode, so the file is made (or tightened) before SQLite opens it.
  createPrivateFile(file);
  for (const f of [file, `${file}-wal`, `${file}-shm`]) {
    if (fs.existsSync(f) && (fs.statSync(f).mode & 0o077) !== 0) fs.chmodSync(f, 0o600);
  }
  const database = new BetterSqlite3(file);
  database.pragma('journal_mode = WAL');
  database.pragma('synchronous = NORMAL');
  database.pragma('foreign_keys = ON');
  database.pragma('busy_timeout = 5000');
  let recorder: WriteRecorder | undefined;
  const writes = committedWrites();
  const kysely = new Kysely<Database>({
    dialect: recordingDialect(
      immediateTransactions(new SqliteDialect({ database: withStatementCache(database) })),
      () => recorder,
      writes.tell,
    ),
  });
  return {
    kysely,
    recordWrites: (r) => {
      recorder = r;
    },
    onCommittedWrite: (listener) => {
      writes.listeners.push(listener);
    },
    dialect: 'sqlite',
    schema: undefined,
    ilike: (column, pattern) => ilikeFor('sqlite', column, pattern),
    describe() {
      const row = database.prepare('select sqlite_version() as version').get() as { version: string };
      return Promise.resolve(`SQLite ${row.version}`);
    },
    close: () => kysely.destroy(),
  };
}
