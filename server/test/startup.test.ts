import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import pg from 'pg';
import { PG_URL, dropSchema, isolatedEnv, startProcess } from './helpers.js';
import { migrationsFor } from '../src/db/migrate.js';

describe('process start-up', () => {
  test(
    'two processes starting at once on one PostgreSQL schema migrate and seed exactly once',
    { skip: process.env.ROENTGEN_TEST_SQLITE_ONLY === '1' },
    async () => {
      // One data directory each (a data directory is one process's), one secret key for both (it seals the shared secrets).
      const env = isolatedEnv('postgres', { PORT: '0', ROENTGEN_SECRET_KEY: randomBytes(32).toString('base64') });
      const otherDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'roentgen-test-'));
      try {
        const [a, b] = await Promise.all([startProcess(env), startProcess({ ...env, ROENTGEN_DATA_DIR: otherDataDir })]);
        const client = new pg.Client({ connectionString: PG_URL });
        await client.connect();
        try {
          const migrations = await client.query(`select name from "${env.DATABASE_SCHEMA}".kysely_migration`);
          assert.deepEqual(
            migrations.rows.map((r) => r.name),
            Object.keys(migrationsFor('postgres')),
            'each migration once, in order',
          );
          const admins = await client.query(`select count(*)::int as n from "${env.DATABASE_SCHEMA}".users where username = 'admin'`);
          assert.equal(admins.rows[0].n, 1);
        } finally {
          await client.end();
        }
        // A token from one process works on the other: they share the generated signing key.
        const loginRes = await fetch(`${a.url}/api/v1/auth/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ username: 'admin', password: env.ROENTGEN_ADMIN_PASSWORD }),
        });
        const token = ((await loginRes.json()) as { data: { access_token: string } }).data.access_token;
        const me = await fetch(`${b.url}/api/v1/auth/me`, { headers: { authorization: `Bearer ${token}` } });
        assert.equal(me.status, 200);
        assert.equal(await a.stop(), 0);
        assert.equal(await b.stop(), 0);
      } finally {
        await dropSchema(env.DATABASE_SCHEMA);
        for (const dir of [env.ROENTGEN_DATA_DIR, otherDataDir]) fs.rmSync(dir, { recursive: true, force: true });
      }
    },
  );

  test('first start on SQLite prints generated passwords once; a restart keeps the data', async () => {
    const env = isolatedEnv('sqlite');
    delete (env as Record<string, string | undefined>).ROENTGEN_ADMIN_PASSWORD;
    delete (env as Record<string, string | undefined>).ROENTGEN_SEED_USER_PASSWORD;
    const first = await startProcess({ ...env, ROENTGEN_SEED_USER_PASSWORD: '' });
    const match = /Initial password for "admin": (\S+)/.exec(first.output());
    assert.ok(match, first.output());
    assert.equal(await first.stop(), 0);
    const second = await startProcess({ ...env, ROENTGEN_SEED_USER_PASSWORD: '' });
    assert.doesNotMatch(second.output(), /Initial password/);
    const res = await fetch(`${second.url}/dr/api/v1/pub/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password: match[1] }),
    });
    assert.equal(res.status, 200);
    assert.equal(await second.stop(), 0);
  });

  test('a bad configuration stops start-up with a clear message', async () => {
    const env = isolatedEnv('sqlite', { PORT: 'eighty' });
    await assert.rejects(startProcess(env), /PORT must be an integer/);
  });
});
