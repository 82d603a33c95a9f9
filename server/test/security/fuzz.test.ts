// Fuzz run of every route with generated bad input: wrong types, sizes, encodings, control
// characters, malformed bodies and requests aborted mid-body. Loopback only and bounded (a fixed
// seed and a cap per operation), so it runs in the suite. Routes come from the server's own
// OpenAPI document, so a route added later is fuzzed without touching this file.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import { before, describe, test } from 'node:test';
import { ADMIN_PASSWORD, DIALECTS, call, createUser, login, withServer } from '../helpers.js';

interface OpenApiParameter {
  name: string;
  in: 'path' | 'query' | 'header' | 'cookie';
  schema?: JsonSchema;
}
interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  enum?: unknown[];
}
interface OpenApiOperation {
  parameters?: OpenApiParameter[];
  requestBody?: { content?: Record<string, { schema?: JsonSchema }> };
}
type OpenApiDocument = { paths: Record<string, Record<string, OpenApiOperation>> };

interface Probe {
  method: string;
  path: string;
  label: string;
  body?: string;
  contentType?: string;
}

const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** Strings that have broken servers before: encodings, control characters, traversal, injection, size. */
const BAD_STRINGS = [
  '',
  ' ',
  '\u0000',
  'abc\u0000def',
  'a\r\nX-Injected: 1',
  '\u001b[31m',
  '\ud800',
  '\uffff\ufffe',
  '../../../../../../../../../../etc/passwd',
  '..%2f..%2f..%2fetc%2fpasswd',
  '%c0%af',
  "' OR 1=1 --",
  '"unterminated',
  'NEAR(',
  '*',
  '<script>alert(1)</script>',
  '李^雷',
  '-1',
  '0',
  '1e309',
  '9007199254740993',
  'NaN',
  'true',
  '__proto__',
  'constructor',
  'x'.repeat(5000),
];

/** Values of the wrong type (or absurd size) for a JSON field. */
const BAD_VALUES: unknown[] = [
  null,
  -1,
  1.5,
  1e308,
  true,
  [],
  {},
  ['a', 1, null],
  JSON.parse('{"__proto__":{"admin":true}}') as unknown,
  'x'.repeat(70_000),
  '\u0000',
  '\ud800',
  '2999-12-31',
  '1800-01-01',
];

/** Whole bodies that are not what any route expects. */
const BAD_BODIES: { body: string; contentType: string }[] = [
  { body: '', contentType: 'application/json' },
  { body: 'null', contentType: 'application/json' },
  { body: '[]', contentType: 'application/json' },
  { body: '"x"', contentType: 'application/json' },
  { body: '{"a":', contentType: 'application/json' },
  { body: '{"a":1,"a":2}', contentType: 'application/json' },
  { body: '{"__proto__":{"polluted":1}}', contentType: 'application/json' },
  { body: `${'['.repeat(5000)}${']'.repeat(5000)}`, contentType: 'application/json' },
  { body: '\u0000\u0001\u0002', contentType: 'application/octet-stream' },
  {
    body: '--x\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\nPNG',
    contentType: 'multipart/form-data; boundary=x',
  },
  {
    // More fields than any multipart route takes.
    body: `${Array.from({ length: 20 }, (_, i) => `--x\r\nContent-Disposition: form-data; name="f${i}"\r\n\r\nv\r\n`).join('')}--x--\r\n`,
    contentType: 'multipart/form-data; boundary=x',
  },
  { body: 'a=1&b=2', contentType: 'application/x-www-form-urlencoded' },
];

/** Percent-encodes like encodeURIComponent, but sends a lone surrogate as its (invalid) UTF-8 bytes instead of throwing. */
function encodeBad(value: string): string {
  return value.replace(/[\ud800-\udfff]|[^\ud800-\udfff]+/g, (part) =>
    /^[\ud800-\udfff]$/.test(part) ? '%ED%A0%80' : encodeURIComponent(part),
  );
}

/** A fixed-seed generator, so a failing probe is reproducible. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

function pick<T>(random: () => number, values: readonly T[]): T {
  return values[Math.floor(random() * values.length)];
}

/** Path parameters point at records that do not exist, so a probe that gets through harms nothing seeded. */
function fillPath(template: string, override?: { name: string; value: string }): string {
  return template.replace(/\{([^}]+)\}/g, (_m, name: string) =>
    override?.name === name ? encodeBad(override.value) : name.includes('locale') ? 'zh_CN' : '999999',
  );
}

function probesFor(path: string, method: string, operation: OpenApiOperation, random: () => number, perOperation: number): Probe[] {
  const upper = method.toUpperCase();
  const probes: Probe[] = [];
  const pathParams = (operation.parameters ?? []).filter((p) => p.in === 'path');
  const queryParams = (operation.parameters ?? []).filter((p) => p.in === 'query');
  const jsonSchema = operation.requestBody?.content?.['application/json']?.schema;
  for (const param of pathParams) {
    for (let i = 0; i < 3; i++) {
      const value = pick(random, BAD_STRINGS);
      probes.push({
        method: upper,
        path: fillPath(path, { name: param.name, value }),
        label: `path ${param.name}=${JSON.stringify(value.slice(0, 40))}`,
      });
    }
  }
  for (const param of queryParams) {
    // A NUL byte always (it reached SQLite's FTS parser once), plus one random bad string.
    probes.push({
      method: upper,
      path: `${fillPath(path)}?${encodeURIComponent(param.name)}=abc%00`,
      label: `query ${param.name}=abc NUL`,
    });
    const value = pick(random, BAD_STRINGS);
    probes.push({
      method: upper,
      path: `${fillPath(path)}?${encodeURIComponent(param.name)}=${encodeBad(value)}`,
      label: `query ${param.name}=${JSON.stringify(value.slice(0, 40))}`,
    });
  }
  // Repeated and unknown query keys, and a raw bad percent-encoding the URL parser must refuse cleanly.
  probes.push({ method: upper, path: `${fillPath(path)}?page=1&page=2&size=-5&sort=__proto__`, label: 'repeated query keys' });
  probes.push({ method: upper, path: `${fillPath(path)}?q=%E0%A4%A`, label: 'broken percent-encoding in query' });
  if (WRITE_METHODS.has(upper)) {
    const properties = Object.keys(jsonSchema?.properties ?? {});
    for (const property of properties) {
      const value = pick(random, BAD_VALUES);
      probes.push({
        method: upper,
        path: fillPath(path),
        body: JSON.stringify({ [property]: value }),
        contentType: 'application/json',
        label: `body ${property}=${JSON.stringify(value).slice(0, 40)}`,
      });
      // The same field wrongly typed inside an otherwise empty-string-filled body.
      const filled: Record<string, unknown> = Object.fromEntries(properties.map((p) => [p, pick(random, BAD_STRINGS)]));
      probes.push({
        method: upper,
        path: fillPath(path),
        body: JSON.stringify(filled),
        contentType: 'application/json',
        label: 'body filled with bad strings',
      });
    }
    for (const bad of BAD_BODIES)
      probes.push({ method: upper, path: fillPath(path), ...bad, label: `raw body ${JSON.stringify(bad.body.slice(0, 30))}` });
  }
  // Bounded: a random subset when an operation has many fields.
  while (probes.length > perOperation) probes.splice(Math.floor(random() * probes.length), 1);
  return probes;
}

/** Sends headers promising more body than arrives, then hangs up: the server must neither crash nor half-write. */
function abortMidBody(base: string, method: string, path: string, token: string): Promise<void> {
  const url = new URL(base);
  return new Promise((resolve) => {
    const socket = net.connect(Number(url.port), url.hostname, () => {
      socket.write(
        `${method} ${path} HTTP/1.1\r\nHost: ${url.host}\r\nAuthorization: Bearer ${token}\r\n` +
          `Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"username":"half`,
      );
      setTimeout(() => {
        socket.destroy();
        resolve();
      }, 20);
    });
    socket.on('error', () => resolve());
  });
}

for (const dialect of DIALECTS) {
  describe(`fuzz every route on ${dialect}`, () => {
    const ctx = withServer(dialect);
    let token: string;
    let operations: { path: string; method: string; operation: OpenApiOperation }[] = [];
    before(async () => {
      // A separate administrator, so a probe that revokes or edits the seeded admin cannot stop the run.
      const fuzzAdmin = await createUser(ctx.t.url, ctx.admin, ['admin'], `Fz-${randomUUID()}`);
      token = fuzzAdmin.token;
      const spec = await call(ctx.t.url, 'GET', '/docs/json');
      assert.equal(spec.status, 200);
      const document = spec.body as OpenApiDocument;
      operations = Object.entries(document.paths).flatMap(([path, methods]) =>
        Object.entries(methods)
          .filter(([method]) => ['get', 'post', 'put', 'patch', 'delete'].includes(method))
          // Logging out would end the run's own session; it is covered by the auth suites.
          .filter(() => !path.endsWith('/logout'))
          .map(([method, operation]) => ({ path, method, operation })),
      );
      assert.ok(operations.length >= 50, `only ${operations.length} operations in the OpenAPI document`);
    });

    test('no probe gets a 5xx, every refusal is an envelope with security headers, every accepted write is audited', async () => {
      const random = prng(dialect === 'sqlite' ? 15 : 16);
      const failures: string[] = [];
      const acceptedWrites: { requestId: string; label: string }[] = [];
      let sent = 0;
      for (const { path, method, operation } of operations) {
        for (const probe of probesFor(path, method, operation, random, 24)) {
          const requestId = `fz_${randomUUID().replace(/-/g, '')}`;
          const headers: Record<string, string> = { 'x-request-id': requestId };
          if (probe.contentType) headers['content-type'] = probe.contentType;
          let res;
          try {
            res = await call(ctx.t.url, probe.method, probe.path, { token, rawBody: probe.body, headers });
          } catch (error) {
            failures.push(`${probe.method} ${path} [${probe.label}]: request failed: ${String(error)}`);
            continue;
          }
          sent++;
          const where = `${probe.method} ${path} [${probe.label}] → ${res.status}`;
          if (res.status >= 500 && res.status !== 501) failures.push(`${where}: ${res.text.slice(0, 200)}`);
          if (res.status >= 400) {
            const envelope = res.body as Record<string, unknown> | undefined;
            const isEnvelope = envelope !== undefined && (envelope.success === false || /^0x[0-9A-F]{6}$/.test(String(envelope.code)));
            if (!isEnvelope) failures.push(`${where}: not an error envelope: ${res.text.slice(0, 120)}`);
          }
          if (!res.headers.get('x-content-type-options')) failures.push(`${where}: no security headers`);
          if (res.status === 401) {
            // 401 is a fair answer to a bad refresh token or password; it is a failure only if the run's own token died.
            const alive = await call(ctx.t.url, 'GET', '/api/v1/auth/me', { token });
            if (alive.status === 401) {
              failures.push(`${where}: the run's token stopped working`);
              break;
            }
          }
          if (WRITE_METHODS.has(probe.method) && res.status < 400) acceptedWrites.push({ requestId, label: where });
        }
        await abortMidBody(ctx.t.url, method.toUpperCase(), fillPath(path), token);
      }
      assert.ok(sent >= 500, `only ${sent} probes sent`);
      // Still alive and answering after the run (including the aborted bodies).
      const health = await call(ctx.t.url, 'GET', '/api/v1/system/health', { token: ctx.admin });
      assert.equal(health.status, 200, health.text);
      for (const write of acceptedWrites) {
        const rows = await ctx.t.server.db.kysely.selectFrom('audit_logs').select('id').where('request_id', '=', write.requestId).execute();
        if (rows.length === 0) failures.push(`${write.label}: accepted write without an audit row`);
      }
      assert.deepEqual(failures, [], `${failures.length} of ${sent} probes failed:\n${failures.slice(0, 60).join('\n')}`);
    });

    test('the seeded admin still logs in after the run', async () => {
      await login(ctx.t.url, 'admin', ADMIN_PASSWORD);
    });
  });
}
