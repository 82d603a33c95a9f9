import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DummyDriver, Kysely, SqliteAdapter, SqliteIntrospector, SqliteQueryCompiler, sql } from 'kysely';
import type { Database } from './schema.js';
import { writeOf } from './write-guard.js';

const db = new Kysely<Database>({
  dialect: {
    createAdapter: () => new SqliteAdapter(),
    createDriver: () => new DummyDriver(),
    createIntrospector: (k) => new SqliteIntrospector(k),
    createQueryCompiler: () => new SqliteQueryCompiler(),
  },
});

test('writeOf names the operation and table of every kind of write, and nothing for reads', () => {
  assert.deepEqual(
    writeOf(
      db
        .insertInto('users')
        .values({ username: 'x' } as never)
        .compile(),
    ),
    { op: 'insert', table: 'users' },
  );
  assert.deepEqual(writeOf(db.updateTable('studies').set({ patient_name: 'y' }).where('id', '=', 1).compile()), {
    op: 'update',
    table: 'studies',
  });
  assert.deepEqual(writeOf(db.deleteFrom('stored_files').where('id', '=', 1).compile()), { op: 'delete', table: 'stored_files' });
  assert.deepEqual(writeOf(sql`insert into "jobs" (queue) values ('q')`.compile(db)), { op: 'insert', table: 'jobs' });
  assert.deepEqual(writeOf(sql`  DELETE FROM revoked_tokens`.compile(db)), { op: 'delete', table: 'revoked_tokens' });
  assert.equal(writeOf(db.selectFrom('users').selectAll().compile()), undefined);
  assert.equal(writeOf(sql`select 1`.compile(db)), undefined);
  assert.equal(writeOf(sql`begin`.compile(db)), undefined);
});
