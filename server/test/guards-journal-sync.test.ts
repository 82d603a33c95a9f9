import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { storeFiles } from '../src/dimse/store-scu.js';
import { IngestJournal, type JournalEntry } from '../src/storage/journal/ingest-journal.js';
import { RECORD_MAX } from '../src/storage/journal/segment-log.js';
import { generateUid } from '../src/util/uid.js';
import { dxFor } from './dicom-helpers.js';
import { DIALECTS, call, until, withServer } from './helpers.js';

/**
 * The ingest journal acknowledges an object only once it is on the disk: a segment record is
 * written through a descriptor opened O_DSYNC (or synced after), a file of its own is fsynced
 * after its last write. kill -9 cannot show a missing sync (the page cache survives the
 * process), so these tests watch the calls: `node:fs`'s default export is the object the
 * journal calls through, and each test file runs in its own process.
 */
type FsEvent =
  | { kind: 'open'; fd: number; file: string; flags: number }
  | { kind: 'write' | 'write-done' | 'sync'; fd: number }
  | { kind: 'ack'; index: number };

const SYNC_FLAGS = fs.constants.O_DSYNC | fs.constants.O_SYNC;

/** Records journal file opens, writes and syncs (for files `watched` accepts) until `restore()`. */
function watchFs(watched: (file: string) => boolean) {
  const events: FsEvent[] = [];
  const fds = new Map<number, { file: string; flags: number }>();
  // The module object is mutable at run time; its typings say read-only, hence the casts.
  const mutable = fs as unknown as Record<string, (...args: unknown[]) => unknown>;
  const names = ['openSync', 'writeSync', 'write', 'fsyncSync', 'fdatasyncSync', 'fsync', 'fdatasync'] as const;
  const original = Object.fromEntries(names.map((n) => [n, mutable[n]])) as Record<(typeof names)[number], (...args: unknown[]) => unknown>;
  mutable.openSync = (...args: unknown[]) => {
    const fd = original.openSync(...args) as number;
    const [file, flags] = args;
    if (typeof file === 'string' && watched(file)) {
      const numeric = typeof flags === 'number' ? flags : 0;
      fds.set(fd, { file, flags: numeric });
      events.push({ kind: 'open', fd, file, flags: numeric });
    }
    return fd;
  };
  mutable.writeSync = (...args: unknown[]) => {
    const result = original.writeSync(...args);
    if (fds.has(args[0] as number)) events.push({ kind: 'write', fd: args[0] as number }, { kind: 'write-done', fd: args[0] as number });
    return result;
  };
  mutable.write = (...args: unknown[]) => {
    const fd = args[0] as number;
    if (!fds.has(fd)) return original.write(...args);
    events.push({ kind: 'write', fd });
    const callback = args[args.length - 1] as (...r: unknown[]) => void;
    return original.write(...args.slice(0, -1), (...r: unknown[]) => {
      events.push({ kind: 'write-done', fd });
      callback(...r);
    });
  };
  for (const name of ['fsyncSync', 'fdatasyncSync'] as const) {
    mutable[name] = (...args: unknown[]) => {
      const result = original[name](...args);
      if (fds.has(args[0] as number)) events.push({ kind: 'sync', fd: args[0] as number });
      return result;
    };
  }
  for (const name of ['fsync', 'fdatasync'] as const) {
    mutable[name] = (...args: unknown[]) => {
      const fd = args[0] as number;
      const callback = args[args.length - 1] as (...r: unknown[]) => void;
      return original[name](...args.slice(0, -1), (...r: unknown[]) => {
        if (fds.has(fd) && !r[0]) events.push({ kind: 'sync', fd });
        callback(...r);
      });
    };
  }
  return {
    events,
    /** The descriptor a journal file was opened with (the last one, if opened more than once). */
    fdOf: (file: string) =>
      [...fds]
        .filter(([, v]) => v.file === file)
        .map(([fd]) => fd)
        .at(-1),
    restore: () => {
      for (const n of names) mutable[n] = original[n];
    },
  };
}

/**
 * Whether all of `fd`'s writes seen before event `upTo` were durable by then: its descriptor
 * syncs every write (O_DSYNC/O_SYNC), or a sync of it came after its last write ended.
 */
function durableBefore(events: readonly FsEvent[], fd: number, upTo: number): boolean {
  const seen = events.slice(0, upTo);
  const open = seen.filter((e): e is Extract<FsEvent, { kind: 'open' }> => e.kind === 'open' && e.fd === fd).at(-1);
  const writes = seen.flatMap((e, i) => (e.kind === 'write-done' && e.fd === fd ? [i] : []));
  if (writes.length === 0) return false;
  if (open && (open.flags & SYNC_FLAGS) !== 0) return true;
  return seen.some((e, i) => e.kind === 'sync' && e.fd === fd && i > writes.at(-1)!);
}

for (const direct of [true, false]) {
  describe(`ingest journal durability (${direct ? 'O_DIRECT' : 'page cache'})`, () => {
    const withJournal = async (body: (journal: IngestJournal, watch: ReturnType<typeof watchFs>) => Promise<void>) => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'roentgen-journal-sync-'));
      const watch = watchFs((file) => file.startsWith(dir));
      const journal = new IngestJournal(dir, direct);
      try {
        await journal.start();
        await body(journal, watch);
      } finally {
        watch.restore();
        await journal.close();
        fs.rmSync(dir, { recursive: true, force: true });
      }
    };

    /** Writes one object and returns its entry and the index of the event that marks finish() resolving. */
    const journalled = async (journal: IngestJournal, watch: ReturnType<typeof watchFs>, bytes: number) => {
      const writer = journal.open(randomBytes(200));
      writer.write(randomBytes(bytes));
      const entry: JournalEntry = await writer.finish();
      watch.events.push({ kind: 'ack', index: 0 });
      return { entry, acked: watch.events.length - 1 };
    };

    test('a small object is a record written through a synchronous descriptor before finish() resolves', async () => {
      await withJournal(async (journal, watch) => {
        for (let i = 0; i < 3; i += 1) {
          const { entry, acked } = await journalled(journal, watch, 4000 + i * 1000);
          assert.ok(!('file' in entry), 'small: a segment record');
          const fd = watch.fdOf(entry.segment);
          assert.ok(fd !== undefined, `the segment ${entry.segment} was opened while watched`);
          assert.ok(
            durableBefore(watch.events, fd, acked),
            `record ${i} durable before the acknowledgement: ${JSON.stringify(watch.events)}`,
          );
        }
      });
    });

    test('a large object is a file fsynced after its last write, before finish() resolves', async () => {
      await withJournal(async (journal, watch) => {
        const { entry, acked } = await journalled(journal, watch, RECORD_MAX * 2 + 4321);
        assert.ok('file' in entry, 'large: a file of its own');
        const fd = watch.fdOf(entry.file);
        assert.ok(fd !== undefined, 'the file was opened while watched');
        assert.ok(durableBefore(watch.events, fd, acked), `synced before the acknowledgement: ${JSON.stringify(watch.events)}`);
        assert.ok(
          watch.events.slice(0, acked).some((e) => e.kind === 'sync' && e.fd === fd),
          'an explicit sync of the file',
        );
      });
    });
  });
}

for (const dialect of DIALECTS) {
  describe(`our SCP acknowledges only journalled, synced objects on ${dialect}`, () => {
    const ctx = withServer(dialect);

    test("every C-STORE response comes after the object's journal write was made durable", async () => {
      // The sender must be known to our SCP (issue 15: unknown calling AEs are rejected).
      const allowed = await call(ctx.t.url, 'PUT', '/api/v1/system/configs/dicom.scp_allowed_aets', {
        token: ctx.admin,
        body: { config_value: 'MODALITY' },
      });
      assert.equal(allowed.status, 200, allowed.text);
      const journalDir = path.join(ctx.t.dataDir, 'ingest-journal');
      const watch = watchFs((file) => file.startsWith(journalDir));
      const objects = [
        dxFor(generateUid()), // ~100 KB: a segment record
        dxFor(generateUid(), {}, { rows: 1024, columns: 1024 }), // 2 MB: a file of its own
        dxFor(generateUid()),
      ];
      let outcomes;
      try {
        outcomes = await storeFiles(
          { host: '127.0.0.1', port: ctx.t.server.dicomPort, callingAet: 'MODALITY', calledAet: 'ROENTGEN' },
          objects,
          () => undefined,
          (_outcome, index) => {
            watch.events.push({ kind: 'ack', index });
          },
        );
      } finally {
        watch.restore();
      }
      assert.deepEqual(
        outcomes.map((o) => o.status),
        [0, 0, 0],
      );
      // Each object's bytes went to one journal descriptor; before its acknowledgement that descriptor was durable.
      const acks = watch.events.flatMap((e, i) => (e.kind === 'ack' ? [i] : []));
      assert.equal(acks.length, 3);
      let from = 0;
      for (const [n, ack] of acks.entries()) {
        const written = [...new Set(watch.events.slice(from, ack).flatMap((e) => (e.kind === 'write-done' ? [e.fd] : [])))];
        assert.ok(written.length > 0, `object ${n} was written to the journal before its acknowledgement`);
        for (const fd of written)
          assert.ok(
            durableBefore(watch.events, fd, ack),
            `object ${n}: descriptor ${fd} durable before the acknowledgement: ${JSON.stringify(watch.events)}`,
          );
        from = ack + 1;
      }
      // The objects are indexed afterwards (the journal's purpose): all three arrive.
      const db = ctx.t.server.db.kysely;
      await until('indexed', async () => ((await db.selectFrom('images').select('id').execute()).length >= 3 ? true : undefined));
    });
  });
}

/**
 * Makes every write to a file under `dir` fail as a full disk does, until `restore()`. The
 * descriptor's path is read from /proc, so descriptors opened before (the open segment, the
 * spare file) fail too.
 */
function failWritesUnder(dir: string) {
  const mutable = fs as unknown as Record<string, (...args: unknown[]) => unknown>;
  const original = { writeSync: mutable.writeSync, write: mutable.write };
  const under = (fd: unknown) => {
    if (typeof fd !== 'number' || fd <= 2) return false;
    try {
      return fs.readlinkSync(`/proc/self/fd/${fd}`).startsWith(dir);
    } catch {
      return false;
    }
  };
  const enospc = () => Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
  mutable.writeSync = (...args: unknown[]) => {
    if (under(args[0])) throw enospc();
    return original.writeSync(...args);
  };
  mutable.write = (...args: unknown[]) => {
    if (!under(args[0])) return original.write(...args);
    const callback = args[args.length - 1] as (error: Error) => void;
    setImmediate(() => callback(enospc()));
    return undefined;
  };
  return {
    restore: () => Object.assign(mutable, original),
  };
}

for (const dialect of DIALECTS) {
  describe(`our SCP never acknowledges an object its journal could not write on ${dialect}`, () => {
    const ctx = withServer(dialect);

    test('a failed journal write (disk full) is answered 0xA700 and nothing is indexed; the next object is stored', async () => {
      const allowed = await call(ctx.t.url, 'PUT', '/api/v1/system/configs/dicom.scp_allowed_aets', {
        token: ctx.admin,
        body: { config_value: 'MODALITY' },
      });
      assert.equal(allowed.status, 200, allowed.text);
      const target = { host: '127.0.0.1', port: ctx.t.server.dicomPort, callingAet: 'MODALITY', calledAet: 'ROENTGEN' };
      const uids = [generateUid(), generateUid()];
      const full = failWritesUnder(path.join(ctx.t.dataDir, 'ingest-journal'));
      let refused;
      try {
        refused = await storeFiles(
          target,
          [dxFor(uids[0]), dxFor(uids[1], {}, { rows: 1024, columns: 1024 })], // a segment record, a file of its own
          () => undefined,
        );
      } finally {
        full.restore();
      }
      assert.deepEqual(
        refused.map((o) => o.status),
        [0xa700, 0xa700],
        'out of resources, not stored',
      );
      const later = generateUid();
      const accepted = await storeFiles(target, [dxFor(later)], () => undefined);
      assert.equal(accepted[0].status, 0);
      const db = ctx.t.server.db.kysely;
      const indexed = async () => (await db.selectFrom('images').select('sop_instance_uid').execute()).map((r) => r.sop_instance_uid);
      await until('the accepted object indexed', async () => ((await indexed()).includes(later) ? true : undefined));
      const now = await indexed();
      assert.ok(!uids.some((uid) => now.includes(uid)), 'the refused objects are not in the archive');
    });
  });
}
