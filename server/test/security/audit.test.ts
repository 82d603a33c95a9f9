import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import { storeDx } from '../dicom-helpers.js';
import { DIALECTS, USER_PASSWORD, call, createUser, sampleStudy, withServer, type ServerContext } from '../helpers.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** The audit rows one request left, oldest first. */
async function rowsOf(ctx: ServerContext, requestId: string) {
  return ctx.t.server.db.kysely.selectFrom('audit_logs').selectAll().where('request_id', '=', requestId).orderBy('id').execute();
}

/** Polls until `probe` returns a value (the server may still be finishing a request whose client left). */
async function eventually<T>(probe: () => Promise<T | undefined>, ms = 5000): Promise<T | undefined> {
  const until = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined || Date.now() > until) return value;
    await sleep(50);
  }
}

/** `npm run audit:verify` against the test server's database. */
function verifyChain(env: Record<string, string>): { status: number | null; out: string } {
  const run = spawnSync(process.execPath, ['--import', 'tsx', 'server/src/cli/audit-verify.ts'], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: run.status, out: `${run.stdout}${run.stderr}` };
}

for (const dialect of DIALECTS) {
  describe(`security: audit trail on ${dialect}`, () => {
    const ctx = withServer(dialect);

    /** POST users on a raw socket the client destroys when `hangUp` resolves; the created user (if any) and the request's audit rows. */
    async function createThenHangUp(hangUp: (username: string) => Promise<void>) {
      const username = `hang_${randomUUID().slice(0, 8)}`;
      const requestId = `audit-hangup-${randomUUID()}`;
      const body = JSON.stringify({ username, password: USER_PASSWORD, full_name: 'Hang Up', role_ids: ['admin'] });
      const { hostname, port } = new URL(ctx.t.url);
      const socket = net.connect(Number(port), hostname);
      await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
      socket.on('error', () => undefined);
      socket.write(
        `POST /api/v1/users HTTP/1.1\r\nHost: ${hostname}\r\nAuthorization: Bearer ${ctx.admin}\r\n` +
          `X-Request-ID: ${requestId}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      );
      await hangUp(username);
      socket.destroy();
      const userOf = () =>
        ctx.t.server.db.kysely.selectFrom('users').select(['id', 'username']).where('username', '=', username).executeTakeFirst();
      const user = await eventually(userOf, 2000);
      await sleep(300);
      return { user, rows: await rowsOf(ctx, requestId) };
    }

    test('finding 1: a client hanging up while its POST users runs leaves the user AND its audit row', async () => {
      // ~40 ms: the body has been read and the handler is hashing the password when the socket
      // goes; before the fix the audit row, written after the commit from a request whose peer
      // address was gone, was lost.
      // Under load the body may not be read yet at 40 ms (then nothing is written): try a little later.
      let outcome = await createThenHangUp(() => sleep(40));
      for (const ms of [60, 90, 130]) {
        if (outcome.user) break;
        outcome = await createThenHangUp(() => sleep(ms));
      }
      const { user, rows } = outcome;
      assert.ok(user, 'the write went through');
      assert.ok(rows.length >= 1, 'the created account is in the audit log');
      assert.ok(rows.every((r) => r.action === 'user.create' && r.username === 'admin' && r.user_id !== null && r.ip === '127.0.0.1'));
      assert.ok(rows.some((r) => r.outcome === 'success'));
    });

    test('finding 1: a client hanging up 5 ms after POST users never leaves an account without its audit row', async () => {
      const { user, rows } = await createThenHangUp(() => sleep(5));
      // Whether the request got as far as the write depends on timing; a written account is always audited.
      if (user)
        assert.ok(
          rows.some((r) => r.action === 'user.create' && r.outcome === 'success'),
          'the account is audited',
        );
      else assert.equal(rows.filter((r) => r.outcome === 'success').length, 0);
    });

    test('finding 1: a 5,000-deep config_value keeps its audit row, with the detail cut and marked truncated', async () => {
      // Written as text: JSON.stringify itself overflows on 5,000 levels.
      const deep = `{"config_value":${'{"a":'.repeat(5000)}"bottom"${'}'.repeat(5000)}}`;
      const requestId = `audit-deep-${randomUUID()}`;
      const res = await call(ctx.t.url, 'PUT', '/api/v1/system/configs/system.name', {
        token: ctx.admin,
        rawBody: deep,
        headers: { 'X-Request-ID': requestId },
      });
      assert.ok(res.status < 500, res.text);
      const rows = await eventually(async () => {
        const found = await rowsOf(ctx, requestId);
        return found.length > 0 ? found : undefined;
      });
      assert.ok(rows && rows.length >= 1, 'the refused write is audited');
      const detail = JSON.parse(rows[0]?.detail ?? '{}') as { truncated?: boolean };
      assert.equal(detail.truncated, true);
      assert.ok((rows[0]?.detail ?? '').length <= 8192);
    });

    test('a write whose audit row cannot be inserted does not commit', async () => {
      const requestId = `audit-fail-${randomUUID()}`;
      const db = ctx.t.server.db;
      if (db.dialect === 'postgres') {
        await sql`create or replace function audit_refuse_probe() returns trigger language plpgsql as $$
          begin raise exception 'audit insert refused (test)'; end $$`.execute(db.kysely);
        await sql`create trigger audit_refuse_probe before insert on audit_logs for each row
          when (new.request_id = ${sql.lit(requestId)}) execute function audit_refuse_probe()`.execute(db.kysely);
      } else {
        await sql`create trigger audit_refuse_probe before insert on audit_logs
          when new.request_id = ${sql.lit(requestId)} begin select raise(abort, 'audit insert refused (test)'); end`.execute(db.kysely);
      }
      try {
        const username = `nolog_${randomUUID().slice(0, 8)}`;
        const res = await call(ctx.t.url, 'POST', '/api/v1/users', {
          token: ctx.admin,
          body: { username, password: USER_PASSWORD, full_name: 'No Log', role_ids: ['doctor'] },
          headers: { 'X-Request-ID': requestId },
        });
        assert.equal(res.status, 500, res.text);
        const user = await db.kysely.selectFrom('users').select('id').where('username', '=', username).executeTakeFirst();
        assert.equal(user, undefined, 'no account exists without its audit row');
      } finally {
        await sql`drop trigger audit_refuse_probe ${db.dialect === 'postgres' ? sql`on audit_logs` : sql``}`.execute(db.kysely);
      }
    });

    test('finding 16: a study view plus 20 thumbnails is one aggregated read row naming who, what and from where', async () => {
      const tech = await createUser(ctx.t.url, ctx.admin, ['tech']);
      const created = await call(ctx.t.url, 'POST', '/dr/api/v1/auth/study', { token: tech.token, body: sampleStudy() });
      assert.equal(created.status, 200, created.text);
      const study = created.body.data as { study_id: string; patient_id: string; series: { images: { sop_instance_uid: string }[] }[] };
      const uid = study.series[0]?.images[0]?.sop_instance_uid ?? '';
      await storeDx(ctx.t, uid);

      assert.equal((await call(ctx.t.url, 'GET', `/dr/api/v1/auth/study/${study.study_id}`, { token: tech.token })).status, 200);
      const thumbs = await Promise.all(
        Array.from({ length: 20 }, () =>
          fetch(`${ctx.t.url}/dr/api/v1/auth/f/thumbnail/${uid}.webp`, { headers: { authorization: `Bearer ${tech.token}` } }),
        ),
      );
      assert.ok(thumbs.every((r) => r.status === 200));
      await Promise.all(thumbs.map((r) => r.arrayBuffer()));
      const download = await fetch(`${ctx.t.url}/api/v1/instances/${uid}/download`, { headers: { authorization: `Bearer ${tech.token}` } });
      assert.equal(download.status, 200);
      await download.arrayBuffer();
      await sleep(300);

      const reads = await ctx.t.server.db.kysely
        .selectFrom('audit_logs')
        .selectAll()
        .where('user_id', '=', tech.id)
        .where('resource_id', '=', study.study_id)
        .orderBy('id')
        .execute();
      const views = reads.filter((r) => r.action === 'study.view');
      assert.equal(views.length, 1, 'one row for the detail and all thumbnails');
      const detail = JSON.parse(views[0]?.detail ?? '{}') as { patient_id?: string };
      assert.equal(detail.patient_id, study.patient_id);
      assert.equal(views[0]?.ip, '127.0.0.1');
      assert.equal(views[0]?.resource_type, 'study');
      assert.equal(reads.filter((r) => r.action === 'study.download').length, 1, 'a DICOM download is its own read');

      const list = await call(ctx.t.url, 'GET', '/dr/api/v1/auth/study?page=1&size=5', { token: tech.token });
      assert.equal(list.status, 200);
      await sleep(200);
      const lists = await ctx.t.server.db.kysely
        .selectFrom('audit_logs')
        .select('id')
        .where('user_id', '=', tech.id)
        .where('action', '=', 'study.list')
        .execute();
      assert.equal(lists.length, 1, 'the worklist read is audited');
    });

    test('finding 16: a login row carries the account that logged in; a failed one the attempted name', async () => {
      const user = await createUser(ctx.t.url, ctx.admin, ['doctor']);
      const okId = `audit-login-${randomUUID()}`;
      const good = await call(ctx.t.url, 'POST', '/api/v1/auth/login', {
        body: { username: user.username, password: USER_PASSWORD },
        headers: { 'X-Request-ID': okId },
      });
      assert.equal(good.status, 200);
      const badId = `audit-login-${randomUUID()}`;
      const bad = await call(ctx.t.url, 'POST', '/dr/api/v1/pub/login', {
        body: { username: user.username, password: 'wrong-password' },
        headers: { 'X-Request-ID': badId },
      });
      assert.ok(bad.status >= 400);
      await sleep(100);
      const okRows = await rowsOf(ctx, okId);
      const success = okRows.filter((r) => r.action === 'auth.login' && r.outcome === 'success' && r.user_id === user.id);
      assert.ok(success.length >= 1, JSON.stringify(okRows));
      assert.ok(okRows.every((r) => r.user_id === null || r.user_id === user.id));
      const failure = (await rowsOf(ctx, badId)).find((r) => r.outcome === 'failure');
      assert.ok(failure, 'the failed attempt is audited');
      assert.equal(failure.username, user.username);
      assert.equal(failure.action, 'auth.login');
    });

    test('export: IHE ATNA records for a SIEM, only with audit:export', async () => {
      const since = new Date(Date.now() - 60_000).toISOString();
      const res = await call(ctx.t.url, 'GET', `/api/v1/system/audit-logs/export?from=${encodeURIComponent(since)}&limit=500`, {
        token: ctx.admin,
      });
      assert.equal(res.status, 200, res.text);
      const records = res.body.data.records as Record<string, any>[]; // eslint-disable-line @typescript-eslint/no-explicit-any -- response JSON
      assert.ok(records.length > 0);
      for (const record of records) {
        assert.equal(typeof record.EventIdentification.EventID.csd_code, 'string');
        assert.ok(['C', 'R', 'U', 'D', 'E'].includes(record.EventIdentification.EventActionCode));
        assert.ok([0, 4, 8, 12].includes(record.EventIdentification.EventOutcomeIndicator));
        assert.equal(record.ActiveParticipant[0].UserIsRequestor, true);
        assert.equal(typeof record.ActiveParticipant[0].NetworkAccessPointID, 'string');
        assert.equal(typeof record.AuditSourceIdentification.AuditSourceID, 'string');
        assert.match(record.RoentgenChain.hash, /^[0-9a-f]{64}$/);
      }
      const logins = records.filter((r) => r.EventIdentification.EventID.csd_code === '110114');
      assert.ok(logins.length > 0, 'logins are User Authentication events');
      const accessed = records.filter((r) => r.EventIdentification.EventID.csd_code === '110103');
      assert.ok(
        accessed.some((r) =>
          r.ParticipantObjectIdentification.some((o: { ParticipantObjectTypeCode: number }) => o.ParticipantObjectTypeCode === 1),
        ),
      );

      const manager = await createUser(ctx.t.url, ctx.admin, ['mgr']);
      const refused = await call(ctx.t.url, 'GET', '/api/v1/system/audit-logs/export', { token: manager.token });
      assert.equal(refused.status, 403);
      assert.equal((await call(ctx.t.url, 'GET', '/api/v1/system/audit-logs/export')).status, 401);
    });

    test('audit rows are append-only and the chain verify command finds a tampered row', async () => {
      const db = ctx.t.server.db;
      // Concurrent writes and reads append to one chain without forking it.
      const writes = await Promise.all([
        ...Array.from({ length: 10 }, (_, i) =>
          call(ctx.t.url, 'PUT', '/api/v1/system/configs/system.name', { token: ctx.admin, body: { config_value: `Site ${i}` } }),
        ),
        ...Array.from({ length: 5 }, () => call(ctx.t.url, 'GET', '/dr/api/v1/auth/study?page=1&size=1', { token: ctx.admin })),
      ]);
      assert.ok(writes.every((r) => r.status === 200));
      const intact = verifyChain(ctx.t.env);
      assert.equal(intact.status, 0, intact.out);
      assert.match(intact.out, /intact/);

      const target = await db.kysely.selectFrom('audit_logs').selectAll().orderBy('id').limit(1).offset(3).executeTakeFirstOrThrow();
      await assert.rejects(sql`update audit_logs set username = 'mallory' where id = ${target.id}`.execute(db.kysely));
      await assert.rejects(sql`delete from audit_logs where id = ${target.id}`.execute(db.kysely));

      const updateTrigger = db.dialect === 'postgres' ? 'audit_logs_no_change' : 'audit_logs_no_update';
      await sql`drop trigger ${sql.id(updateTrigger)} ${db.dialect === 'postgres' ? sql`on audit_logs` : sql``}`.execute(db.kysely);
      try {
        await sql`update audit_logs set username = 'mallory' where id = ${target.id}`.execute(db.kysely);
        const broken = verifyChain(ctx.t.env);
        assert.equal(broken.status, 2, broken.out);
        assert.match(broken.out, new RegExp(`row id ${target.id}\\b`));
        await sql`update audit_logs set username = ${target.username} where id = ${target.id}`.execute(db.kysely);
      } finally {
        if (db.dialect === 'postgres') {
          await sql`create trigger audit_logs_no_change before update or delete on audit_logs
            for each row execute function audit_logs_append_only()`.execute(db.kysely);
        } else {
          await sql`create trigger audit_logs_no_update before update on audit_logs
            begin select raise(abort, 'audit_logs is append-only'); end`.execute(db.kysely);
        }
      }
      assert.equal(verifyChain(ctx.t.env).status, 0);
    });
  });
}
