/**
 * Load benchmark (issue 16): the DR console's mixed traffic from many concurrent clients, on
 * SQLite and on PostgreSQL in the same run. Each database gets a fresh server process (`npm
 * start`'s entry point, so the load generator does not share its event loop), a fresh data
 * directory and, on PostgreSQL, a fresh schema; studies are seeded through the API, then every
 * client loops over the mix for the duration:
 *
 *   40 % worklist page · 20 % study detail · 20 % procedure list · 10 % registration · 10 % name search
 *
 * Clients share `--sessions` logins (a console runs several requests at once on one session).
 * The rate limit is raised through RATE_LIMIT_PER_MINUTE. Which database goes first alternates
 * from run to run; the ratio PostgreSQL/SQLite of requests per second is printed per run and as
 * min/median/max over the runs.
 *
 *   node --import tsx bench/load.ts [--runs 3] [--clients 100] [--duration 40] [--studies 2000]
 *                                   [--sessions 10] [--dialects sqlite,postgres] [--pool N (DATABASE_POOL_MAX)]
 *                                   [--waits]
 *
 * Target: PostgreSQL ≥ 0.7× SQLite's requests per second (median over the runs), 0 errors on
 * both; the last line says PASS or FAIL. Per-kind p50/p95 are printed too: clients are a closed
 * loop, so a kind that queues (registrations, behind a lock held until COMMIT) costs throughput.
 * `--waits` samples pg_stat_activity during the PostgreSQL run and prints where its backends wait,
 * and has PostgreSQL log every lock wait over 100 ms (log_lock_waits) with the statement waiting.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { freePort } from '../server/test-support/net.js';
import { sampleStudy } from '../server/test-support/sample-study.js';
import { benchServerEnv } from './support/server-env.js';

const args = new Map(
  process.argv
    .slice(2)
    .map((a, i, all) => [a, all[i + 1]] as const)
    .filter(([a]) => a.startsWith('--')),
);
const RUNS = Number(args.get('--runs') ?? 3);
const CLIENTS = Number(args.get('--clients') ?? 100);
const DURATION_S = Number(args.get('--duration') ?? 40);
const STUDIES = Number(args.get('--studies') ?? 2000);
const SESSIONS = Math.max(1, Math.min(CLIENTS, Number(args.get('--sessions') ?? 10)));
const POOL = args.get('--pool');
const DIALECTS = (args.get('--dialects') ?? 'sqlite,postgres').split(',') as Dialect[];
const PG_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const PASSWORD = 'Bench-Load-Pass-42';
const TARGET = 0.7;
/** Sample PostgreSQL's pg_stat_activity / pg_locks during the PostgreSQL run and print where backends wait. */
const WAITS = process.argv.includes('--waits');

type Dialect = 'sqlite' | 'postgres';
type Kind = 'worklist' | 'detail' | 'procedures' | 'register' | 'search';

const MIX: [Kind, number][] = [
  ['worklist', 40],
  ['detail', 20],
  ['procedures', 20],
  ['register', 10],
  ['search', 10],
];
const SURNAMES = ['张', '王', '李', '赵', '刘', '陈', '杨', '黄', '周', '吴'];
const GIVEN = ['伟', '芳', '娜', '敏', '静', '丽', '强', '磊', '军', '洋'];

interface Result {
  dialect: Dialect;
  requests: number;
  errors: number;
  firstErrors: string[];
  seconds: number;
  latencies: Float64Array;
  byKind: Map<Kind, number[]>;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });

interface Reply {
  status: number;
  body: string;
}

function request(base: URL, method: string, pathAndQuery: string, token: string | undefined, body?: unknown): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request(
      {
        host: base.hostname,
        port: base.port,
        method,
        path: pathAndQuery,
        agent,
        headers: {
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...(payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** A DR reply succeeded: HTTP 200 and the envelope's success code. */
function succeeded(reply: Reply): boolean {
  return reply.status === 200 && reply.body.includes('"code":"0x000000"');
}

function personName(i: number): string {
  return SURNAMES[i % 10] + GIVEN[Math.floor(i / 10) % 10] + GIVEN[Math.floor(i / 100) % 10];
}

interface ServerProcess {
  url: URL;
  child: ChildProcess;
  stop(): Promise<void>;
}

async function startServer(dialect: Dialect, dataDir: string, schema: string): Promise<ServerProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/src/main.ts'], {
    env: {
      ...benchServerEnv(dataDir, port, PASSWORD),
      DETECTOR_ROWS: '512',
      DETECTOR_COLUMNS: '512',
      // PGAPPNAME names the server's connections, so the wait sampler sees this run's backends only.
      ...(dialect === 'postgres' ? { DATABASE_URL: PG_URL, DATABASE_SCHEMA: schema, PGAPPNAME: schema } : { DATABASE_URL: '' }),
      // With --waits, PostgreSQL logs every lock wait over 100 ms with the statement (and trigger) that waits.
      ...(WAITS && dialect === 'postgres' ? { PGOPTIONS: '-c log_lock_waits=on -c deadlock_timeout=100ms' } : {}),
      ...(POOL ? { DATABASE_POOL_MAX: POOL } : {}),
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const url = new URL(`http://127.0.0.1:${port}`);
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${dialect} server exited ${child.exitCode}: ${stderr.slice(-2000)}`);
    try {
      const reply = await request(url, 'GET', '/api/v1/system/health', undefined);
      if (reply.status > 0) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${dialect} server did not start: ${stderr.slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    url,
    child,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) {
          resolve();
          return;
        }
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

async function loginAdmin(url: URL): Promise<string> {
  const reply = await request(url, 'POST', '/api/v1/auth/login', undefined, { username: 'admin', password: PASSWORD });
  if (reply.status !== 200) throw new Error(`login: ${reply.status} ${reply.body.slice(0, 300)}`);
  return (JSON.parse(reply.body) as { data: { access_token: string } }).data.access_token;
}

function registration(i: number): Record<string, unknown> {
  return sampleStudy({ patient_id: `LD${randomUUID().slice(0, 12)}`, patient_name: personName(i), accession_number: `ACC${i}` });
}

async function register(url: URL, token: string, i: number): Promise<{ ok: boolean; studyId?: string; reply: Reply }> {
  const reply = await request(url, 'POST', '/dr/api/v1/auth/study', token, registration(i));
  if (!succeeded(reply)) return { ok: false, reply };
  return { ok: true, studyId: (JSON.parse(reply.body) as { data: { study_id: string } }).data.study_id, reply };
}

/** Registers `count` studies through the API, eight at a time; returns their study ids. */
async function seed(url: URL, token: string, count: number): Promise<string[]> {
  const ids: string[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < count) {
        const i = next++;
        const outcome = await register(url, token, i);
        if (!outcome.ok || !outcome.studyId) throw new Error(`seeding: ${outcome.reply.status} ${outcome.reply.body.slice(0, 300)}`);
        ids.push(outcome.studyId);
      }
    }),
  );
  return ids;
}

function pick(random: number): Kind {
  let acc = 0;
  for (const [kind, weight] of MIX) {
    acc += weight;
    if (random * 100 < acc) return kind;
  }
  return MIX[0][0];
}

function percentile(sorted: Float64Array | number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function drive(url: URL, tokens: string[], studyIds: string[]): Promise<Omit<Result, 'dialect'>> {
  const today = new Date().toISOString().slice(0, 10);
  const latencies: number[] = [];
  const byKind = new Map<Kind, number[]>(MIX.map(([k]) => [k, []]));
  const firstErrors: string[] = [];
  let errors = 0;
  let serial = 1_000_000;
  const started = performance.now();
  const endAt = started + DURATION_S * 1000;
  const one = async (kind: Kind, token: string, n: number): Promise<Reply> => {
    switch (kind) {
      case 'worklist':
        return request(url, 'GET', `/dr/api/v1/auth/study/?start_time=${today}T00:00:00.000Z&page=${1 + (n % 5)}&page_size=20`, token);
      case 'detail':
        return request(url, 'GET', `/dr/api/v1/auth/study/${studyIds[n % studyIds.length]}`, token);
      case 'procedures':
        return request(url, 'GET', `/dr/api/v1/auth/protocol/procedure?patient_type=Human&page=1&page_size=50`, token);
      case 'register':
        return request(url, 'POST', '/dr/api/v1/auth/study', token, registration(serial++));
      case 'search':
        return request(
          url,
          'GET',
          `/dr/api/v1/auth/study/?name=${encodeURIComponent(personName(n).slice(0, 2))}&page=1&page_size=20`,
          token,
        );
    }
  };
  await Promise.all(
    Array.from({ length: CLIENTS }, async (_, client) => {
      const token = tokens[client % tokens.length];
      let n = client * 7919;
      while (performance.now() < endAt) {
        const kind = pick(Math.random());
        n += 1;
        const t0 = performance.now();
        let ok = false;
        let what = '';
        try {
          const reply = await one(kind, token, n);
          ok = succeeded(reply);
          if (!ok) what = `${kind}: ${reply.status} ${reply.body.slice(0, 200)}`;
        } catch (error) {
          what = `${kind}: ${(error as Error).message}`;
        }
        const ms = performance.now() - t0;
        latencies.push(ms);
        byKind.get(kind)?.push(ms);
        if (!ok) {
          errors += 1;
          if (firstErrors.length < 5) firstErrors.push(what);
        }
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const sorted = Float64Array.from(latencies).sort();
  for (const list of byKind.values()) list.sort((a, b) => a - b);
  return { requests: latencies.length, errors, firstErrors, seconds, latencies: sorted, byKind };
}

/**
 * Samples this run's backends every 100 ms while the load runs: what each is doing (state, wait
 * event, the lock it waits for and the statement). PostgreSQL's own account of where the time goes.
 */
function sampleWaits(appName: string): { stop(): Promise<string> } {
  const client = new pg.Client({ connectionString: PG_URL });
  const counts = new Map<string, number>();
  let samples = 0;
  const sampling = new AbortController();
  const loop = (async () => {
    await client.connect();
    while (!sampling.signal.aborted) {
      const { rows } = await client.query<{ state: string; wait: string; lock: string | null; query: string }>(
        `select coalesce(a.state, '') as state,
                coalesce(a.wait_event_type || '/' || a.wait_event, 'cpu') as wait,
                (select string_agg(distinct l.locktype || coalesce(' ' || l.relation::regclass::text, ''), ',')
                   from pg_locks l where l.pid = a.pid and not l.granted) as lock,
                left(regexp_replace(a.query, '\\s+', ' ', 'g'), 60) as query
           from pg_stat_activity a where a.application_name = $1`,
        [appName],
      );
      samples += 1;
      for (const r of rows) {
        const key = r.state === 'active' ? `active ${r.wait}${r.lock ? ` [${r.lock}]` : ''} · ${r.query}` : `${r.state} ${r.wait}`;
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return {
    async stop() {
      sampling.abort();
      await loop;
      await client.end();
      const lines = [...counts]
        .sort((a, b) => b[1] - a[1])
        .slice(0, 14)
        .map(([k, n]) => `    ${(n / samples).toFixed(2).padStart(6)} backends  ${k}\n`);
      return `  PostgreSQL backends per sample (${samples} samples):\n${lines.join('')}`;
    },
  };
}

async function dropSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    await client.query(`drop schema if exists "${schema}" cascade`);
  } finally {
    await client.end();
  }
}

async function runOne(dialect: Dialect): Promise<Result> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'roentgen-load-'));
  const schema = `load_${randomUUID().replace(/-/g, '').slice(0, 16)}`;
  const server = await startServer(dialect, dataDir, schema);
  try {
    const admin = await loginAdmin(server.url);
    const seedStarted = performance.now();
    const studyIds = await seed(server.url, admin, STUDIES);
    const tokens = [admin];
    while (tokens.length < SESSIONS) tokens.push(await loginAdmin(server.url));
    process.stdout.write(
      `  ${dialect}: ${STUDIES} studies seeded in ${((performance.now() - seedStarted) / 1000).toFixed(1)} s, ${SESSIONS} sessions, ${CLIENTS} clients, ${DURATION_S} s\n`,
    );
    const sampler = WAITS && dialect === 'postgres' ? sampleWaits(schema) : undefined;
    const result = await drive(server.url, tokens, studyIds);
    if (sampler) process.stdout.write(await sampler.stop());
    return { dialect, ...result };
  } finally {
    await server.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
    if (dialect === 'postgres') await dropSchema(schema);
  }
}

function rate(r: Result): number {
  return r.requests / r.seconds;
}

function describe(r: Result): string {
  const kinds = [...r.byKind].map(([k, l]) => `${k} p50 ${percentile(l, 50).toFixed(0)}/p95 ${percentile(l, 95).toFixed(0)}`).join(', ');
  return (
    `  ${r.dialect.padEnd(8)} ${rate(r).toFixed(0).padStart(5)} req/s  p50 ${percentile(r.latencies, 50).toFixed(1).padStart(6)} ms` +
    `  p95 ${percentile(r.latencies, 95).toFixed(1).padStart(6)} ms  p99 ${percentile(r.latencies, 99).toFixed(1).padStart(6)} ms` +
    `  errors ${r.errors}\n    (${kinds} ms)\n` +
    r.firstErrors.map((e) => `    error: ${e}\n`).join('')
  );
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length % 2 ? sorted[(sorted.length - 1) / 2] : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2;
}

function spread(values: number[], digits: number): string {
  const sorted = [...values].sort((a, b) => a - b);
  return `min ${sorted[0].toFixed(digits)}  median ${median(values).toFixed(digits)}  max ${sorted[sorted.length - 1].toFixed(digits)}`;
}

async function main(): Promise<void> {
  process.stdout.write(
    `Load: ${CLIENTS} clients, ${DURATION_S} s, ${STUDIES} studies, mix ${MIX.map(([k, w]) => `${w}% ${k}`).join(', ')}, ${os.cpus().length} cores\n`,
  );
  const all: Result[][] = [];
  for (let run = 0; run < RUNS; run += 1) {
    const order = run % 2 === 0 ? DIALECTS : [...DIALECTS].reverse();
    process.stdout.write(`\nrun ${run + 1}/${RUNS} (${order.join(' first, then ')})\n`);
    const results: Result[] = [];
    for (const dialect of order) {
      const result = await runOne(dialect);
      results.push(result);
      process.stdout.write(describe(result));
    }
    const sqlite = results.find((r) => r.dialect === 'sqlite');
    const postgres = results.find((r) => r.dialect === 'postgres');
    if (sqlite && postgres) process.stdout.write(`  PostgreSQL/SQLite throughput ${(rate(postgres) / rate(sqlite)).toFixed(2)}×\n`);
    all.push(results);
  }
  process.stdout.write(`\nover ${RUNS} run(s):\n`);
  for (const dialect of DIALECTS) {
    const mine = all.map((rs) => rs.find((r) => r.dialect === dialect)!);
    process.stdout.write(
      `  ${dialect.padEnd(8)} req/s ${spread(mine.map(rate), 0)} · p95 ms ${spread(
        mine.map((r) => percentile(r.latencies, 95)),
        1,
      )} · errors ${mine.reduce((s, r) => s + r.errors, 0)}\n`,
    );
  }
  if (DIALECTS.includes('sqlite') && DIALECTS.includes('postgres')) {
    const ratios = all.map((rs) => rate(rs.find((r) => r.dialect === 'postgres')!) / rate(rs.find((r) => r.dialect === 'sqlite')!));
    const errors = all.flat().reduce((s, r) => s + r.errors, 0);
    process.stdout.write(
      `  PostgreSQL/SQLite throughput ${spread(ratios, 2)}  errors ${errors}  ${median(ratios) >= TARGET && errors === 0 ? 'PASS' : 'FAIL'} (target: median ≥ ${TARGET}×, 0 errors)\n`,
    );
  }
  agent.destroy();
}

await main();
