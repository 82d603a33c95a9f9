import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { BLOCK_BYTES } from './aligned-blocks.js';
import { IngestJournal } from './ingest-journal.js';

for (const direct of [true, false]) {
  test(`journal (${direct ? 'O_DIRECT' : 'page cache'}): an object written in uneven pieces across blocks reads back byte for byte`, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'journal-test-'));
    const journal = new IngestJournal(dir, direct);
    try {
      const header = randomBytes(331);
      const body = randomBytes(BLOCK_BYTES * 2 + 12345);
      const writer = journal.open(header);
      // Pieces that end mid-block, exactly on a block boundary and span several blocks.
      const cuts = [0, 1000, BLOCK_BYTES - header.length, BLOCK_BYTES + 7, body.length];
      for (let i = 1; i < cuts.length; i += 1) writer.write(body.subarray(cuts[i - 1], cuts[i]));
      body.fill(0, 0, 100); // the writer must not depend on the caller's bytes after write() (O_DIRECT copies)
      const file = await writer.finish();
      const written = fs.readFileSync(file);
      assert.equal(written.length, header.length + body.length);
      assert.deepEqual(written.subarray(0, header.length), header);
      assert.deepEqual(written.subarray(header.length + 100), body.subarray(100));
      assert.deepEqual(await journal.pending(), [file]);
      // The temporary directory's filesystem (ext4 here, and tmpfs on recent kernels) takes O_DIRECT.
      assert.equal(journal.directIo, direct);

      const small = journal.open(Buffer.from('DICM'));
      small.write(Buffer.from('tail'));
      assert.equal(fs.readFileSync(await small.finish(), 'latin1'), 'DICMtail');

      const dropped = journal.open(header);
      dropped.write(randomBytes(BLOCK_BYTES + 1));
      await dropped.discard();
      assert.equal(fs.existsSync(dropped.file), false);
    } finally {
      journal.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
}
