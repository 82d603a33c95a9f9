import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { sql } from 'kysely';
import { openDatabase } from './index.js';

// Another writer on the same file, in another thread (as the ingest index thread is).
const OTHER_WRITER = `
  const { parentPort, workerData } = require('node:worker_threads');
  const Database = require('better-sqlite3');
  const db = new Database(workerData.file);
  db.pragma('busy_timeout = 5000');
  parentPort.once('message', () => {
    try {
      db.prepare("insert into t (v) values ('other')").run();
      parentPort.postMessage('written');
    } catch (error) {
      parentPort.postMessage('failed: ' + error.message);
    }
  });
`;

test('a transaction that reads, then writes after another connection committed, still commits', async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'roentgen-sqlite-tx-'));
  const db = await openDatabase({ dataDir, databaseUrl: undefined, databaseSchema: undefined });
  try {
    await sql`create table t (v text)`.execute(db.kysely);
    const other = new Worker(OTHER_WRITER, { eval: true, workerData: { file: path.join(dataDir, 'roentgen.sqlite') } });
    const otherDone = new Promise<string>((resolve) => other.once('message', resolve));
    await db.kysely.transaction().execute(async (trx) => {
      await sql`select count(*) from t`.execute(trx);
      other.postMessage('go');
      // A deferred transaction lets the other writer commit here, and its own write below then
      // fails at once with "database is locked"; an immediate one holds the other writer back.
      await Promise.race([otherDone, new Promise((r) => setTimeout(r, 300))]);
      await sql`insert into t (v) values ('ours')`.execute(trx);
    });
    assert.equal(await otherDone, 'written', 'the other writer waits its turn, then writes');
    const rows = await sql<{ v: string }>`select v from t order by rowid`.execute(db.kysely);
    assert.deepEqual(
      rows.rows.map((r) => r.v),
      ['ours', 'other'],
    );
    await other.terminate();
  } finally {
    await db.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});
