import { CompiledQuery, type DatabaseConnection, type Dialect, type Driver, type QueryResult, type TransactionSettings } from 'kysely';

/** One statement that changed data: what it did to which table. */
export interface WriteChange {
  op: 'insert' | 'update' | 'delete' | 'merge' | 'write';
  table: string;
  rows?: number;
}

/**
 * Runs a compiled statement on the connection of the transaction being committed. With
 * `{ commit: true }` the statement is the transaction's last: it and COMMIT go in one round trip
 * (PostgreSQL only, a statement without parameters), so locks it takes are not held while the
 * event loop gets round to sending COMMIT; nothing may run after it.
 */
export type RunInTransaction = (query: CompiledQuery, options?: { commit: true }) => Promise<QueryResult<unknown>>;

/**
 * Told about every committed write. `wants()` decides whether the writes running now must be
 * recorded (a request is being served); `beforeCommit` then runs inside that transaction, after
 * its statements and before COMMIT, so what it inserts commits with the change or not at all.
 */
export interface WriteRecorder {
  wants(): boolean;
  beforeCommit(run: RunInTransaction, changes: WriteChange[]): Promise<void>;
}

/**
 * Told after data changed in this process: a transaction that wrote committed, or a lone write
 * statement finished. Lets in-process caches of rows drop what they hold before the writer's
 * caller (and so the next request) goes on.
 */
export type CommittedWriteListener = (tables: ReadonlySet<string>) => void;

/** Tables whose writes are bookkeeping of the recorder itself, never recorded. */
const UNRECORDED_TABLES = new Set(['audit_logs', 'audit_chain_head']);

const RAW_WRITE = /^\s*(insert|update|delete|replace|merge)\b(?:\s+(?:or\s+\w+\s+)?(?:into|from)?\s*"?([A-Za-z_][\w.]*)"?)?/i;

function tableName(node: unknown): string {
  // Kysely's operation nodes: TableNode { table: SchemableIdentifierNode { identifier: { name } } }, possibly under an AliasNode.
  const n = node as { kind?: string; node?: unknown; table?: { identifier?: { name?: string } } } | undefined;
  if (!n) return 'unknown';
  if (n.kind === 'AliasNode') return tableName(n.node);
  return n.table?.identifier?.name ?? 'unknown';
}

/** What a statement writes, or undefined when it only reads (or is transaction control). */
export function writeOf(query: CompiledQuery): WriteChange | undefined {
  const node = query.query as { kind: string; into?: unknown; table?: unknown; from?: { froms?: unknown[] }; sql?: unknown };
  switch (node.kind) {
    case 'InsertQueryNode':
      return { op: 'insert', table: tableName(node.into) };
    case 'UpdateQueryNode':
      return { op: 'update', table: tableName(node.table) };
    case 'DeleteQueryNode':
      return { op: 'delete', table: tableName(node.from?.froms?.[0]) };
    case 'MergeQueryNode':
      return { op: 'merge', table: tableName(node.into) };
    case 'RawNode': {
      const match = RAW_WRITE.exec(query.sql);
      if (!match) return undefined;
      // The table group is optional: a raw statement whose target the pattern cannot read is still a write.
      const [, verb, table] = match as unknown as [string, string, string | undefined];
      return { op: verb.toLowerCase() as WriteChange['op'], table: table ?? 'unknown' };
    }
    default:
      return undefined;
  }
}

interface ConnectionState {
  inTransaction: boolean;
  changes: WriteChange[];
}

function countOf(result: QueryResult<unknown>): number | undefined {
  const n = result.numAffectedRows;
  return n === undefined ? undefined : Number(n);
}

/**
 * Wraps a driver so every write made while `recorder.wants()` is recorded in its own transaction:
 * a transaction that wrote runs `beforeCommit` before COMMIT; a lone write statement is put in a
 * transaction of its own with the record. Nothing that changes data can commit unrecorded.
 */
class RecordingDriver implements Driver {
  private readonly states = new WeakMap<DatabaseConnection, ConnectionState>();

  constructor(
    private readonly inner: Driver,
    private readonly recorder: () => WriteRecorder | undefined,
    private readonly committed: CommittedWriteListener,
  ) {}

  private tell(changes: readonly WriteChange[]): void {
    if (changes.length > 0) this.committed(new Set(changes.map((c) => c.table)));
  }

  init(): Promise<void> {
    return this.inner.init();
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    const connection = await this.inner.acquireConnection();
    if (!this.states.has(connection)) this.states.set(connection, { inTransaction: false, changes: [] });
    return this.wrap(connection);
  }

  private wrap(connection: DatabaseConnection): DatabaseConnection {
    const wrapped: DatabaseConnection & { inner: DatabaseConnection } = {
      inner: connection,
      executeQuery: <R>(query: CompiledQuery) => this.execute<R>(connection, query),
      streamQuery: <R>(query: CompiledQuery, chunkSize?: number) => connection.streamQuery<R>(query, chunkSize),
    };
    return wrapped;
  }

  private unwrap(connection: DatabaseConnection): DatabaseConnection {
    return (connection as { inner?: DatabaseConnection }).inner ?? connection;
  }

  private state(connection: DatabaseConnection): ConnectionState {
    let state = this.states.get(connection);
    if (!state) {
      state = { inTransaction: false, changes: [] };
      this.states.set(connection, state);
    }
    return state;
  }

  private async execute<R>(connection: DatabaseConnection, query: CompiledQuery): Promise<QueryResult<R>> {
    const change = writeOf(query);
    if (!change || UNRECORDED_TABLES.has(change.table)) return connection.executeQuery<R>(query);
    const state = this.state(connection);
    if (state.inTransaction) {
      const result = await connection.executeQuery<R>(query);
      state.changes.push({ ...change, rows: countOf(result) });
      return result;
    }
    const recorder = this.recorder();
    if (!recorder?.wants()) {
      const result = await connection.executeQuery<R>(query);
      this.tell([change]);
      return result;
    }
    // A lone write during a request: it and its record commit together.
    await this.inner.beginTransaction(connection, {});
    try {
      const result = await connection.executeQuery<R>(query);
      const run = this.runner(connection);
      await recorder.beforeCommit(run, [{ ...change, rows: countOf(result) }]);
      if (!run.committed) await this.inner.commitTransaction(connection);
      this.tell([change]);
      return result;
    } catch (error) {
      await this.inner.rollbackTransaction(connection).catch(() => undefined);
      throw error;
    }
  }

  async beginTransaction(wrapped: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    const connection = this.unwrap(wrapped);
    await this.inner.beginTransaction(connection, settings);
    const state = this.state(connection);
    state.inTransaction = true;
    state.changes = [];
  }

  async commitTransaction(wrapped: DatabaseConnection): Promise<void> {
    const connection = this.unwrap(wrapped);
    const state = this.state(connection);
    const changes = state.changes;
    const recorder = this.recorder();
    const run = this.runner(connection);
    if (changes.length > 0 && recorder?.wants()) await recorder.beforeCommit(run, changes);
    state.inTransaction = false;
    state.changes = [];
    if (!run.committed) await this.inner.commitTransaction(connection);
    this.tell(changes);
  }

  /** The recorder's way to run statements in the transaction; `committed` once one ran with COMMIT. */
  private runner(connection: DatabaseConnection): RunInTransaction & { committed: boolean } {
    const run = Object.assign(
      async (query: CompiledQuery, options?: { commit: true }): Promise<QueryResult<unknown>> => {
        if (run.committed) throw new Error('the transaction was committed with its record; nothing may run after');
        if (!options?.commit) return connection.executeQuery(query);
        if (query.parameters.length > 0) throw new Error('a statement committed with its transaction takes no parameters');
        // A query without parameters goes as one simple-protocol message, several statements allowed;
        // if the first fails, PostgreSQL skips the COMMIT and the caller's rollback follows.
        const result = await connection.executeQuery(CompiledQuery.raw(`${query.sql};\ncommit`));
        run.committed = true;
        return result;
      },
      { committed: false },
    );
    return run;
  }

  async rollbackTransaction(wrapped: DatabaseConnection): Promise<void> {
    const connection = this.unwrap(wrapped);
    const state = this.state(connection);
    state.inTransaction = false;
    state.changes = [];
    await this.inner.rollbackTransaction(connection);
  }

  releaseConnection(wrapped: DatabaseConnection): Promise<void> {
    return this.inner.releaseConnection(this.unwrap(wrapped));
  }

  destroy(): Promise<void> {
    return this.inner.destroy();
  }
}

/** The dialect with its driver wrapped by `RecordingDriver` (writes recorded, commits told); savepoints pass through. */
export function recordingDialect(
  dialect: Dialect,
  recorder: () => WriteRecorder | undefined,
  committed: CommittedWriteListener = () => undefined,
): Dialect {
  return withDriver(dialect, (inner) => {
    const driver = new RecordingDriver(inner, recorder, committed);
    const unwrap = (c: DatabaseConnection) => (c as { inner?: DatabaseConnection }).inner ?? c;
    const withSavepoints = driver as Driver;
    if (inner.savepoint) withSavepoints.savepoint = (c, name, compile) => inner.savepoint!(unwrap(c), name, compile);
    if (inner.rollbackToSavepoint)
      withSavepoints.rollbackToSavepoint = (c, name, compile) => inner.rollbackToSavepoint!(unwrap(c), name, compile);
    if (inner.releaseSavepoint) withSavepoints.releaseSavepoint = (c, name, compile) => inner.releaseSavepoint!(unwrap(c), name, compile);
    return withSavepoints;
  });
}

/** The dialect as it is, but for its driver, which `wrap` makes from the dialect's own. */
export function withDriver(dialect: Dialect, wrap: (inner: Driver) => Driver): Dialect {
  return {
    createAdapter: () => dialect.createAdapter(),
    createIntrospector: (db) => dialect.createIntrospector(db),
    createQueryCompiler: () => dialect.createQueryCompiler(),
    createDriver: () => wrap(dialect.createDriver()),
  };
}
