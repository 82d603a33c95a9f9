import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SignJWT } from 'jose';
import mqtt from 'mqtt';
import {
  ADMIN_PASSWORD,
  DIALECTS,
  SEED_PASSWORD,
  call,
  createUser,
  login,
  sampleStudy,
  withServer,
  type ServerContext,
} from '../helpers.js';

// Issue 15, findings 3 (anonymous thumbnails through MQTT), 5 (all guests one identity) and
// 8 (sessions outlive logout): each test reproduces the attack through HTTP and MQTT.

const JWT_SECRET = 'sessions-test-secret-0123456789abcdef';

interface Heard {
  topic: string;
  status?: string;
  sop?: string;
  thumbnail?: string;
}

/** A guest token from software_info, with the guest session cookie it came with. */
async function guest(base: string): Promise<{ token: string; cookie: string }> {
  const res = await fetch(`${base}/dr/api/v1/pub/software_info`);
  const body = (await res.json()) as { data: { guest: string } };
  const cookie = res.headers.getSetCookie().find((c) => c.startsWith('roentgen_guest=')) ?? '';
  return { token: body.data.guest, cookie: cookie.split(';')[0] };
}

/** Logs in on the diagnosis face; returns the tokens and the session cookie (name=value). */
async function loginWithCookie(base: string, username: string, password: string) {
  const res = await fetch(`${base}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  assert.equal(res.status, 200);
  const body = (await res.json()) as { data: { access_token: string; refresh_token: string } };
  const setCookie = res.headers.getSetCookie().find((c) => c.startsWith('roentgen_session=')) ?? '';
  return { token: body.data.access_token, refresh: body.data.refresh_token, cookie: setCookie.split(';')[0], setCookie };
}

async function getStatus(base: string, path: string, auth: { token?: string; cookie?: string } = {}): Promise<number> {
  const headers: Record<string, string> = {};
  if (auth.token) headers.authorization = `Bearer ${auth.token}`;
  if (auth.cookie) headers.cookie = auth.cookie;
  const res = await fetch(`${base}${path}`, { headers });
  await res.arrayBuffer();
  return res.status;
}

/** An MQTT client over WebSocket with the token as password; what it hears is collected. */
async function brokerClient(ctx: ServerContext, token: string) {
  const client = await mqtt.connectAsync(`${ctx.t.url.replace(/^http/, 'ws')}/mqtt`, {
    username: 'console',
    password: token,
    reconnectPeriod: 0,
    connectTimeout: 3000,
  });
  const heard: Heard[] = [];
  client.on('message', (topic, payload) => heard.push({ topic, ...(JSON.parse(payload.toString()) as Omit<Heard, 'topic'>) }));
  let closedAt: number | undefined;
  client.on('close', () => (closedAt ??= Date.now()));
  /** The granted QoS, or 128 (0x80) when the broker refused the subscription (mqtt.js reports that as an error). */
  const granted = async (filter: string) => {
    try {
      return (await client.subscribeAsync(filter))[0]?.qos;
    } catch (error) {
      if (/Subscribe error/.test((error as Error).message)) return 128;
      throw error;
    }
  };
  const closedWithin = async (ms: number, since: number) => {
    while (closedAt === undefined && Date.now() - since < ms) await new Promise((r) => setTimeout(r, 25));
    return closedAt !== undefined && closedAt - since <= ms;
  };
  return { client, heard, granted, closedWithin };
}

for (const dialect of DIALECTS) {
  describe(`sessions, guests and private files on ${dialect}`, () => {
    const ctx = withServer(dialect, { JWT_SECRET });
    const dr = (method: string, p: string, token: string, body?: unknown) => call(ctx.t.url, method, `/dr/api/v1/${p}`, { token, body });

    /** Registers a study with the token, exposes its first image and waits for the pipeline; returns the image UID. */
    const expose = async (token: string, over: Record<string, unknown> = {}) => {
      const study = await dr('POST', 'auth/study', token, sampleStudy(over));
      assert.equal(study.status, 200, study.text);
      const uid: string = study.body.data.series[0].images[0].sop_instance_uid;
      const started = await dr('POST', 'auth/task/inspection/start', token, { instance_uid: uid });
      assert.equal(started.status, 200, started.text);
      const triggered = await dr('POST', 'auth/task/inspection/trigger', token);
      assert.equal(triggered.status, 200, triggered.text);
      await ctx.t.server.services.acquisition.pending;
      await new Promise((r) => setTimeout(r, 150)); // the last events reach the clients
      return { uid, studyId: study.body.data.study_id as string };
    };

    test('finding 3: a guest cannot subscribe to # and hears no other session; thumbnails need a token or the session cookie', async () => {
      const a = await guest(ctx.t.url);
      const b = await guest(ctx.t.url);
      assert.ok(a.token && b.token && a.token !== b.token);
      const spyA = await brokerClient(ctx, a.token);
      const spyB = await brokerClient(ctx, b.token);
      const staff = await brokerClient(ctx, ctx.admin);
      try {
        for (const filter of ['#', '+/#', '+/TASK/IMGPROC/PROGRESS', 'MODULE/#', 'MODULE/TASK/+/PROGRESS', '$SYS/#']) {
          assert.equal(await spyA.granted(filter), 128, `a guest may not subscribe to ${filter}`);
        }
        assert.equal(await staff.granted('#'), 128, 'nobody may subscribe to #');
        assert.equal(await staff.granted('+/TASK/#'), 128, 'nor to a wildcard at the root');
        assert.equal(await staff.granted('MODULE/TASK/#'), 0);
        for (const spy of [spyA, spyB]) {
          assert.equal(await spy.granted('MODULE/TASK/IMGPROC/PROGRESS'), 0);
          assert.equal(await spy.granted('MODULE/TASK/STATUS/GLOBAL'), 0);
        }

        // Staff exposes a normal study: staff hears it, the guests hear nothing at all.
        const staffImage = await expose(ctx.admin);
        assert.ok(staff.heard.some((e) => e.status === 'TASK_Success' && e.thumbnail === `${staffImage.uid}.webp`));
        assert.equal(spyA.heard.length, 0, 'guest A heard another session');
        assert.equal(spyB.heard.length, 0, 'guest B heard another session');

        // Guest A exposes its emergency study: A hears its own task, B still nothing.
        const own = await expose(a.token, { study_type: 'Emergency' });
        const success = spyA.heard.find((e) => e.status === 'TASK_Success');
        assert.equal(success?.thumbnail, `${own.uid}.webp`);
        assert.ok(spyA.heard.some((e) => e.topic === 'MODULE/TASK/STATUS/GLOBAL'));
        assert.ok(spyA.heard.every((e) => e.topic === 'MODULE/TASK/STATUS/GLOBAL' || e.sop === own.uid));
        assert.equal(spyB.heard.length, 0, 'guest B heard guest A');
      } finally {
        for (const c of [spyA, spyB, staff]) c.client.end(true);
      }

      // The thumbnail the event named is not anonymous, on any prefix.
      const thumbs = await ctx.t.server.db.kysely.selectFrom('stored_files').select('name').where('kind', '=', 'thumbnail').execute();
      assert.ok(thumbs.length >= 2);
      for (const { name } of thumbs) {
        for (const prefix of ['/dr/api/v1', '/api/v1']) {
          assert.equal(await getStatus(ctx.t.url, `${prefix}/pub/thumbnail/${name}`), 401, `${name} without a token`);
        }
        assert.equal(await getStatus(ctx.t.url, `/dr/api/v1/pub/thumbnail/${name}`, { token: ctx.admin }), 200);
      }
      const staffCookie = await loginWithCookie(ctx.t.url, 'admin', ADMIN_PASSWORD);
      for (const attribute of [/HttpOnly/i, /SameSite=Strict/i, /Path=\//]) assert.match(staffCookie.setCookie, attribute);
      assert.doesNotMatch(staffCookie.setCookie, /Secure/i, 'Secure only over TLS');
      assert.match(a.cookie, /^roentgen_guest=./);
      assert.equal(await getStatus(ctx.t.url, `/dr/api/v1/pub/thumbnail/${thumbs[0].name}`, { cookie: staffCookie.cookie }), 200);
      assert.equal(await getStatus(ctx.t.url, `/dr/api/v1/pub/thumbnail/${thumbs[0].name}`, { cookie: 'roentgen_session=forged' }), 401);
    });

    test("finding 3: a guest's token and cookie read only its own session's thumbnails and files", async () => {
      const a = await guest(ctx.t.url);
      const b = await guest(ctx.t.url);
      const own = await expose(a.token, { study_type: 'Emergency' });
      const thumb = `/dr/api/v1/pub/thumbnail/${own.uid}.webp`;
      assert.equal(await getStatus(ctx.t.url, thumb), 401);
      assert.equal(await getStatus(ctx.t.url, thumb, { token: a.token }), 200);
      assert.equal(await getStatus(ctx.t.url, thumb, { cookie: a.cookie }), 200);
      assert.equal(await getStatus(ctx.t.url, thumb, { token: b.token }), 404, "another guest session's file does not exist for it");
      assert.equal(await getStatus(ctx.t.url, thumb, { cookie: b.cookie }), 404);
      assert.equal(await getStatus(ctx.t.url, `/dr/api/v1/pub/dcm/${own.uid}.dcm`, { cookie: a.cookie }), 200);
      assert.equal(await getStatus(ctx.t.url, `/dr/api/v1/pub/dcm/${own.uid}.dcm`, { cookie: b.cookie }), 404);
      assert.equal(await getStatus(ctx.t.url, `/dr/api/v1/pub/dcm/${own.uid}.dcm`), 401);
    });

    test("finding 5: a second guest token can neither read nor edit the first guest's emergency study (404)", async () => {
      const a = await guest(ctx.t.url);
      const b = await guest(ctx.t.url);
      const registered = await dr('POST', 'auth/study', a.token, sampleStudy({ study_type: 'Emergency', patient_name: 'Victim' }));
      assert.equal(registered.status, 200, registered.text);
      const id: string = registered.body.data.study_id;
      const { views, patient_type, modality, study_type, ...edit } = sampleStudy({
        patient_id: registered.body.data.patient_id,
        patient_name: 'Mallory',
      });
      assert.ok(views.length > 0 && patient_type && modality && study_type, 'the edit leaves out what a study keeps');

      assert.equal((await dr('GET', `auth/study/${id}`, a.token)).status, 200);
      const read = await dr('GET', `auth/study/${id}`, b.token);
      assert.equal(read.status, 404, read.text);
      assert.equal(read.body.code, '0x060001');
      assert.ok(!read.text.includes('Victim'));
      const put = await dr('PUT', `auth/study/${id}`, b.token, edit);
      assert.equal(put.status, 404, put.text);
      const stat = await dr('GET', `auth/study/${id}/stat`, b.token);
      assert.equal(stat.status, 404);
      const after = await dr('GET', `auth/study/${id}`, a.token);
      assert.equal(after.body.data.patient_name, 'Victim', 'the study was not edited');
      assert.equal((await dr('PUT', `auth/study/${id}`, a.token, edit)).status, 200, 'its own session may edit it');

      const row = await ctx.t.server.db.kysely
        .selectFrom('studies')
        .innerJoin('auth_sessions', 'auth_sessions.id', 'studies.created_session_id')
        .select(['auth_sessions.kind', 'auth_sessions.source_ip'])
        .where('studies.study_id', '=', id)
        .executeTakeFirstOrThrow();
      assert.equal(row.kind, 'guest');
      assert.match(row.source_ip, /127\.0\.0\.1/);
    });

    test('finding 5: guest tokens can be switched off or limited to console addresses (the field stays, empty)', async () => {
      const set = async (key: string, value: unknown) =>
        assert.equal(
          (await call(ctx.t.url, 'PUT', `/api/v1/system/configs/${key}`, { token: ctx.admin, body: { config_value: value } })).status,
          200,
        );
      try {
        await set('auth.guest_enabled', false);
        const off = await guest(ctx.t.url);
        assert.equal(off.token, '');
        assert.equal(off.cookie, '');
        await set('auth.guest_enabled', true);
        await set('auth.guest_allowed_addresses', '10.0.0.0/8, 192.168.1.7');
        assert.equal((await guest(ctx.t.url)).token, '', 'not a console address');
        await set('auth.guest_allowed_addresses', '10.0.0.0/8, 127.0.0.0/8');
        assert.ok((await guest(ctx.t.url)).token.length > 20);
      } finally {
        await set('auth.guest_enabled', true);
        await set('auth.guest_allowed_addresses', '');
      }
    });

    test('finding 8: logout without a body ends the session: access token, refresh token and cookie stop working', async () => {
      const session = await loginWithCookie(ctx.t.url, 'mgr', SEED_PASSWORD);
      assert.equal((await call(ctx.t.url, 'GET', '/api/v1/auth/me', { token: session.token })).status, 200);
      const res = await fetch(`${ctx.t.url}/api/v1/auth/logout`, { method: 'POST', headers: { authorization: `Bearer ${session.token}` } });
      assert.equal(res.status, 200);
      const me = await call(ctx.t.url, 'GET', '/api/v1/auth/me', { token: session.token });
      assert.equal(me.status, 401);
      assert.equal(me.body.error.type, 'AuthenticationError');
      const refresh = await call(ctx.t.url, 'POST', '/api/v1/auth/refresh', { body: { refresh_token: session.refresh } });
      assert.equal(refresh.status, 401, 'the refresh token died with the session');
      assert.ok(
        res.headers.getSetCookie().some((c) => /^roentgen_session=;/.test(c)),
        'the cookie is cleared',
      );
      const study = await dr('POST', 'auth/study', ctx.admin, sampleStudy());
      const uid: string = study.body.data.series[0].images[0].sop_instance_uid;
      assert.equal(await getStatus(ctx.t.url, `/dr/api/v1/auth/f/thumbnail/${uid}.webp`, { cookie: session.cookie }), 401);
      const row = await ctx.t.server.db.kysely
        .selectFrom('auth_sessions')
        .select(['revoked_at', 'revoked_reason'])
        .where('refresh_jti', '!=', '')
        .where('revoked_reason', '=', 'logout')
        .execute();
      assert.ok(row.length >= 1 && row.every((r) => r.revoked_at !== null));
    });

    test('finding 8: a replayed (already rotated) refresh token revokes the whole session', async () => {
      const session = await login(ctx.t.url, 'tech', SEED_PASSWORD);
      const rotated = await call(ctx.t.url, 'POST', '/api/v1/auth/refresh', { body: { refresh_token: session.refresh } });
      assert.equal(rotated.status, 200);
      const next = rotated.body.data as { access_token: string; refresh_token: string };
      assert.equal((await call(ctx.t.url, 'GET', '/api/v1/auth/me', { token: next.access_token })).status, 200);
      // An attacker replays the stolen first refresh token.
      const replay = await call(ctx.t.url, 'POST', '/api/v1/auth/refresh', { body: { refresh_token: session.refresh } });
      assert.equal(replay.status, 401);
      assert.equal((await call(ctx.t.url, 'GET', '/api/v1/auth/me', { token: next.access_token })).status, 401);
      assert.equal((await call(ctx.t.url, 'GET', '/api/v1/auth/me', { token: session.token })).status, 401);
      const again = await call(ctx.t.url, 'POST', '/api/v1/auth/refresh', { body: { refresh_token: next.refresh_token } });
      assert.equal(again.status, 401, "the legitimate holder's newest refresh token is revoked too");
    });

    test('finding 8: an open MQTT connection is closed at logout, at account deletion and when its token expires', async () => {
      const session = await login(ctx.t.url, 'mgr', SEED_PASSWORD);
      const listener = await brokerClient(ctx, session.token);
      assert.equal(await listener.granted('MODULE/TASK/STATUS/GLOBAL'), 0);
      const loggedOut = Date.now();
      assert.equal((await call(ctx.t.url, 'POST', '/api/v1/auth/logout', { token: session.token })).status, 200);
      assert.ok(await listener.closedWithin(1000, loggedOut), 'closed at logout');

      const user = await createUser(ctx.t.url, ctx.admin, ['tech']);
      const doomed = await brokerClient(ctx, user.token);
      assert.equal(await doomed.granted('MODULE/TASK/IMGPROC/PROGRESS'), 0);
      const deleted = Date.now();
      assert.equal((await call(ctx.t.url, 'DELETE', `/api/v1/users/${user.id}`, { token: ctx.admin })).status, 200);
      assert.ok(await doomed.closedWithin(5000, deleted), 'closed after the account was deleted');

      // A token of a live session that expires in two seconds (signed as the server would).
      const live = await login(ctx.t.url, 'service', SEED_PASSWORD);
      const claims = JSON.parse(Buffer.from(live.token.split('.')[1], 'base64url').toString()) as Record<string, unknown>;
      const now = Math.floor(Date.now() / 1000);
      const short = await new SignJWT({ id: claims.id, name: claims.name, typ: 'access', ver: claims.ver, sid: claims.sid })
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setJti('short-lived')
        .setIssuedAt(now)
        .setExpirationTime(now + 2)
        .sign(new TextEncoder().encode(JWT_SECRET));
      const expiring = await brokerClient(ctx, short);
      const connected = Date.now();
      assert.ok(!(await expiring.closedWithin(500, connected)), 'open while the token is valid');
      assert.ok(await expiring.closedWithin(6000, connected), 'closed once the token expired');
    });
  });

  describe(`guest rate limits on ${dialect}`, () => {
    const ctx = withServer(dialect, { RATE_LIMIT_PER_MINUTE: '30' });

    test("finding 5: one guest console's requests do not rate-limit another guest console", async () => {
      const a = await guest(ctx.t.url);
      const b = await guest(ctx.t.url);
      const study = await call(ctx.t.url, 'POST', '/dr/api/v1/auth/study', {
        token: a.token,
        body: sampleStudy({ study_type: 'Emergency' }),
      });
      assert.equal(study.status, 200, study.text);
      const path = `/dr/api/v1/auth/study/${study.body.data.study_id}`;
      let limitedAfter = 0;
      for (let i = 1; i <= 40; i += 1) {
        if ((await call(ctx.t.url, 'GET', path, { token: a.token })).status === 429) {
          limitedAfter = i;
          break;
        }
      }
      assert.ok(limitedAfter > 0 && limitedAfter <= 31, `guest A is limited (after ${limitedAfter})`);
      const other = await call(ctx.t.url, 'POST', '/dr/api/v1/auth/study', {
        token: b.token,
        body: sampleStudy({ study_type: 'Emergency' }),
      });
      assert.equal(other.status, 200, `guest B has its own bucket: ${other.text}`);
      assert.equal((await call(ctx.t.url, 'GET', path, { token: b.token })).status, 404);
    });
  });
}
