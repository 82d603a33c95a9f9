import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createDecipheriv, createHash, randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { decodeJwt, SignJWT } from 'jose';
import sharp from 'sharp';
import { createServer, type Server } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { openDatabase } from '../../src/db/index.js';
import { DataDirLockedError } from '../../src/storage/data-dir.js';
import { ADMIN_PASSWORD, DIALECTS, call, dropSchema, isolatedEnv, login, sampleStudy, startProcess } from '../helpers.js';

/** A server of `env` in this process, listening; close() stops it and keeps its data. */
async function boot(env: Record<string, string>): Promise<{ server: Server; url: string }> {
  const server = await createServer(loadConfig(env));
  return { server, url: await server.app.listen({ host: '127.0.0.1', port: 0 }) };
}

const mode = (file: string) => fs.statSync(file).mode & 0o777;

/** A token like `real` (same claims) signed with `secret` and valid for ten years: the forgery of finding 13. */
async function forge(real: string, secret: string): Promise<string> {
  const claims = decodeJwt(real);
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ id: claims.id, name: claims.name, typ: claims.typ, ver: claims.ver, sid: claims.sid })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setJti(randomUUID())
    .setIssuedAt(now)
    .setExpirationTime(now + 10 * 365 * 24 * 3600)
    .sign(new TextEncoder().encode(secret));
}

/** Opens an `enc:v1:` value with the key from the key file (what only the key holder can do). */
function unseal(name: string, stored: string, keyFile: string): string {
  const key = Buffer.from(fs.readFileSync(keyFile, 'utf8').trim(), 'base64');
  const [iv, tag, sealed] = stored.replace(/^enc:v1:/, '').split('.') as [string, string, string];
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'))
    .setAAD(Buffer.from(name))
    .setAuthTag(Buffer.from(tag, 'base64url'));
  return Buffer.concat([decipher.update(Buffer.from(sealed, 'base64url')), decipher.final()]).toString('utf8');
}

async function storedSecret(env: Record<string, string>, name: string): Promise<string> {
  const db = await openDatabase({ dataDir: env.ROENTGEN_DATA_DIR, databaseUrl: env.DATABASE_URL, databaseSchema: env.DATABASE_SCHEMA });
  try {
    return (await db.kysely.selectFrom('server_secrets').select('value').where('name', '=', name).executeTakeFirstOrThrow()).value;
  } finally {
    await db.close();
  }
}

/** The bytes of the SQLite database and its WAL, where a reader of a copied data directory would look. */
function sqliteBytes(dataDir: string): Buffer {
  const files = ['roentgen.sqlite', 'roentgen.sqlite-wal'].map((f) => path.join(dataDir, f)).filter((f) => fs.existsSync(f));
  return Buffer.concat(files.map((f) => fs.readFileSync(f)));
}

const rotateJwt = (env: Record<string, string>) =>
  new Promise<string>((resolve, reject) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'server/src/cli/rotate-jwt.ts'],
      { env: { ...process.env, ...env } },
      (error, stdout, stderr) => (error ? reject(new Error(`${stdout}${stderr}`)) : resolve(stdout)),
    );
  });

const me = (url: string, token: string) => call(url, 'GET', '/api/v1/auth/me', { token });

for (const dialect of DIALECTS) {
  describe(`finding 11: one process per data directory on ${dialect}`, () => {
    test(
      'a second server on the same data directory exits non-zero naming it; after kill -9 of the first a new one starts',
      { timeout: 240_000 },
      async () => {
        const env = isolatedEnv(dialect);
        try {
          const first = await startProcess(env);
          await assert.rejects(startProcess(env), (error: Error) => {
            assert.match(error.message, /^exited 2:/);
            assert.ok(
              error.message.includes(`another Roentgen process is using the data directory ${env.ROENTGEN_DATA_DIR}`),
              error.message,
            );
            return true;
          });
          assert.equal((await fetch(`${first.url}/api/v1/system/health`)).status, 200, 'the first one still serves');
          // In this process too (tests and tools that start a server in-process).
          await assert.rejects(createServer(loadConfig(env)), DataDirLockedError);
          await first.kill();
          const second = await startProcess(env);
          assert.equal((await login(second.url, 'admin', ADMIN_PASSWORD)).body.success, true);
          assert.equal(await second.stop(), 0);
        } finally {
          await dropSchema(env.DATABASE_SCHEMA);
          fs.rmSync(env.ROENTGEN_DATA_DIR, { recursive: true, force: true });
        }
      },
    );
  });

  describe(`finding 13: secrets at rest and file modes on ${dialect}`, () => {
    test('the stored JWT secret is sealed: forging with what the database holds fails; files are private', async () => {
      const env = isolatedEnv(dialect);
      // A data directory an installer made world-readable is tightened at start.
      fs.chmodSync(env.ROENTGEN_DATA_DIR, 0o755);
      const { server, url } = await boot(env);
      try {
        const admin = (await login(url, 'admin', ADMIN_PASSWORD)).token;
        const dataDir = env.ROENTGEN_DATA_DIR;
        assert.equal(mode(dataDir), 0o700);
        const keyFile = path.join(dataDir, 'secret.key');
        assert.equal(mode(keyFile), 0o600);
        if (dialect === 'sqlite') {
          for (const f of ['roentgen.sqlite', 'roentgen.sqlite-wal']) assert.equal(mode(path.join(dataDir, f)), 0o600, f);
        }
        const stored = await storedSecret(env, 'jwt_secret');
        assert.match(stored, /^enc:v1:/);
        // What someone with a copy of the database has: it signs nothing the server accepts.
        const forged = await forge(admin, stored);
        const refused = await me(url, forged);
        assert.equal(refused.status, 401, refused.text);
        // With the key file the forgery works: the key, kept apart, is what protects the secret.
        const secret = unseal('jwt_secret', stored, keyFile);
        assert.match(secret, /^[0-9a-f]{64}$/);
        assert.equal((await me(url, await forge(admin, secret))).status, 200);
        if (dialect === 'sqlite') assert.equal(sqliteBytes(dataDir).includes(Buffer.from(secret)), false, 'no clear secret in the file');
      } finally {
        await server.close();
        await dropSchema(env.DATABASE_SCHEMA);
        fs.rmSync(env.ROENTGEN_DATA_DIR, { recursive: true, force: true });
      }
    });

    test(
      'a clear secret from before is sealed at start; secrets:rotate-jwt voids every token, forged or issued',
      { timeout: 120_000 },
      async () => {
        const env = isolatedEnv(dialect);
        let running: { server: Server; url: string } | undefined = await boot(env);
        try {
          const issued = (await login(running.url, 'admin', ADMIN_PASSWORD)).token;
          await running.server.close();
          running = undefined;
          // The database as an earlier version left it: the secret in clear.
          const clear = randomBytes(32).toString('hex');
          const db = await openDatabase({
            dataDir: env.ROENTGEN_DATA_DIR,
            databaseUrl: env.DATABASE_URL,
            databaseSchema: env.DATABASE_SCHEMA,
          });
          await db.kysely.updateTable('server_secrets').set({ value: clear }).where('name', '=', 'jwt_secret').execute();
          await db.close();

          running = await boot(env);
          const sealed = await storedSecret(env, 'jwt_secret');
          assert.match(sealed, /^enc:v1:/, 'sealed at start');
          assert.equal(unseal('jwt_secret', sealed, path.join(env.ROENTGEN_DATA_DIR, 'secret.key')), clear, 'the same secret, sealed');
          if (dialect === 'sqlite')
            assert.equal(sqliteBytes(env.ROENTGEN_DATA_DIR).includes(Buffer.from(clear)), false, 'the clear value is gone from the file');
          const forged = await forge(issued, clear);
          assert.equal((await me(running.url, forged)).status, 200, 'whoever read the clear secret before can still forge');

          // The CLI refuses while the server holds the data directory, and rotates once it is stopped.
          await assert.rejects(rotateJwt(env), /another Roentgen process is using the data directory/);
          await running.server.close();
          running = undefined;
          assert.match(await rotateJwt(env), /JWT secret rotated/);
          running = await boot(env);
          for (const token of [forged, issued]) {
            const res = await me(running.url, token);
            assert.equal(res.status, 401, res.text);
          }
          const fresh = (await login(running.url, 'admin', ADMIN_PASSWORD)).token;
          assert.equal((await me(running.url, fresh)).status, 200);
        } finally {
          await running?.server.close();
          await dropSchema(env.DATABASE_SCHEMA);
          fs.rmSync(env.ROENTGEN_DATA_DIR, { recursive: true, force: true });
        }
      },
    );

    test('a database with another secret key refuses to start with a clear message; ROENTGEN_SECRET_KEY is honoured', async () => {
      const key = randomBytes(32).toString('base64');
      const env = isolatedEnv(dialect, { ROENTGEN_SECRET_KEY: key });
      const { server } = await boot(env);
      await server.close();
      try {
        assert.equal(
          fs.existsSync(path.join(env.ROENTGEN_DATA_DIR, 'secret.key')),
          false,
          'no key file when the key comes from the environment',
        );
        await assert.rejects(
          boot({ ...env, ROENTGEN_SECRET_KEY: randomBytes(32).toString('hex') }),
          /sealed with another secret key than ROENTGEN_SECRET_KEY/,
        );
        await assert.rejects(boot({ ...env, ROENTGEN_SECRET_KEY: 'short' }), /ROENTGEN_SECRET_KEY must hold a 32-byte key/);
        const again = await boot(env);
        await again.server.close();
      } finally {
        await dropSchema(env.DATABASE_SCHEMA);
        fs.rmSync(env.ROENTGEN_DATA_DIR, { recursive: true, force: true });
      }
    });
  });

  describe(`finding 15: crash leftovers on ${dialect}`, () => {
    test('kill -9 during portrait uploads: the restart sweeps every .part and accounts for every blob', { timeout: 240_000 }, async (t) => {
      const env = isolatedEnv(dialect);
      const blobs = path.join(env.ROENTGEN_DATA_DIR, 'blobs');
      let server: Awaited<ReturnType<typeof startProcess>> | undefined = await startProcess(env);
      try {
        const url = server.url;
        // 2000 × 2000 RGB: a 12 MB Secondary Capture each, written through a temporary file.
        const photo = (
          await sharp({ create: { width: 2000, height: 2000, channels: 3, background: '#5a7a9a' } })
            .png()
            .toBuffer()
        ).toString('base64');
        const consoles = await Promise.all(
          [0, 1, 2].map(async () => {
            const guest: string = (await call(url, 'GET', '/dr/api/v1/pub/software_info')).body.data.guest;
            const study = await call(url, 'POST', '/dr/api/v1/auth/study', {
              token: guest,
              body: sampleStudy({ study_type: 'Emergency' }),
            });
            return { guest, studyId: study.body.data.study_id as string };
          }),
        );
        let stop = false;
        const uploads = consoles.flatMap((c) =>
          [0, 1].map(async () => {
            while (!stop) {
              await call(url, 'POST', '/dr/api/v1/auth/study/portrait', {
                token: c.guest,
                body: { study_id: c.studyId, data: photo },
              }).catch(() => (stop = true));
            }
          }),
        );
        await new Promise((r) => setTimeout(r, 2500));
        await server.kill();
        server = undefined;
        stop = true;
        await Promise.all(uploads);
        const tmp = path.join(blobs, '.tmp');
        const leftParts = fs.existsSync(tmp) ? fs.readdirSync(tmp) : [];
        const leftBytes = leftParts.reduce((n, f) => n + fs.statSync(path.join(tmp, f)).size, 0);
        t.diagnostic(`the kill left ${leftParts.length} temporary files (${leftBytes} bytes)`);

        server = await startProcess(env);
        assert.deepEqual(fs.existsSync(tmp) ? fs.readdirSync(tmp) : [], [], 'no temporary file survives a restart');
        const admin = (await login(server.url, 'admin', ADMIN_PASSWORD)).token;
        const orphans = (await call(server.url, 'GET', '/api/v1/system/health', { token: admin })).body.data.services.storage.orphan_blobs;
        assert.deepEqual(orphans.temporary_swept, { files: leftParts.length, bytes: leftBytes });
        // Every blob on disk is registered or listed as an orphan (young ones are kept for the grace period).
        const db = await openDatabase({
          dataDir: env.ROENTGEN_DATA_DIR,
          databaseUrl: env.DATABASE_URL,
          databaseSchema: env.DATABASE_SCHEMA,
        });
        try {
          const rows = new Set((await db.kysely.selectFrom('stored_files').select('blob_key').execute()).map((r) => r.blob_key));
          const onDisk = (fs.readdirSync(blobs, { recursive: true }) as string[])
            .filter((f) => !f.startsWith('.tmp') && fs.statSync(path.join(blobs, f)).isFile())
            .map((f) => `${f.split(path.sep)[0]}/${path.basename(f)}`);
          const unregistered = onDisk.filter((k) => !rows.has(k));
          assert.equal(orphans.count, unregistered.length, `orphans on disk: ${unregistered.join()}`);
          for (const key of rows) assert.ok(onDisk.includes(key), `${key} is registered and on disk`);
        } finally {
          await db.close();
        }
        assert.equal(await server.stop(), 0);
        server = undefined;
      } finally {
        await server?.kill();
        await dropSchema(env.DATABASE_SCHEMA);
        fs.rmSync(env.ROENTGEN_DATA_DIR, { recursive: true, force: true });
      }
    });

    test('temporary files of any age are swept at start; orphan blobs are listed in health and removed after the grace period', async () => {
      const env = isolatedEnv(dialect);
      let running: { server: Server; url: string } | undefined = await boot(env);
      try {
        const blobs = path.join(env.ROENTGEN_DATA_DIR, 'blobs');
        // A registered file, which must survive.
        const admin = (await login(running.url, 'admin', ADMIN_PASSWORD)).token;
        const study = await call(running.url, 'POST', '/dr/api/v1/auth/study', {
          token: admin,
          body: sampleStudy({ study_type: 'Emergency' }),
        });
        const photo = await sharp({ create: { width: 32, height: 32, channels: 3, background: '#336699' } })
          .png()
          .toBuffer();
        const portrait = await call(running.url, 'POST', '/dr/api/v1/auth/study/portrait', {
          token: admin,
          body: { study_id: study.body.data.study_id, data: photo.toString('base64') },
        });
        assert.equal(portrait.status, 200, portrait.text);
        const registered: string = portrait.body.data.path;
        // Blobs are patient data: files 0600, directories 0700.
        for (const entry of fs.readdirSync(blobs, { recursive: true }) as string[]) {
          const full = path.join(blobs, entry);
          assert.equal(mode(full), fs.statSync(full).isDirectory() ? 0o700 : 0o600, entry);
        }
        await running.server.close();
        running = undefined;

        // What kill -9 during uploads leaves: fresh temporary files, and blobs whose row never committed.
        const parts = Array.from({ length: 3 }, () => path.join(blobs, '.tmp', `${randomUUID()}.part`));
        for (const p of parts) fs.writeFileSync(p, Buffer.alloc(1024 * 1024, 7));
        const plant = (key: string, bytes: number, ageHours: number) => {
          const [namespace, name] = key.split('/') as [string, string];
          const dir = path.join(blobs, namespace, createHash('sha1').update(name).digest('hex').slice(0, 2));
          fs.mkdirSync(dir, { recursive: true });
          const file = path.join(dir, name);
          fs.writeFileSync(file, Buffer.alloc(bytes, 1));
          const when = new Date(Date.now() - ageHours * 3_600_000);
          fs.utimesSync(file, when, when);
          return file;
        };
        const young = plant(`capture/${randomUUID()}.png`, 4000, 1);
        const old = plant(`dicom/2.25.${Date.now()}.dcm`, 5000, 48);

        running = await boot(env);
        assert.deepEqual(fs.readdirSync(path.join(blobs, '.tmp')), [], 'every .part swept, whatever its age');
        assert.equal(fs.existsSync(old), false, 'an orphan past the grace period is removed');
        assert.equal(fs.existsSync(young), true, 'a young orphan is kept');
        const fresh = (await login(running.url, 'admin', ADMIN_PASSWORD)).token;
        const health = await call(running.url, 'GET', '/api/v1/system/health', { token: fresh });
        const orphans = health.body.data.services.storage.orphan_blobs;
        assert.equal(orphans.state, 'done');
        assert.equal(orphans.count, 1);
        assert.equal(orphans.bytes, 4000);
        assert.deepEqual(orphans.examples, [`capture/${path.basename(young)}`]);
        assert.deepEqual([orphans.removed, orphans.removed_bytes], [1, 5000]);
        assert.deepEqual(orphans.temporary_swept, { files: 3, bytes: 3 * 1024 * 1024 });
        const file = await fetch(`${running.url}/dr/api/v1/auth/f/dcm/${registered}`, { headers: { authorization: `Bearer ${fresh}` } });
        assert.equal(file.status, 200, 'a registered blob is untouched');

        // With no grace period, the next start removes the young orphan too.
        await call(running.url, 'PUT', '/api/v1/system/configs/storage.orphan_grace_hours', { token: fresh, body: { config_value: 0 } });
        await running.server.close();
        running = await boot(env);
        assert.equal(fs.existsSync(young), false);
      } finally {
        await running?.server.close();
        await dropSchema(env.DATABASE_SCHEMA);
        fs.rmSync(env.ROENTGEN_DATA_DIR, { recursive: true, force: true });
      }
    });
  });
}
