import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import mqtt from 'mqtt';
import { storeDx } from '../dicom-helpers.js';
import {
  ADMIN_PASSWORD,
  DIALECTS,
  SEED_PASSWORD,
  call,
  isDiagnosisError,
  isDrError,
  login,
  sampleStudy,
  startServer,
  withServer,
  type TestServer,
} from '../helpers.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- response JSON
type Json = any;

interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: Json;
  text: string;
}

/** Writes bytes to the server on a plain socket and reads the one answer (the server closes after refusing). */
function rawExchange(url: string, request: string | Buffer, halfClose = false): Promise<RawAnswer> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = net.connect({ host: hostname, port: Number(port), allowHalfOpen: true }, () => {
      socket.write(request);
      if (halfClose) socket.end();
    });
    const timer = setTimeout(() => socket.destroy(new Error('no answer in 5 s')), 5000);
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      const text = Buffer.concat(chunks).toString('utf8');
      const split = text.indexOf('\r\n\r\n');
      const length = /\r\ncontent-length: *(\d+)/i.exec(text)?.[1];
      if (split > 0 && length !== undefined && Buffer.byteLength(text.slice(split + 4)) >= Number(length)) socket.destroy();
    });
    socket.on('close', () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('utf8');
      const split = text.indexOf('\r\n\r\n');
      if (split < 0) {
        reject(new Error(`no HTTP answer: ${JSON.stringify(text)}`));
        return;
      }
      const [statusLine, ...lines] = text.slice(0, split).split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      const bodyText = text.slice(split + 4);
      let body: Json;
      try {
        body = JSON.parse(bodyText);
      } catch {
        body = undefined;
      }
      resolve({ status: Number(statusLine.split(' ')[1]), headers, body, text });
    });
    socket.on('error', (error) => {
      if (chunks.length === 0) reject(error);
    });
  });
}

/** The security headers every answer carries; HSTS only over TLS. */
function assertSecurityHeaders(header: (name: string) => string | null | undefined, tls = false): void {
  assert.equal(header('x-content-type-options'), 'nosniff');
  assert.equal(header('x-frame-options'), 'DENY');
  assert.equal(header('x-xss-protection'), '1; mode=block');
  const csp = header('content-security-policy') ?? '';
  assert.match(csp, /^default-src 'self'/);
  assert.doesNotMatch(csp, /unsafe-inline/);
  if (tls) assert.equal(header('strict-transport-security'), 'max-age=31536000; includeSubDomains');
  else assert.equal(header('strict-transport-security') ?? null, null);
}

/** Every *.part file under the data directory (temporary files a broken request could leave). */
function partFiles(dir: string): string[] {
  return fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((name) => name.endsWith('.part'));
}

for (const dialect of DIALECTS) {
  describe(`security edges (findings 9, 12, 17, 18) on ${dialect}`, () => {
    const ctx = withServer(dialect);
    const dr = (method: string, p: string, body?: unknown, token?: string) =>
      call(ctx.t.url, method, `/dr/api/v1/${p}`, { token: token ?? ctx.admin, body });
    const setConfig = (key: string, value: unknown, token: string) =>
      call(ctx.t.url, 'PUT', `/api/v1/system/configs/${key}`, { token, body: { config_value: value } });

    test('finding 17: a bad URL, oversized headers and a wrong Content-Length are answered in the envelope with the security headers', async () => {
      const badUrl = await rawExchange(ctx.t.url, 'GET /api/v1/users/%c0%af HTTP/1.1\r\nHost: x\r\nLanguage: en_US\r\n\r\n');
      assert.equal(badUrl.status, 400, badUrl.text);
      assert.ok(isDiagnosisError(badUrl.body, 400, 'ValidationError'), badUrl.text);
      assertSecurityHeaders((h) => badUrl.headers[h]);
      assert.ok(badUrl.headers['x-request-id']);

      const drBadUrl = await rawExchange(ctx.t.url, 'GET /dr/api/v1/pub/%c0%af HTTP/1.1\r\nHost: x\r\n\r\n');
      assert.equal(drBadUrl.status, 400);
      assert.ok(isDrError(drBadUrl.body, '0x010007'), drBadUrl.text);

      const oversized = await rawExchange(
        ctx.t.url,
        `GET /dr/api/v1/pub/language HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
      );
      assert.equal(oversized.status, 431, oversized.text);
      assert.ok(isDrError(oversized.body, '0x010008'), oversized.text);
      assertSecurityHeaders((h) => oversized.headers[h]);

      const notANumber = await rawExchange(
        ctx.t.url,
        'POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: abc\r\n\r\n{}',
      );
      assert.equal(notANumber.status, 400, notANumber.text);
      assert.ok(isDiagnosisError(notANumber.body, 400), notANumber.text);
      assertSecurityHeaders((h) => notANumber.headers[h]);

      // Content-Length larger than the body, then the client stops sending.
      const short = await rawExchange(
        ctx.t.url,
        'POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"a":1}',
        true,
      );
      assert.equal(short.status, 400, short.text);
      assert.ok(isDiagnosisError(short.body, 400), short.text);
      assertSecurityHeaders((h) => short.headers[h]);

      // Content-Length smaller than the body: the rest is not a request.
      const long = await rawExchange(
        ctx.t.url,
        'POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}{"username":"admin"}',
      );
      assert.ok(long.status === 400 || long.status === 401, long.text);
      assert.ok(isDiagnosisError(long.body, long.status), long.text);
      assertSecurityHeaders((h) => long.headers[h]);

      const longParam = await call(ctx.t.url, 'GET', `/api/v1/users/${'9'.repeat(3000)}`, { token: ctx.admin });
      assert.ok([400, 404, 414].includes(longParam.status), longParam.text);
      const tooLarge = await call(ctx.t.url, 'POST', '/api/v1/auth/login', {
        rawBody: JSON.stringify({ username: 'x'.repeat(2 * 1024 * 1024) }),
      });
      assert.equal(tooLarge.status, 413, tooLarge.text);
      for (const res of [
        longParam,
        tooLarge,
        await call(ctx.t.url, 'GET', '/api/v1/no/such/route'),
        await call(ctx.t.url, 'POST', '/api/v1/auth/login', { rawBody: '{"username":' }),
        await call(ctx.t.url, 'GET', '/api/v1/auth/me'),
      ]) {
        assert.ok(isDiagnosisError(res.body, res.status), res.text);
        assertSecurityHeaders((h) => res.headers.get(h));
      }
    });

    test("finding 17: CSP is default-src 'self' everywhere and allows inline styles under /docs only; no HSTS over plain HTTP", async () => {
      const api = await call(ctx.t.url, 'GET', '/api/v1/system/health');
      assertSecurityHeaders((h) => api.headers.get(h));
      assert.equal(api.headers.get('content-security-policy')?.includes('style-src'), false);
      const docs = await fetch(`${ctx.t.url}/docs/`);
      await docs.arrayBuffer();
      assert.equal(docs.status, 200);
      assert.match(docs.headers.get('content-security-policy') ?? '', /^default-src 'self'.*style-src 'self' 'unsafe-inline'/);
      assert.equal(docs.headers.get('strict-transport-security'), null);
    });

    test('finding 9: the service role may not make DICOM public or move the export folder; an administrator may, inside the roots', async () => {
      const service = (await login(ctx.t.url, 'service', SEED_PASSWORD)).token;
      const mgr = (await login(ctx.t.url, 'mgr', SEED_PASSWORD)).token;
      for (const token of [service, mgr]) {
        for (const [key, value] of [
          ['files.public_dicom', true],
          ['files.public_captures', true],
          ['export.directory', os.tmpdir()],
          ['dicom.scp_allowed_aets', 'EVIL'],
          ['security.rate_limit_per_minute', 1_000_000],
        ] as const) {
          const res = await setConfig(key, value, token);
          assert.equal(res.status, 403, `${key}: ${res.text}`);
          assert.ok(isDiagnosisError(res.body, 403, 'PermissionError'));
        }
        // An ordinary key stays theirs to change.
        assert.equal((await setConfig('system.name', 'Roentgen', token)).status, 200);
      }
      const listed = await call(ctx.t.url, 'GET', '/api/v1/system/configs?category=files', { token: service });
      assert.equal(listed.status, 200);
      assert.equal(listed.body.data.find((row: Json) => row.config_key === 'files.public_dicom').config_value, 'false');

      // The administrator: inside the root (default <data dir>/exports) yes; anywhere else, /proc and symlink escapes no.
      const root = path.join(ctx.t.dataDir, 'exports');
      assert.equal((await setConfig('export.directory', path.join(root, 'ward-3'), ctx.admin)).status, 200);
      const outside = fs.mkdtempSync(path.join(os.tmpdir(), 'roentgen-outside-'));
      try {
        fs.mkdirSync(root, { recursive: true });
        fs.symlinkSync(outside, path.join(root, 'escape'));
        for (const value of [
          outside,
          '/proc/self',
          '/proc/self/cwd',
          '/sys/kernel',
          '/dev/shm',
          '/etc',
          'relative/dir',
          path.join(root, 'escape', 'x'),
        ]) {
          const res = await setConfig('export.directory', value, ctx.admin);
          assert.equal(res.status, 422, `${value}: ${res.text}`);
          assert.equal(res.body.error.type, 'ValidationError');
          assert.doesNotMatch(res.text, new RegExp(outside.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')), 'no resolved server path in the reply');
        }
        assert.equal(fs.readdirSync(outside).length, 0);
      } finally {
        fs.rmSync(outside, { recursive: true, force: true });
      }
      // Reading it back: blank for the service engineer (a server path), the value for the administrator.
      const asService = await call(ctx.t.url, 'GET', '/api/v1/system/configs?category=files', { token: service });
      assert.equal(asService.body.data.find((row: Json) => row.config_key === 'export.directory').config_value, '');
      const asAdmin = await call(ctx.t.url, 'GET', '/api/v1/system/configs?category=files', { token: ctx.admin });
      assert.equal(asAdmin.body.data.find((row: Json) => row.config_key === 'export.directory').config_value, path.join(root, 'ward-3'));
    });

    test('finding 9: save-as writes 0640 files in 0750 folders inside the root, and a folder swapped for a symlink is refused without a path in the reply', async () => {
      const root = path.join(ctx.t.dataDir, 'exports');
      const target = path.join(root, 'save-as');
      assert.equal((await setConfig('export.directory', target, ctx.admin)).status, 200);
      const created = await dr('POST', 'auth/study', sampleStudy());
      assert.equal(created.status, 200, created.text);
      const study = created.body.data;
      const uid: string = study.series[0].images[0].sop_instance_uid;
      await storeDx(ctx.t, uid);
      const saved = await dr('POST', 'auth/image/save_as', { instance_uid: uid });
      assert.equal(saved.status, 200, saved.text);
      const folder = path.join(target, `${study.patient_id}_${study.study_id}`);
      const file = path.join(folder, `${uid}.dcm`);
      assert.equal(fs.statSync(file).mode & 0o777 & ~0o640, 0, 'no group write, nothing for others');
      assert.equal(fs.statSync(file).mode & 0o007, 0);
      assert.equal(fs.statSync(folder).mode & 0o007, 0);
      assert.equal(fs.readdirSync(folder).filter((n) => n.endsWith('.part')).length, 0);

      // A write that fails names the failure's kind, not the server path (the reply used to carry it).
      fs.rmSync(file);
      fs.mkdirSync(path.join(file, 'blocker'), { recursive: true });
      const failed = await dr('POST', 'auth/image/save_as', { instance_uid: uid });
      assert.equal(failed.status, 500, failed.text);
      assert.ok(isDrError(failed.body, '0x070007'), failed.text);
      assert.doesNotMatch(failed.text, /\/exports|\.dcm|roentgen-test/, 'no server path in the reply');
      assert.equal(fs.readdirSync(folder).filter((n) => n.endsWith('.part')).length, 0, 'the temporary file is removed');
      fs.rmSync(file, { recursive: true });

      // Someone with shell access replaces the export folder with a link out of the root.
      const outside = fs.mkdtempSync(path.join(os.tmpdir(), 'roentgen-outside-'));
      try {
        fs.rmSync(target, { recursive: true, force: true });
        fs.symlinkSync(outside, target);
        const refused = await dr('POST', 'auth/image/save_as', { instance_uid: uid });
        assert.equal(refused.status, 422, refused.text);
        assert.ok(isDrError(refused.body, '0x040011'), refused.text);
        assert.doesNotMatch(refused.text, /\/tmp\/|roentgen-/, 'no server path in the reply');
        assert.equal(fs.readdirSync(outside).length, 0, 'nothing written outside the root');
      } finally {
        fs.rmSync(target, { force: true });
        fs.rmSync(outside, { recursive: true, force: true });
      }
    });

    test('finding 12: a NUL or FTS5 syntax in a study search never answers 500', async () => {
      for (const query of ['id=abc%00', 'name=abc%00def', 'acc_no=%00%00%00', 'id=abc%0d%0a']) {
        const res = await dr('GET', `auth/study?${query}`);
        assert.equal(res.status, 400, `${query}: ${res.text}`);
        assert.ok(isDrError(res.body, '0x010001'), res.text);
      }
      for (const term of ['"abc', 'abc*', 'NEAR(abc def)', 'abc OR def', '{patient_id}:x', 'a\'b"c', '^abc']) {
        const res = await dr('GET', `auth/study?id=${encodeURIComponent(term)}&name=${encodeURIComponent(term)}`);
        assert.equal(res.status, 200, `${term}: ${res.text}`);
      }
    });

    test('finding 12: a post_proc form with too many fields or a truncated body is a 4xx, never 500, and leaves no files', async () => {
      const url = `${ctx.t.url}/dr/api/v1/auth/image/post_proc`;
      const png = new Blob([Buffer.from('89504e470d0a1a0a', 'hex')], { type: 'image/png' });
      const partsBefore = partFiles(ctx.t.dataDir);
      for (const fileFirst of [true, false]) {
        const form = new FormData();
        if (fileFirst) form.append('data', png, 'a.png');
        for (let i = 0; i < 20; i += 1) form.append(`f${i}`, 'x');
        if (!fileFirst) form.append('data', png, 'a.png');
        const res = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${ctx.admin}` }, body: form });
        const body: Json = await res.json();
        assert.equal(res.status, 413, JSON.stringify(body));
        assert.ok(isDrError(body, '0x010003'), JSON.stringify(body));
      }
      const boundary = '----edges';
      const truncated =
        `--${boundary}\r\nContent-Disposition: form-data; name="instance_uid"\r\n\r\n1.2.3\r\n` +
        `--${boundary}\r\nContent-Disposition: form-data; name="data"; filename="a.png"\r\nContent-Type: image/png\r\n\r\n` +
        'x'.repeat(5000);
      const head = (length: number) =>
        `POST /dr/api/v1/auth/image/post_proc HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${ctx.admin}\r\n` +
        `Content-Type: multipart/form-data; boundary=${boundary}\r\nContent-Length: ${length}\r\n\r\n`;
      // The whole announced body arrives but the form never closes; then a body cut short by the client.
      for (const [request, halfClose] of [
        [head(truncated.length) + truncated, false],
        [head(truncated.length + 10_000) + truncated, true],
      ] as const) {
        const res = await rawExchange(ctx.t.url, request, halfClose);
        assert.equal(res.status, 400, res.text);
        assert.ok(isDrError(res.body), res.text);
        assertSecurityHeaders((h) => res.headers[h]);
      }
      assert.deepEqual(partFiles(ctx.t.dataDir), partsBefore);
    });

    test('finding 18: control characters, markup and lone surrogates in names and ids are refused, naming the field', async () => {
      for (const [field, value] of [
        ['patient_name', 'Evil\u0000Name'],
        ['patient_name', 'Line\r\nBreak'],
        ['patient_name', 'Tab\tName'],
        ['patient_name', '<script>alert(1)</script>'],
        ['patient_name', 'C1\u0085Name'],
        ['patient_id', 'ID\u0000'],
        ['patient_id', 'ID\nX'],
        ['accession_number', 'A\u007F'],
        ['ref_physician', '<img src=x>'],
      ] as const) {
        const res = await dr('POST', 'auth/study', sampleStudy({ [field]: value }));
        assert.equal(res.status, 400, `${field}=${JSON.stringify(value)}: ${res.text}`);
        assert.ok(isDrError(res.body, '0x010001'), res.text);
        assert.ok(
          res.body.data.details.some((d: Json) => d.field === field),
          res.text,
        );
      }
      // A lone surrogate is refused, not stored as U+FFFD; a proper pair (an emoji) is fine in free text.
      const body = JSON.stringify(sampleStudy()).replace('"patient_name":"Buddy"', '"patient_name":"Bud\\ud800dy"');
      const lone = await call(ctx.t.url, 'POST', '/dr/api/v1/auth/study', { token: ctx.admin, rawBody: body });
      assert.equal(lone.status, 400, lone.text);
      assert.ok(
        lone.body.data.details.some((d: Json) => d.field === 'patient_name'),
        lone.text,
      );
      const paired = await dr('POST', 'auth/study', sampleStudy({ comment: 'ok \ud83d\ude00\nsecond line' }));
      assert.equal(paired.status, 200, paired.text);
      // Bytes that are not UTF-8 are refused too (they used to become U+FFFD silently).
      const invalid = Buffer.concat([Buffer.from('{"username":"'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('","password":"x"}')]);
      const res = await fetch(`${ctx.t.url}/api/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: invalid,
      });
      assert.equal(res.status, 400);
      assert.ok(isDiagnosisError(await res.json(), 400, 'ValidationError'));
    });

    test('finding 18: dates of birth in 1800 or 2999 are refused; 1900-01-01 and today are accepted', async () => {
      for (const dob of [
        '1800-01-01T00:00:00Z',
        '1899-12-31T23:59:59Z',
        '2999-01-01T00:00:00Z',
        new Date(Date.now() + 86_400_000).toISOString(),
      ]) {
        const res = await dr('POST', 'auth/study', sampleStudy({ patient_dob: dob }));
        assert.equal(res.status, 400, `${dob}: ${res.text}`);
        assert.ok(
          res.body.data.details.some((d: Json) => d.field === 'patient_dob'),
          res.text,
        );
      }
      for (const dob of ['1900-01-01T00:00:00Z', new Date(Date.now() - 60_000).toISOString()]) {
        const res = await dr('POST', 'auth/study', sampleStudy({ patient_dob: dob }));
        assert.equal(res.status, 200, `${dob}: ${res.text}`);
      }
      const created = await dr('POST', 'auth/study', sampleStudy());
      const update = await dr('PUT', `auth/study/${created.body.data.study_id}`, {
        ...sampleStudy({ patient_dob: '2999-01-01T00:00:00Z' }),
        views: undefined,
      });
      assert.equal(update.status, 400, update.text);
    });

    test('finding 18: duplicate JSON keys are refused with 400, nested ones too; nothing is written', async () => {
      const before = await call(ctx.t.url, 'GET', '/api/v1/users?size=100', { token: ctx.admin });
      const duplicate = await call(ctx.t.url, 'POST', '/api/v1/users', {
        token: ctx.admin,
        rawBody: '{"username":"dup_user","password":"Password123","full_name":"A","full_name":"B","role_ids":["tech"]}',
      });
      assert.equal(duplicate.status, 400, duplicate.text);
      assert.ok(isDiagnosisError(duplicate.body, 400, 'ValidationError'), duplicate.text);
      assert.deepEqual(duplicate.body.error.details, [{ field: 'full_name', message: 'duplicate key' }]);
      const nested = await call(ctx.t.url, 'POST', '/dr/api/v1/auth/study', {
        token: ctx.admin,
        rawBody: JSON.stringify(sampleStudy()).replace('"procedure_id":"P0-0002"', '"procedure_id":"P0-0002","procedure_id":"P0-0003"'),
      });
      assert.equal(nested.status, 400, nested.text);
      assert.ok(
        nested.body.data.details.some((d: Json) => d.field.endsWith('procedure_id')),
        nested.text,
      );
      // The same key in sibling objects is not a duplicate.
      const siblings = await call(ctx.t.url, 'POST', '/dr/api/v1/auth/study', { token: ctx.admin, rawBody: JSON.stringify(sampleStudy()) });
      assert.equal(siblings.status, 200, siblings.text);
      const afterList = await call(ctx.t.url, 'GET', '/api/v1/users?size=100', { token: ctx.admin });
      assert.equal(afterList.body.data.pagination.total, before.body.data.pagination.total);
    });
  });

  describe(`rate limiting counts refused requests on ${dialect}`, () => {
    let t: TestServer;
    before(async () => {
      t = await startServer(dialect, { RATE_LIMIT_PER_MINUTE: '6' });
    });
    after(() => t.close());

    test('finding 17: 401, 400 and 404 answers spend the budget; the next request is 429 in the envelope', async () => {
      const answers = [
        await call(t.url, 'GET', '/api/v1/auth/me'),
        await call(t.url, 'GET', '/api/v1/auth/me', { token: 'forged' }),
        await call(t.url, 'POST', '/api/v1/auth/login', { rawBody: '{"a":1,"a":2}' }),
        await call(t.url, 'GET', '/api/v1/no/such/route'),
        await call(t.url, 'GET', '/dr/api/v1/pub/language?x=%00'),
        await call(t.url, 'GET', '/api/v1/auth/me'),
      ];
      assert.deepEqual(
        answers.map((a) => a.status),
        [401, 401, 400, 404, 400, 401],
      );
      const limited = await call(t.url, 'POST', '/api/v1/auth/login', { body: { username: 'admin', password: ADMIN_PASSWORD } });
      assert.equal(limited.status, 429, limited.text);
      assert.ok(isDiagnosisError(limited.body, 429, 'RateLimitError'), limited.text);
      assertSecurityHeaders((h) => limited.headers.get(h));
    });
  });
}

describe('TLS_CERT / TLS_KEY serve HTTPS and MQTT over WSS; HSTS only there', () => {
  let t: TestServer;
  let cert: Buffer;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'roentgen-tls-'));
  before(async () => {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        path.join(dir, 'key.pem'),
        '-out',
        path.join(dir, 'cert.pem'),
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=IP:127.0.0.1,DNS:localhost',
      ],
      { stdio: 'ignore' },
    );
    cert = fs.readFileSync(path.join(dir, 'cert.pem'));
    t = await startServer('sqlite', { TLS_CERT: path.join(dir, 'cert.pem'), TLS_KEY: path.join(dir, 'key.pem') });
  });
  after(async () => {
    await t.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const get = (url: string) =>
    new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Json }>((resolve, reject) => {
      https
        .get(url, { ca: cert }, (res) => {
          let text = '';
          res.on('data', (d: Buffer) => (text += d.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: JSON.parse(text) }));
        })
        .on('error', reject);
    });

  test('the API answers over HTTPS with HSTS; plain HTTP on that port is not served', async () => {
    assert.match(t.url, /^https:\/\//);
    const health = await get(`${t.url}/api/v1/system/health`);
    assert.equal(health.status, 200);
    assertSecurityHeaders((h) => health.headers[h] as string | undefined, true);
    const missing = await get(`${t.url}/api/v1/no/such/route`);
    assert.equal(missing.status, 404);
    assert.ok(isDiagnosisError(missing.body, 404));
    assertSecurityHeaders((h) => missing.headers[h] as string | undefined, true);
    const plain = await fetch(t.url.replace('https:', 'http:') + '/api/v1/system/health').then(
      (r) => r.status,
      () => 'refused',
    );
    assert.notEqual(plain, 200);
  });

  test('MQTT connects over WSS on /mqtt with a token', async () => {
    const access = await new Promise<string>((resolve, reject) => {
      const headers = { 'content-type': 'application/json' };
      const request = https.request(`${t.url}/api/v1/auth/login`, { method: 'POST', ca: cert, headers }, (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve(JSON.parse(text).data.access_token));
      });
      request.on('error', reject);
      request.end(JSON.stringify({ username: 'admin', password: ADMIN_PASSWORD }));
    });
    const client = await new Promise<mqtt.MqttClient>((resolve, reject) => {
      const c = mqtt.connect(`${t.url.replace('https:', 'wss:')}/mqtt`, {
        username: 'console',
        password: access,
        ca: cert,
        reconnectPeriod: 0,
        connectTimeout: 5000,
      });
      c.once('connect', () => resolve(c));
      c.once('error', (error) => {
        c.end(true);
        reject(error);
      });
    });
    assert.equal(client.connected, true);
    await client.endAsync();
  });
});
