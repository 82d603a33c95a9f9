import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { STATUS } from '../../src/dimse/command.js';
import { storeFiles } from '../../src/dimse/store-scu.js';
import { AuditRepository } from '../../src/modules/audit/repository.js';
import { rowHash } from '../../src/db/audit-chain.js';
import { generateUid } from '../../src/util/uid.js';
import { loadConfig } from '../../src/config.js';
import { dxFor } from '../dicom-helpers.js';
import {
  ADMIN_PASSWORD,
  DIALECTS,
  USER_PASSWORD,
  call,
  createUser,
  dropSchema,
  freePort,
  isDiagnosisError,
  isDrError,
  isolatedEnv,
  login,
  startProcess,
  until,
  withServer,
} from '../helpers.js';

// Problems 4–9 an attacker review reproduced against the merged issue-15 work, through the public
// interfaces (HTTP, DICOM with our SCU, a real server process for the logs).

/** A DX of `rows`×`columns` 16-bit pixels for a fresh study. */
function bigDx(uid: string, rows: number, columns: number): Buffer {
  return dxFor(
    uid,
    {
      patient: { id: `PID-${uid.slice(-8)}`, name: 'Seams^B', birthDate: '19700101', sex: 'F', age: '055Y' },
      study: { instanceUid: generateUid(), id: 'EXT', accessionNumber: '', referringPhysician: '', date: new Date(2025, 0, 2) },
      series: { instanceUid: generateUid(), number: 1, description: 'Chest PA' },
    },
    { rows, columns },
  );
}

/** GETs `url` with the token, reads `bytes` of the body and hangs up; the response's request id. */
function readPartOfAndHangUp(url: string, token: string, bytes: number): Promise<{ status: number; requestId: string; read: number }> {
  return new Promise((resolve, reject) => {
    const request = http.get(url, { headers: { authorization: `Bearer ${token}` } }, (response) => {
      let read = 0;
      response.on('data', (chunk: Buffer) => {
        read += chunk.length;
        if (read >= bytes) {
          request.destroy();
          resolve({ status: response.statusCode ?? 0, requestId: String(response.headers['x-request-id']), read });
        }
      });
      response.on('error', () => undefined);
    });
    request.on('error', (error) => {
      if (!request.destroyed) reject(error);
    });
  });
}

for (const dialect of DIALECTS) {
  describe(`seams B (problems 4–9) on ${dialect}`, () => {
    const ctx = withServer(dialect, { DICOM_TIMEOUT_MS: '1500' });
    const dr = (method: string, path: string, body?: unknown, token?: string) =>
      call(ctx.t.url, method, `/dr/api/v1/auth/${path}`, { token: token ?? ctx.admin, body });
    const putConfig = (key: string, value: unknown, token = ctx.admin) =>
      call(ctx.t.url, 'PUT', `/api/v1/system/configs/${key}`, { token, body: { config_value: value } });
    const guestToken = async (): Promise<string> => {
      const res = await call(ctx.t.url, 'GET', '/dr/api/v1/pub/software_info');
      assert.equal(res.status, 200, res.text);
      return res.body.data.guest as string;
    };
    const aet = () => `S${randomUUID().replace(/-/g, '').slice(0, 10).toUpperCase()}`;
    const send = (callingAet: string, objects: Buffer[]) =>
      storeFiles({ host: '127.0.0.1', port: ctx.t.server.dicomPort, callingAet, calledAet: 'ROENTGEN' }, objects, () => undefined);
    const nodeBody = (over: Record<string, unknown> = {}) => ({
      name: `n${randomUUID().slice(0, 8)}`,
      type: 'PACS',
      address: '127.0.0.1',
      port: 104,
      aet: aet(),
      aec: 'ROENTGEN',
      is_enabled: true,
      is_default: false,
      ...over,
    });
    const nodeById = async (id: number) =>
      (await dr('GET', 'manage/pacs')).body.data.scp.find((n: { id: number }) => n.id === id) as Record<string, unknown>;

    test('problem 4: service and mgr cannot change the limits that protect the server (403); admin can', async () => {
      const service = await createUser(ctx.t.url, ctx.admin, ['service']);
      const mgr = await createUser(ctx.t.url, ctx.admin, ['mgr']);
      const attempts: [string, unknown][] = [
        ['upload.max_pixels', 1_000_000_000],
        ['upload.max_concurrent_per_user', 1000],
        ['upload.guest_bytes_per_hour', Number.MAX_SAFE_INTEGER],
        ['storage.min_free_bytes', 0],
        ['storage.orphan_grace_hours', 1],
        ['dicom.max_object_bytes', 4 * 1024 ** 3],
      ];
      for (const [key, value] of attempts) {
        for (const who of [service, mgr]) {
          const res = await putConfig(key, value, who.token);
          assert.equal(res.status, 403, `${key} by ${who.username}: ${res.text}`);
        }
      }
      const before = (await call(ctx.t.url, 'GET', '/api/v1/system/configs', { token: ctx.admin })).body.data.find(
        (c: { config_key: string }) => c.config_key === 'upload.max_pixels',
      ).config_value;
      assert.equal((await putConfig('upload.max_pixels', 50_000_000)).status, 200, 'an administrator still can');
      assert.equal((await putConfig('upload.max_pixels', before)).status, 200);
      // A key that protects nothing stays open to system:write.
      assert.equal((await putConfig('pacs.auto_send', false, mgr.token)).status, 200);
    });

    test('problem 9: ris.address must be a host name or an IP address', async () => {
      for (const bad of ['true', 'false', 'not a host', 'http://ris', '999.1.1.1', '10.0.0', 'ris..local']) {
        const res = await putConfig('ris.address', bad);
        assert.equal(res.status, 422, `${bad}: ${res.text}`);
      }
      for (const good of ['10.0.0.7', 'ris.hospital.local', 'RIS-1', 'fe80::1', '']) {
        const res = await putConfig('ris.address', good);
        assert.equal(res.status, 200, `${good}: ${res.text}`);
      }
    });

    test('problem 8: wrong old passwords on settings/password go through the login back-off', async () => {
      const user = await createUser(ctx.t.url, ctx.admin, ['tech']);
      const change = (old: string) =>
        call(ctx.t.url, 'POST', '/dr/api/v1/auth/settings/password', {
          token: user.token,
          body: { old_password: old, new_password: 'Plum-Harbor-Violet-77', confirm_new_password: 'Plum-Harbor-Violet-77' },
        });
      // security.max_failed_logins (3) wrong guesses start the back-off for this address, a fourth lengthens it.
      for (let i = 0; i < 4; i += 1) {
        const wrong = await change(`Guess-Number-${i}-xyz`);
        assert.equal(wrong.status, 422, wrong.text);
        assert.ok(isDrError(wrong.body, '0x02000A'), wrong.text);
      }
      const blocked = await change(USER_PASSWORD);
      assert.equal(blocked.status, 422, 'the right password is not checked while the address backs off');
      assert.ok(isDrError(blocked.body, '0x02000A'), blocked.text);
      // The owner gets in once the wait (4 s after five failures) is over.
      await sleep(4500);
      const done = await change(USER_PASSWORD);
      assert.equal(done.status, 200, done.text);
      await login(ctx.t.url, user.username, 'Plum-Harbor-Violet-77');
    });

    test('problem 8: reset-password refuses the caller’s own id (403 CANNOT_RESET_OWN_PASSWORD); another user’s still works', async () => {
      const mgr = await createUser(ctx.t.url, ctx.admin, ['mgr']);
      const own = await call(ctx.t.url, 'POST', `/api/v1/users/${mgr.id}/reset-password`, {
        token: mgr.token,
        body: { new_password: 'Quiet-Lantern-Orbit-58' },
      });
      assert.equal(own.status, 403, own.text);
      assert.ok(isDiagnosisError(own.body, 403, 'PermissionError'), own.text);
      assert.match(own.body.message, /You cannot reset your own password|不能重置自己的密码/);
      await login(ctx.t.url, mgr.username, USER_PASSWORD);
      const adminId = (
        await ctx.t.server.db.kysely.selectFrom('users').select('id').where('username', '=', 'admin').executeTakeFirstOrThrow()
      ).id;
      const adminSelf = await call(ctx.t.url, 'POST', `/api/v1/users/${adminId}/reset-password`, { token: ctx.admin, body: {} });
      assert.equal(adminSelf.status, 403, 'an administrator neither');
      const other = await createUser(ctx.t.url, ctx.admin, ['tech']);
      const reset = await call(ctx.t.url, 'POST', `/api/v1/users/${other.id}/reset-password`, { token: mgr.token, body: {} });
      assert.equal(reset.status, 200, reset.text);
    });

    test('problem 7: changing auth.guest_enabled or auth.guest_allowed_addresses ends every live guest session', async () => {
      const probe = (token: string) => dr('GET', 'study/list?page=1&size=1', undefined, token);
      const first = await guestToken();
      assert.ok(first);
      assert.notEqual((await probe(first)).status, 401, 'a fresh guest token works');
      const staff = await createUser(ctx.t.url, ctx.admin, ['tech']);
      assert.equal((await putConfig('auth.guest_enabled', false)).status, 200);
      try {
        assert.equal((await probe(first)).status, 401, 'the guest token ended with the switch');
        assert.equal(await guestToken(), '');
      } finally {
        assert.equal((await putConfig('auth.guest_enabled', true)).status, 200);
      }
      assert.notEqual((await probe(staff.token)).status, 401, 'staff sessions are not touched');
      const second = await guestToken();
      assert.notEqual((await probe(second)).status, 401);
      assert.equal((await putConfig('auth.guest_allowed_addresses', '127.0.0.1/32')).status, 200);
      try {
        assert.equal((await probe(second)).status, 401, 'a narrower address list ends guest sessions too');
        const sessions = await ctx.t.server.db.kysely
          .selectFrom('auth_sessions')
          .select(['revoked_reason'])
          .where('kind', '=', 'guest')
          .where('revoked_at', 'is not', null)
          .execute();
        assert.ok(sessions.some((s) => s.revoked_reason === 'guest_settings_changed'));
      } finally {
        assert.equal((await putConfig('auth.guest_allowed_addresses', '')).status, 200);
      }
    });

    test('problem 6: pacs:write cannot let a node store; new nodes do not store; an admin grants it', async () => {
      const mgr = await createUser(ctx.t.url, ctx.admin, ['mgr']);
      const service = await createUser(ctx.t.url, ctx.admin, ['service']);
      for (const who of [mgr, service]) {
        const evil = await dr('POST', 'manage/pacs', nodeBody({ aet: 'EVIL', may_store: true }), who.token);
        assert.equal(evil.status, 403, evil.text);
      }
      const body = nodeBody();
      const created = await dr('POST', 'manage/pacs', body, mgr.token);
      assert.equal(created.status, 200, created.text);
      const id = created.body.data.id as number;
      assert.equal((await nodeById(id)).may_store, false, 'a new node does not store by default');
      const refused = await send(body.aet, [bigDx(generateUid(), 64, 64)]);
      assert.equal(refused[0].status, STATUS.NOT_AUTHORIZED);
      const grant = await dr('PUT', `manage/pacs/${id}`, { ...body, may_store: true }, service.token);
      assert.equal(grant.status, 403, grant.text);

      assert.equal((await dr('PUT', `manage/pacs/${id}`, { ...body, may_store: true })).status, 200, 'the admin grants it');
      assert.equal((await send(body.aet, [bigDx(generateUid(), 64, 64)]))[0].status, STATUS.SUCCESS);
      // A storing node's AE title or address is the admin's too; its port or name is not.
      assert.equal((await dr('PUT', `manage/pacs/${id}`, { ...body, aet: 'EVIL' }, mgr.token)).status, 403);
      assert.equal((await dr('PUT', `manage/pacs/${id}`, { ...body, address: '10.9.9.9' }, mgr.token)).status, 403);
      assert.equal((await dr('PUT', `manage/pacs/${id}`, { ...body, port: 4242 }, mgr.token)).status, 200);
      assert.equal((await nodeById(id)).may_store, true);
      assert.equal((await nodeById(id)).aet, body.aet);
    });

    test('problem 6: one dicom.store audit row per association; larger than dicom.max_object_bytes is refused A700', async () => {
      const callingAet = aet();
      assert.equal((await putConfig('dicom.scp_allowed_aets', callingAet)).status, 200);
      assert.equal((await putConfig('dicom.max_object_bytes', 1024 * 1024)).status, 200);
      try {
        // The SCP reads the allow-list and the limit through the config cache (2 s).
        await sleep(2100);
        const [small, large, small2] = [generateUid(), generateUid(), generateUid()];
        const objects = [bigDx(small, 64, 64), bigDx(large, 1024, 1024), bigDx(small2, 64, 64)];
        const outcomes = await send(callingAet, objects);
        assert.deepEqual(
          outcomes.map((o) => o.status),
          [STATUS.SUCCESS, STATUS.OUT_OF_RESOURCES, STATUS.SUCCESS],
          'the large object is refused, the association goes on',
        );
        const row = await until('the dicom.store row', async () =>
          ctx.t.server.db.kysely
            .selectFrom('audit_logs')
            .selectAll()
            .where('action', '=', 'dicom.store')
            .where('resource_id', '=', callingAet)
            .executeTakeFirst(),
        );
        assert.equal(row.source, 'dicom');
        assert.equal(row.ip, '127.0.0.1');
        const detail = JSON.parse(row.detail!);
        assert.equal(detail.calling_aet, callingAet);
        assert.equal(detail.peer_address, '127.0.0.1');
        assert.equal(detail.objects, 2);
        assert.ok(detail.bytes > 0 && detail.bytes < 1024 * 1024, String(detail.bytes));
        assert.equal(detail.study_instance_uids.length, 2);
        assert.equal(detail.studies, 2);
        const tooLarge = await ctx.t.server.db.kysely
          .selectFrom('audit_logs')
          .selectAll()
          .where('action', '=', 'dicom.store.too_large')
          .where('resource_id', '=', large)
          .execute();
        assert.equal(tooLarge.length, 1);
        await ctx.t.server.services.ingest.drain();
        const stored = await ctx.t.server.db.kysely
          .selectFrom('images')
          .select('sop_instance_uid')
          .where('sop_instance_uid', '=', large)
          .execute();
        assert.equal(stored.length, 0, 'the large object was not kept');
      } finally {
        await putConfig('dicom.scp_allowed_aets', '');
        await putConfig('dicom.max_object_bytes', 512 * 1024 * 1024);
      }
    });

    test('problem 9: audit rows record the session id (two guests told apart) and the chain still verifies', async () => {
      const [g1, g2] = [await guestToken(), await guestToken()];
      const ids: string[] = [];
      for (const token of [g1, g2, ctx.admin]) {
        const res = await call(ctx.t.url, 'PUT', '/api/v1/system/configs/upload.max_pixels', { token, body: { config_value: 1 } });
        ids.push(res.headers.get('x-request-id')!);
      }
      const rows = await ctx.t.server.db.kysely
        .selectFrom('audit_logs')
        .select(['request_id', 'session_id', 'username'])
        .where('request_id', 'in', ids)
        .execute();
      const sessionOf = (rid: string) => rows.find((r) => r.request_id === rid)?.session_id;
      const [s1, s2, s3] = ids.map(sessionOf);
      assert.ok(s1 && s2 && s3, JSON.stringify(rows));
      assert.notEqual(s1, s2, 'two guests are two sessions in the audit log');
      const sessions = await ctx.t.server.db.kysely
        .selectFrom('auth_sessions')
        .select(['id', 'kind'])
        .where('id', 'in', [s1, s2, s3])
        .execute();
      assert.equal(sessions.length, 3);
      const verdict = await new AuditRepository(ctx.t.server.db).verify();
      assert.equal(verdict.ok, true, JSON.stringify(verdict));
      // The session id is under the hash: clearing it on a row would break the chain like any other change.
      const row = await ctx.t.server.db.kysely
        .selectFrom('audit_logs')
        .selectAll()
        .where('request_id', '=', ids[0])
        .executeTakeFirstOrThrow();
      assert.equal(rowHash(row.prev_hash ?? '', row), row.hash);
      assert.notEqual(rowHash(row.prev_hash ?? '', { ...row, session_id: null }), row.hash);
    });

    test('problem 9: anonymous /pub file routes answer the same for an existing and a missing file', async () => {
      const callingAet = aet();
      assert.equal((await putConfig('dicom.scp_allowed_aets', callingAet)).status, 200);
      const uid = generateUid();
      try {
        await sleep(2100);
        assert.equal((await send(callingAet, [bigDx(uid, 64, 64)]))[0].status, STATUS.SUCCESS);
      } finally {
        await putConfig('dicom.scp_allowed_aets', '');
      }
      await ctx.t.server.services.ingest.drain();
      const stored = { dcm: `${uid}.dcm`, thumbnail: `${uid}.webp` };
      const names = await until('the thumbnail', async () => {
        const rows = await ctx.t.server.db.kysely
          .selectFrom('stored_files')
          .select(['name', 'kind'])
          .where('name', 'like', `${uid}%`)
          .execute();
        return rows.some((r) => r.kind === 'thumbnail') ? rows : undefined;
      });
      stored.thumbnail = names.find((r) => r.kind === 'thumbnail')!.name;
      for (const [route, name] of [
        ['dcm', stored.dcm],
        ['thumbnail', stored.thumbnail],
      ]) {
        const existing = await call(ctx.t.url, 'GET', `/dr/api/v1/pub/${route}/${name}`);
        const missing = await call(ctx.t.url, 'GET', `/dr/api/v1/pub/${route}/${generateUid()}.${route === 'dcm' ? 'dcm' : 'webp'}`);
        assert.equal(existing.status, 401, existing.text);
        assert.equal(missing.status, existing.status, `${route}: ${missing.text}`);
        assert.equal(missing.body.code, existing.body.code);
      }
      const file = await call(ctx.t.url, 'GET', `/dr/api/v1/pub/dcm/${stored.dcm}`, { token: ctx.admin });
      assert.equal(file.status, 200, 'a token still reads it');
    });
  });

  describe(`seams B (problem 5) with a server process on ${dialect}`, () => {
    test('problem 5: a download the client hangs up on is audited, and the request timer sends nothing afterwards', async () => {
      const env = isolatedEnv(dialect, { DICOM_PORT: String(await freePort()), REQUEST_TIMEOUT_MS: '1500' });
      const server = await startProcess(env);
      try {
        const admin = (await login(server.url, 'admin', ADMIN_PASSWORD)).token;
        const callingAet = aetFor();
        const allowed = await call(server.url, 'PUT', '/api/v1/system/configs/dicom.scp_allowed_aets', {
          token: admin,
          body: { config_value: callingAet },
        });
        assert.equal(allowed.status, 200, allowed.text);
        await sleep(2100);
        const uid = generateUid();
        // ~8 MB: far more than the socket buffers hold, so the server is still sending when we hang up.
        const [outcome] = await storeFiles(
          { host: '127.0.0.1', port: Number(env.DICOM_PORT), callingAet, calledAet: 'ROENTGEN' },
          [bigDx(uid, 2048, 2048)],
          () => undefined,
        );
        assert.equal(outcome.status, STATUS.SUCCESS);
        const url = `${server.url}/dr/api/v1/auth/f/dcm/${uid}.dcm`;
        const reader = await createUser(server.url, admin, ['tech']);
        await until('the object is indexed', async () => {
          const res = await fetch(url, { method: 'GET', headers: { authorization: `Bearer ${reader.token}` } });
          await res.body?.cancel();
          return res.status === 200 ? true : undefined;
        });
        const partial = await readPartOfAndHangUp(url, admin, 4000);
        assert.equal(partial.status, 200);
        assert.ok(partial.read < 8 * 1024 * 1024);
        const row = await until('the read audit row', async () => {
          const res = await call(server.url, 'GET', `/api/v1/system/audit-logs?request_id=${partial.requestId}`, { token: admin });
          return res.body?.data?.items?.[0] as Record<string, unknown> | undefined;
        });
        assert.equal(row.action, 'study.download');
        assert.equal(row.username, 'admin');
        assert.ok(row.session_id, 'the row names the session');
        // Past the request timeout: the timer must not try to answer a response that is gone.
        await sleep(2500);
        const log = server.output();
        assert.doesNotMatch(log, /Attempted to send payload/);
        assert.doesNotMatch(log, /"statusCode":50\d/);
        assert.doesNotMatch(log, /"level":50/);
      } finally {
        await server.stop();
        await dropSchema(env.DATABASE_SCHEMA);
        fs.rmSync(env.ROENTGEN_DATA_DIR, { recursive: true, force: true });
      }
    });
  });
}

function aetFor(): string {
  return `P${randomUUID().replace(/-/g, '').slice(0, 10).toUpperCase()}`;
}

describe('seams B (problem 9): a weak JWT_SECRET from the environment stops the server', () => {
  test('short, repetitive or patterned secrets are refused with the reason; a strong one is taken', async () => {
    for (const weak of ['secret', 'a'.repeat(40), 'abcd'.repeat(10), 'changeme-changeme-changeme-change']) {
      assert.throws(() => loadConfig(isolatedEnv('sqlite', { JWT_SECRET: weak })), /JWT_SECRET/, weak);
    }
    const strong = 'Vb7q-2kLp9x!Rt4m-Zs8wN3c-Hy6eJ0uQ';
    assert.equal(loadConfig(isolatedEnv('sqlite', { JWT_SECRET: strong })).jwtSecret, strong);
    const env = isolatedEnv('sqlite', { JWT_SECRET: 'secret' });
    try {
      await assert.rejects(startProcess(env), /JWT_SECRET must be at least 32 characters/);
    } finally {
      fs.rmSync(env.ROENTGEN_DATA_DIR, { recursive: true, force: true });
    }
  });
});
