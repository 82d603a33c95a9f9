/**
 * Worklist benchmark (issue 3): seeds studies (each with a patient, a series and two images)
 * directly in SQL, then times the filtered, paged study list and the study detail over real
 * HTTP against the running server, at 10k and at 1M studies, on SQLite and PostgreSQL.
 *
 *   node --import tsx bench/worklist.ts [--sizes 10000,1000000] [--dialects sqlite,postgres] [--requests 200]
 *
 * Target: p95 ≤ 50 ms, flat from 10k to 1M.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import pg from 'pg';
import { createServer, type Server } from '../server/src/app.js';
import { loadConfig } from '../server/src/config.js';

const args = new Map(
  process.argv
    .slice(2)
    .map((a, i, all) => [a, all[i + 1]] as const)
    .filter(([a]) => a.startsWith('--')),
);
const SIZES = (args.get('--sizes') ?? '10000,1000000').split(',').map(Number);
const DIALECTS = (args.get('--dialects') ?? 'sqlite,postgres').split(',') as ('sqlite' | 'postgres')[];
const REQUESTS = Number(args.get('--requests') ?? 200);
const PG_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const SECONDS_PER_STUDY = 31; // 1M studies span about a year, ~2,800 a day

const SURNAMES = '张王李赵刘陈杨黄周吴';
const GIVEN = '伟芳娜敏静丽强磊军洋';
const DETAILS = JSON.stringify({
  ref_physician: '',
  patient_english_name: '',
  patient_former_name: '',
  patient_size: 'Medium',
  patient_age: '045Y',
  patient_dob: '1980-01-01T00:00:00.000Z',
  patient_sex: 'M',
  sex_neutered: '',
  pregnancy_status: '',
  patient_type: 'Human',
  owner_name: '',
  chip_number: '',
  variety: '',
  is_anaesthesia: false,
  is_sedation: false,
  operator_name: '',
  weight: 70,
  thickness: 20,
  length: 175,
  comment: '',
  mwl: '',
  is_edited: false,
  portrait_status: 'NotSaved',
  portrait_file: '',
  registered_by: 1,
});

export async function seedSqlite(server: Server, from: number, to: number): Promise<void> {
  const name = `substr('${SURNAMES}', (i % 10) + 1, 1) || substr('${GIVEN}', ((i / 10) % 10) + 1, 1) || substr('${GIVEN}', ((i / 100) % 10) + 1, 1)`;
  const range = sql`with recursive n(i) as (select ${from} union all select i + 1 from n where i < ${to})`;
  const db = server.db.kysely;
  await sql`${range} insert into patients (id, patient_id, name, english_name, former_name, sex, birth_date, patient_type, sex_neutered,
    owner_name, chip_number, variety, product, created_at, updated_at)
    select i, 'BP' || i, ${sql.raw(name)}, '', '', 'M', '1980-01-01T00:00:00.000Z', 'Human', '', '', '', '', 'DROS', '2025-01-01T00:00:00.000Z', '2025-01-01T00:00:00.000Z' from n`.execute(
    db,
  );
  await sql`${range} insert into studies (id, study_id, study_instance_uid, patient_pk, product, accession_number, patient_id, patient_name,
    study_status, study_lock, study_type, study_start_datetime, study_end_datetime, create_time, updated_at, deleted_at, deleted_by, details)
    select i, printf('%015d', 250000000000000 + i), '1.2.826.0.1.3680043.10.999.' || i, i, 'DROS', 'ACC' || i, 'BP' || i, ${sql.raw(name)},
      case when i % 10 < 7 then 'Completed' when i % 10 < 9 then 'InProgress' else 'Arrived' end, 'Unlocked', 'Normal',
      strftime('%Y-%m-%dT%H:%M:%fZ', unixepoch('now') - ((${to} - i) * ${SECONDS_PER_STUDY}), 'unixepoch'), null,
      '2025-01-01T00:00:00.000Z', '2025-01-01T00:00:00.000Z', case when i % 100 = 0 then '2025-01-01T00:00:00.000Z' end, null, ${DETAILS}
    from n`.execute(db);
  await sql`${range} insert into series (id, series_instance_uid, study_pk, procedure_id, body_part, performed_datetime, protocol_code_meaning, sort, product)
    select i, '1.2.826.0.1.3680043.10.999.' || i || '.1', i, 'P0-0044', 'Human_CHEST', null, '胸部正侧位', 1, 'DROS' from n`.execute(db);
  await sql`${range} insert into images (id, sop_instance_uid, series_pk, study_pk, view_id, view_description, secondary_sop_uid, image_file_path,
    acquisition_mode, expose_status, judged_status, send_status, export_status, storage_status, acquisition_context, img_proc_context, sort, product, created_at)
    select 2 * i + k, '1.2.826.0.1.3680043.10.999.' || i || '.1.' || k, i, i, 'View_DX_T_A_CH_PA_00', '胸部后前位', '', '', 'RAD',
      'Exposed', 'Accept', 'Unsent', 'NotExported', 'Saved', null, null, k + 1, 'DROS', '2025-01-01T00:00:00.000Z'
    from n cross join (select 0 as k union all select 1)`.execute(db);
  await sql`analyze`.execute(db);
}

export async function seedPostgres(server: Server, from: number, to: number): Promise<void> {
  const name = `substr('${SURNAMES}', (i % 10)::int + 1, 1) || substr('${GIVEN}', ((i / 10) % 10)::int + 1, 1) || substr('${GIVEN}', ((i / 100) % 10)::int + 1, 1)`;
  const n = sql`generate_series(${from}::bigint, ${to}::bigint) as i`;
  // A bulk load skips the row triggers (a million updates of one counter row in one transaction
  // is quadratic) and rebuilds what they keep with set-based SQL afterwards, as an import would.
  await server.db.kysely.connection().execute(async (db) => {
    await sql`set session_replication_role = replica`.execute(db);
    await sql`insert into patients (id, patient_id, name, english_name, former_name, sex, birth_date, patient_type, sex_neutered,
      owner_name, chip_number, variety, product, created_at, updated_at)
      select i, 'BP' || i, ${sql.raw(name)}, '', '', 'M', '1980-01-01T00:00:00.000Z', 'Human', '', '', '', '', 'DROS', '2025-01-01T00:00:00.000Z', '2025-01-01T00:00:00.000Z' from ${n}`.execute(
      db,
    );
    await sql`insert into studies (id, study_id, study_instance_uid, patient_pk, product, accession_number, patient_id, patient_name,
      study_status, study_lock, study_type, study_start_datetime, study_end_datetime, create_time, updated_at, deleted_at, deleted_by, details)
      select i, lpad((250000000000000 + i)::text, 15, '0'), '1.2.826.0.1.3680043.10.999.' || i, i, 'DROS', 'ACC' || i, 'BP' || i, ${sql.raw(name)},
        case when i % 10 < 7 then 'Completed' when i % 10 < 9 then 'InProgress' else 'Arrived' end, 'Unlocked', 'Normal',
        to_char((now() - make_interval(secs => (${to} - i) * ${SECONDS_PER_STUDY})) at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), null,
        '2025-01-01T00:00:00.000Z', '2025-01-01T00:00:00.000Z', case when i % 100 = 0 then '2025-01-01T00:00:00.000Z' end, null, ${DETAILS}
      from ${n}`.execute(db);
    await sql`insert into series (id, series_instance_uid, study_pk, procedure_id, body_part, performed_datetime, protocol_code_meaning, sort, product)
      select i, '1.2.826.0.1.3680043.10.999.' || i || '.1', i, 'P0-0044', 'Human_CHEST', null, '胸部正侧位', 1, 'DROS' from ${n}`.execute(
      db,
    );
    await sql`insert into images (id, sop_instance_uid, series_pk, study_pk, view_id, view_description, secondary_sop_uid, image_file_path,
      acquisition_mode, expose_status, judged_status, send_status, export_status, storage_status, acquisition_context, img_proc_context, sort, product, created_at)
      select 2 * i + k, '1.2.826.0.1.3680043.10.999.' || i || '.1.' || k, i, i, 'View_DX_T_A_CH_PA_00', '胸部后前位', '', '', 'RAD',
        'Exposed', 'Accept', 'Unsent', 'NotExported', 'Saved', null, null, k + 1, 'DROS', '2025-01-01T00:00:00.000Z'
      from ${n} cross join (values (0), (1)) as t(k)`.execute(db);
    await sql`set session_replication_role = origin`.execute(db);
    await sql`delete from study_counts`.execute(db);
    await sql`insert into study_counts select case when deleted_at is null then 0 else 1 end, study_status, count(*) from studies group by 1, 2`.execute(
      db,
    );
    await sql`insert into study_name_grams
      select distinct substr(lower(patient_name), k, len), id, case when deleted_at is null then 0 else 1 end, study_start_datetime, study_status
      from studies, generate_series(1, char_length(patient_name)) as k, (values (1), (2)) as l(len)
      where k + len - 1 <= char_length(patient_name) and id between ${from} and ${to} on conflict do nothing`.execute(db);
    for (const table of ['patients', 'studies', 'series', 'images']) {
      await sql`select setval(pg_get_serial_sequence(${table}, 'id'), (select max(id) from ${sql.table(table)}))`.execute(db);
    }
    // A live database is vacuumed by autovacuum; bulk-loaded rows need it for index-only scans.
    await sql`vacuum analyze`.execute(db);
  });
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function time(url: string, token: string, paths: (i: number) => string): Promise<{ p50: number; p95: number }> {
  const samples: number[] = [];
  for (let i = 0; i < REQUESTS + 10; i += 1) {
    const started = performance.now();
    const res = await fetch(`${url}${paths(i)}`, { headers: { authorization: `Bearer ${token}` } });
    const body = (await res.json()) as { code: string };
    if (res.status !== 200 || body.code !== '0x000000') throw new Error(`${paths(i)}: ${res.status} ${JSON.stringify(body).slice(0, 200)}`);
    if (i >= 10) samples.push(performance.now() - started); // the first ten warm caches
  }
  samples.sort((a, b) => a - b);
  return { p50: percentile(samples, 50), p95: percentile(samples, 95) };
}

function liveId(n: number): number {
  return n % 100 === 0 ? n - 1 : n;
}

function queries(total: number): Record<string, (i: number) => string> {
  const day = (offsetDays: number) => new Date(Date.now() - offsetDays * 86_400_000).toISOString().slice(0, 10);
  return {
    'worklist today (status Arrived,InProgress)': (i) =>
      `/dr/api/v1/auth/study/?status=Arrived,InProgress&start_time=${day(0)}T00:00:00.000%2B08:00&page=${1 + (i % 3)}&page_size=20`,
    'list, last 7 days, page 1-5': (i) =>
      `/dr/api/v1/auth/study/?start_time=${day(7)}T00:00:00.000%2B08:00&page=${1 + (i % 5)}&page_size=20`,
    'name fuzzy (3 characters)': (i) =>
      `/dr/api/v1/auth/study/?name=${encodeURIComponent(SURNAMES[i % 10] + GIVEN[(i * 7) % 10] + GIVEN[(i * 3) % 10])}&page=1&page_size=20`,
    'name fuzzy (2 characters)': (i) =>
      `/dr/api/v1/auth/study/?name=${encodeURIComponent(SURNAMES[i % 10] + GIVEN[(i * 7) % 10])}&page=1&page_size=20`,
    'acc_no fuzzy': (i) => `/dr/api/v1/auth/study/?acc_no=ACC${1 + ((i * 7919) % total)}&page=1&page_size=20`,
    'id fuzzy (study or patient id)': (i) => `/dr/api/v1/auth/study/?id=BP${1 + ((i * 104729) % total)}&page=1&page_size=20`,
    'unfiltered, page 1': () => '/dr/api/v1/auth/study/?page=1&page_size=20',
    // Every hundredth seeded study is in the recycle bin; ask for live ones.
    'detail (series and images)': (i) =>
      `/dr/api/v1/auth/study/${String(250000000000000 + liveId(1 + ((i * 7919) % total))).padStart(15, '0')}`,
  };
}

async function run(dialect: 'sqlite' | 'postgres'): Promise<void> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'roentgen-bench-'));
  const schema = `bench_${Date.now()}`;
  const env = {
    ROENTGEN_DATA_DIR: dataDir,
    DICOM_PORT: '0',
    LOG_LEVEL: 'silent',
    ROENTGEN_ADMIN_PASSWORD: 'Bench-Console-Pass-42',
    RATE_LIMIT_PER_MINUTE: '1000000',
    ...(dialect === 'postgres' ? { DATABASE_URL: PG_URL, DATABASE_SCHEMA: schema } : {}),
  };
  const server = await createServer(loadConfig(env));
  try {
    const url = await server.app.listen({ host: '127.0.0.1', port: 0 });
    const login = await fetch(`${url}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password: 'Bench-Console-Pass-42' }),
    });
    const token = ((await login.json()) as { data: { access_token: string } }).data.access_token;
    let seeded = 0;
    for (const size of SIZES) {
      const started = performance.now();
      // Seed ids far from the ones registration uses; the bench only reads.
      await (dialect === 'sqlite' ? seedSqlite : seedPostgres)(server, seeded + 1, size);
      process.stdout.write(
        `\n${dialect}: ${size.toLocaleString('en')} studies (+${(size - seeded).toLocaleString('en')} seeded in ${((performance.now() - started) / 1000).toFixed(1)} s)\n`,
      );
      seeded = size;
      for (const [label, paths] of Object.entries(queries(size))) {
        const { p50, p95 } = await time(url, token, paths);
        const verdict = p95 <= 50 ? 'ok' : 'OVER TARGET';
        process.stdout.write(
          `  ${label.padEnd(44)} p50 ${p50.toFixed(1).padStart(6)} ms   p95 ${p95.toFixed(1).padStart(6)} ms   ${verdict}\n`,
        );
      }
    }
  } finally {
    await server.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
    if (dialect === 'postgres') {
      const client = new pg.Client({ connectionString: PG_URL });
      await client.connect();
      await client.query(`drop schema if exists "${schema}" cascade`);
      await client.end();
    }
  }
}

if (process.argv[1]?.endsWith('worklist.ts')) for (const dialect of DIALECTS) await run(dialect);
