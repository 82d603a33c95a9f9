import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { BLOCK_BYTES } from './aligned-blocks.js';
import { IngestJournal, type JournalEntry } from './ingest-journal.js';
import { RECORD_HEADER, RECORD_MAX, SEGMENT_BYTES } from './segment-log.js';

async function withJournal(
  direct: boolean,
  body: (dir: string, open: () => Promise<{ journal: IngestJournal; left: JournalEntry[]; warnings: string[] }>) => Promise<void>,
): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'journal-test-'));
  const opened: IngestJournal[] = [];
  try {
    await body(dir, async () => {
      const warnings: string[] = [];
      const journal = new IngestJournal(dir, direct, (m) => warnings.push(m));
      opened.push(journal);
      return { journal, left: await journal.start(), warnings };
    });
  } finally {
    for (const j of opened) await j.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const segments = (dir: string) =>
  fs
    .readdirSync(path.join(dir, 'segments'))
    .filter((n) => n.endsWith('.seg'))
    .sort();

for (const direct of [true, false]) {
  const how = direct ? 'O_DIRECT' : 'page cache';

  test(`journal (${how}): a large object written in uneven pieces gets a file that reads back byte for byte`, async () => {
    await withJournal(direct, async (_dir, open) => {
      const { journal } = await open();
      const header = randomBytes(331);
      const body = randomBytes(BLOCK_BYTES * 2 + 12345);
      const writer = journal.open(header);
      // Pieces that end mid-block, exactly on a block boundary and span several blocks.
      const cuts = [0, 1000, BLOCK_BYTES - header.length, BLOCK_BYTES + 7, body.length];
      for (let i = 1; i < cuts.length; i += 1) writer.write(body.subarray(cuts[i - 1], cuts[i]));
      const expected = Buffer.from(body);
      body.fill(0, 0, 100); // the writer must not depend on the caller's bytes after write()
      const entry = await writer.finish();
      assert.ok('file' in entry, 'larger than a record: a file of its own');
      assert.deepEqual(await journal.read(entry), Buffer.concat([header, expected]));
      // The temporary directory's filesystem (ext4 here, and tmpfs on recent kernels) takes O_DIRECT.
      assert.equal(journal.directIo, direct);

      const dropped = journal.open(header);
      dropped.write(randomBytes(BLOCK_BYTES + 1));
      await dropped.discard();
      assert.equal(fs.existsSync(entry.file), true);
      journal.settle([entry]);
      assert.equal(fs.existsSync(entry.file), false, 'settled: the file goes');
    });
  });

  test(`journal (${how}): small objects are records that survive a restart until settled; a torn record and what follows it are not read`, async () => {
    await withJournal(direct, async (dir, open) => {
      const first = await open();
      const objects = Array.from({ length: 5 }, (_, i) => randomBytes(1000 + i * 70_000));
      const entries: JournalEntry[] = [];
      for (const o of objects) {
        const writer = first.journal.open(o.subarray(0, 132));
        writer.write(o.subarray(132, 500));
        writer.write(o.subarray(500));
        o.fill(1, 132, 200); // reused by the caller once written
        entries.push(await writer.finish());
      }
      const dropped = first.journal.open(Buffer.from('DICM'));
      dropped.write(randomBytes(10));
      await dropped.discard();
      assert.ok(
        entries.every((e) => !('file' in e)),
        'records, not files',
      );
      assert.deepEqual(
        fs.readdirSync(dir).filter((n) => n.endsWith('.dcm')),
        [],
        'no object files',
      );
      const read = await Promise.all(entries.map((e) => first.journal.read(e)));
      assert.deepEqual(
        read.map((b) => b.subarray(200)),
        objects.map((o) => o.subarray(200)),
      );
      first.journal.settle(entries.slice(0, 2));
      await first.journal.idle();
      await first.journal.close();

      const second = await open();
      assert.deepEqual(second.left, entries.slice(2), 'the unsettled records, in order');
      await second.journal.close();

      // Tear the fourth record's payload: it and the fifth (never acknowledged after a torn one) are gone.
      const torn = entries[3] as Exclude<JournalEntry, { file: string }>;
      const fd = fs.openSync(torn.segment, 'r+');
      fs.writeSync(fd, Buffer.from('torn'), 0, 4, torn.offset + RECORD_HEADER + 10);
      fs.closeSync(fd);
      const third = await open();
      assert.deepEqual(third.left, entries.slice(2, 3));
    });
  });

  test(`journal (${how}): full segments are recycled once indexed; records of their earlier life are never read again`, async () => {
    await withJournal(direct, async (dir, open) => {
      const { journal } = await open();
      const size = RECORD_MAX - 332;
      const perSegment = Math.floor(SEGMENT_BYTES / BLOCK_BYTES);
      const entries: JournalEntry[] = [];
      for (let i = 0; i < perSegment * 2 + 3; i += 1) {
        const writer = journal.open(Buffer.alloc(332, i));
        writer.write(Buffer.alloc(size, i));
        const entry = await writer.finish();
        // The spare is prepared in the background: a switch that finds none writes a file instead.
        if ('file' in entry) {
          await journal.idle();
          journal.settle([entry]);
          i -= 1;
          continue;
        }
        entries.push(entry);
      }
      assert.ok(segments(dir).length >= 3, `three segments in use: ${segments(dir).join(', ')}`);
      journal.settle(entries.slice(0, -1));
      await journal.idle();
      const names = segments(dir);
      assert.deepEqual(
        names.filter((n) => !n.startsWith('spare-')),
        ['000000000003.seg'],
        'segments 1 and 2, passed, are recycled or removed',
      );
      const spares = names.filter((n) => n.startsWith('spare-')).length;
      assert.ok(spares >= 2 && spares <= 4, `segments 1 and 2 kept as spares, at most 4 in all: ${spares}`);
      await journal.close();

      const again = await open();
      assert.deepEqual(again.left, entries.slice(-1));
      again.journal.settle(again.left);
      await again.journal.idle();
      const next = await again.journal.write([Buffer.from('after the restart')]);
      assert.ok(
        !('file' in next) && next.seq > (entries.at(-1) as { seq: number }).seq,
        "a new sequence number: a recycled segment's old records do not match it",
      );
      await again.journal.close();
      const last = await open();
      assert.deepEqual(last.left, [next]);
      assert.equal((await last.journal.read(next)).toString(), 'after the restart');
    });
  });
}

test('journal: a damaged checkpoint is reported and every record is read again (indexing is idempotent)', async () => {
  await withJournal(true, async (dir, open) => {
    const first = await open();
    const a = await first.journal.write([Buffer.from('one')]);
    const b = await first.journal.write([Buffer.from('two')]);
    first.journal.settle([a]);
    await first.journal.idle();
    await first.journal.close();
    fs.writeFileSync(path.join(dir, 'segments', 'checkpoint'), '{"seq":');
    const second = await open();
    assert.deepEqual(second.left, [a, b]);
    assert.match(second.warnings.join('\n'), /checkpoint .* is damaged/);
  });
});
