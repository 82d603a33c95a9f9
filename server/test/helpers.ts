import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before } from 'node:test';
import pg from 'pg';
import { createServer, type Server } from '../src/app.js';
import { loadConfig } from '../src/config.js';

// Shared with the benches (server/test-support holds no test files, so importing it registers no hooks).
export { freePort } from '../test-support/net.js';
export { sampleStudy } from '../test-support/sample-study.js';

export type Dialect = 'sqlite' | 'postgres';

export const PG_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
// Strong enough for the password policy (zxcvbn score 3+, 10+ characters, not the username).
export const ADMIN_PASSWORD = 'Admin-Test-Pass-42';
export const SEED_PASSWORD = 'Seeded-Test-Pass-42';
/** The password createUser gives new accounts unless told otherwise. */
export const USER_PASSWORD = 'Test-User-Pass-42';

/**
 * Every integration suite runs on both databases. PostgreSQL is required (CI starts it); set
 * ROENTGEN_TEST_SQLITE_ONLY=1 to run SQLite alone on a machine without it.
 */
export const DIALECTS: Dialect[] = process.env.ROENTGEN_TEST_SQLITE_ONLY === '1' ? ['sqlite'] : ['sqlite', 'postgres'];

export interface TestServer {
  url: string;
  server: Server;
  dataDir: string;
  env: Record<string, string>;
  close(): Promise<void>;
}

/** Environment for a fresh, isolated server: its own data dir and, on PostgreSQL, its own schema. */
export function isolatedEnv(dialect: Dialect, extra: Record<string, string> = {}): Record<string, string> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'roentgen-test-'));
  return {
    ROENTGEN_DATA_DIR: dataDir,
    HOST: '127.0.0.1',
    PORT: '0',
    DICOM_PORT: '0',
    LOG_LEVEL: 'silent',
    ROENTGEN_ADMIN_PASSWORD: ADMIN_PASSWORD,
    ROENTGEN_SEED_USER_PASSWORD: SEED_PASSWORD,
    RATE_LIMIT_PER_MINUTE: '100000',
    GUEST_TOKENS_PER_MINUTE: '100000',
    DETECTOR_ROWS: '512',
    DETECTOR_COLUMNS: '512',
    // Test servers are many and short-lived: readying the exposure path (two threads) is a cost
    // they need not pay; server/test/exposure-warm-up.test.ts turns it on.
    EXPOSURE_WARM_UP: '0',
    ...(dialect === 'postgres' ? { DATABASE_URL: PG_URL, DATABASE_SCHEMA: `t_${randomUUID().replace(/-/g, '').slice(0, 20)}` } : {}),
    ...extra,
  };
}

export async function dropSchema(schema: string | undefined): Promise<void> {
  if (!schema) return;
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
}

export async function startServer(dialect: Dialect, extra: Record<string, string> = {}): Promise<TestServer> {
  const env = isolatedEnv(dialect, extra);
  const config = loadConfig(env);
  const server = await createServer(config);
  const address = await server.app.listen({ host: '127.0.0.1', port: 0 });
  return {
    url: address,
    server,
    dataDir: env.ROENTGEN_DATA_DIR,
    env,
    async close() {
      await server.close();
      await dropSchema(env.DATABASE_SCHEMA);
      fs.rmSync(env.ROENTGEN_DATA_DIR, { recursive: true, force: true });
    },
  };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read arbitrary JSON shapes
export interface ApiResponse<T = any> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

export interface RequestOptions {
  token?: string;
  body?: unknown;
  /** Sent as-is (for malformed JSON tests). */
  rawBody?: string;
  headers?: Record<string, string>;
}

export async function call(base: string, method: string, urlPath: string, options: RequestOptions = {}): Promise<ApiResponse> {
  const headers: Record<string, string> = { ...(options.headers ?? {}) };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  let body: string | undefined;
  if (options.rawBody !== undefined) body = options.rawBody;
  else if (options.body !== undefined) body = JSON.stringify(options.body);
  if (body !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type'))
    headers['content-type'] = 'application/json';
  const response = await fetch(`${base}${urlPath}`, { method, headers, body });
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status: response.status, headers: response.headers, body: parsed, text };
}

/** Logs in through the diagnosis face and returns the access token. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- response JSON
export async function login(base: string, username: string, password: string): Promise<{ token: string; refresh: string; body: any }> {
  const res = await call(base, 'POST', '/api/v1/auth/login', { body: { username, password } });
  if (res.status !== 200) throw new Error(`login ${username} failed: ${res.status} ${res.text}`);
  return { token: res.body.data.access_token, refresh: res.body.data.refresh_token, body: res.body };
}

/** Creates a user with the given roles through the API and returns its id and token. */
export async function createUser(
  base: string,
  adminToken: string,
  roles: string[],
  password = USER_PASSWORD,
): Promise<{ id: number; username: string; token: string }> {
  const username = `u_${randomUUID().slice(0, 8)}`;
  const res = await call(base, 'POST', '/api/v1/users', {
    token: adminToken,
    body: { username, password, full_name: `Test ${username}`, role_ids: roles },
  });
  if (res.status !== 201) throw new Error(`create user failed: ${res.status} ${res.text}`);
  const { token } = await login(base, username, password);
  return { id: res.body.data.id, username, token };
}

/** Asserts the diagnosis error envelope and returns it. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- response JSON
export function isDiagnosisError(body: any, status: number, type?: string): boolean {
  return (
    body?.success === false &&
    body.code === status &&
    typeof body.message === 'string' &&
    typeof body.request_id === 'string' &&
    typeof body.timestamp === 'string' &&
    (type === undefined || body.error?.type === type) &&
    !('stack' in body)
  );
}

/** Asserts the DR error envelope with a hex code. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- response JSON
export function isDrError(body: any, code?: string): boolean {
  return (
    typeof body?.code === 'string' &&
    /^0x[0-9A-F]{6}$/.test(body.code) &&
    body.code !== '0x000000' &&
    typeof body.description === 'string' &&
    typeof body.solution === 'string' &&
    (code === undefined || body.code === code)
  );
}

export interface ServerContext {
  t: TestServer;
  /** An access token of the seeded admin. */
  admin: string;
}

/** Starts a server for the enclosing suite (and stops it after), with an admin token ready. */
export function withServer(dialect: Dialect, extra: Record<string, string> = {}): ServerContext {
  const ctx = {} as ServerContext;
  before(async () => {
    ctx.t = await startServer(dialect, extra);
    ctx.admin = (await login(ctx.t.url, 'admin', ADMIN_PASSWORD)).token;
  });
  after(() => ctx.t.close());
  return ctx;
}

/** Starts `npm start`'s entry point as a real process and waits until it listens. */
export function startProcess(
  env: Record<string, string>,
): Promise<{ url: string; stop: () => Promise<number | null>; kill: () => Promise<void>; output: () => string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/src/main.ts'], {
    env: { ...process.env, ...env, LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => {
    output += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    output += d.toString();
  });
  return new Promise((resolve, reject) => {
    // Generous: a loaded 2-core machine has taken over 30 s to start two servers at once. A server
    // that did not listen in time is killed, so it cannot keep the test process alive.
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`no listen within 90 s:\n${output}`));
    }, 90_000);
    const check = () => {
      const match = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve({
          url: match[1],
          output: () => output,
          stop: () =>
            new Promise((done) => {
              if (child.exitCode !== null) done(child.exitCode);
              else {
                child.once('exit', (code) => done(code));
                child.kill('SIGTERM');
              }
            }),
          kill: () =>
            new Promise((done) => {
              if (child.exitCode !== null || child.signalCode !== null) done();
              else {
                child.once('exit', () => done());
                child.kill('SIGKILL');
              }
            }),
        });
      }
    };
    child.stdout.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited ${code}:\n${output}`));
    });
  });
}

/** Polls `probe` every 100 ms until it returns something other than undefined. */
export async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
