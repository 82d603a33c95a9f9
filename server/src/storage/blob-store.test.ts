import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, test } from 'node:test';
import { FileBlobStore, InvalidBlobKeyError } from './blob-store.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'roentgen-blobs-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));
const store = new FileBlobStore(root);

function filesUnder(dir: string): string[] {
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath, e.name));
}

test('put, stat, read, stream and delete a blob', async () => {
  const data = Buffer.from('DICM payload');
  const info = await store.put('dicom/1.2.3.4.dcm', data);
  assert.deepEqual(info, { key: 'dicom/1.2.3.4.dcm', size: data.length, sha256: createHash('sha256').update(data).digest('hex') });
  assert.deepEqual(await store.stat('dicom/1.2.3.4.dcm'), { key: 'dicom/1.2.3.4.dcm', size: data.length });
  assert.deepEqual(await store.read('dicom/1.2.3.4.dcm'), data);
  const chunks: Buffer[] = [];
  for await (const chunk of await store.stream('dicom/1.2.3.4.dcm')) chunks.push(chunk as Buffer);
  assert.deepEqual(Buffer.concat(chunks), data);
  await store.delete('dicom/1.2.3.4.dcm');
  assert.equal(await store.stat('dicom/1.2.3.4.dcm'), undefined);
  await assert.rejects(store.read('dicom/1.2.3.4.dcm'), { code: 'ENOENT' });
  await store.delete('dicom/1.2.3.4.dcm'); // deleting twice is fine
});

test('a rewrite replaces the whole blob; streams of any size are stored intact', async () => {
  const big = Buffer.alloc(5 * 1024 * 1024 + 17, 7);
  await store.put('dicom/big.dcm', Buffer.from('old'));
  const info = await store.put('dicom/big.dcm', Readable.from([big.subarray(0, 1000), big.subarray(1000)]));
  assert.equal(info.size, big.length);
  assert.ok((await store.read('dicom/big.dcm')).equals(big));
});

test('a file given as parts (shared memory among them) is written whole, in order, with the hash of the whole', async () => {
  const pixels = new Uint16Array(new SharedArrayBuffer(3_000_000 * 2)).map((_, i) => i * 7);
  const parts = [
    Buffer.from('header'),
    new Uint8Array([1, 2, 3]),
    new Uint8Array(pixels.buffer, 2, 5_999_990),
    Buffer.alloc(0),
    Buffer.from('end'),
  ];
  const whole = Buffer.concat(parts);
  const info = await store.put('dicom/parts.dcm', parts);
  assert.equal(info.size, whole.length);
  assert.equal(info.sha256, createHash('sha256').update(whole).digest('hex'));
  assert.ok((await store.read('dicom/parts.dcm')).equals(whole));
});

test('a write that fails midway leaves neither a blob nor a temporary file', async () => {
  const failing = new Readable({
    read() {
      this.push(Buffer.alloc(1024));
      this.destroy(new Error('peer went away'));
    },
  });
  await assert.rejects(store.put('dicom/broken.dcm', failing), /peer went away/);
  assert.equal(await store.stat('dicom/broken.dcm'), undefined);
  assert.deepEqual(fs.readdirSync(path.join(root, '.tmp')), []);
});

test('keys are validated: no traversal, no absolute paths, no separators in names', async () => {
  for (const key of [
    '../etc/passwd',
    'dicom/../../x',
    '/abs/path',
    'dicom/a/b',
    'DICOM/x',
    'dicom/',
    'dicom/.hidden',
    '',
    'dicom/a\u0000b',
  ]) {
    await assert.rejects(store.put(key, Buffer.from('x')), InvalidBlobKeyError, key);
    await assert.rejects(store.read(key), InvalidBlobKeyError, key);
  }
  assert.ok(filesUnder(root).every((f) => f.startsWith(root + path.sep)));
});

test('blobs are sharded below their namespace, private to the server; temporary files are swept; list finds every blob', async () => {
  await store.put('thumbnail/1.2.3.webp', Buffer.from('w'));
  const [file] = filesUnder(path.join(root, 'thumbnail'));
  assert.match(path.relative(root, file), /^thumbnail\/[0-9a-f]{2}\/1\.2\.3\.webp$/);
  assert.equal(fs.statSync(file).mode & 0o777, 0o600);
  assert.equal(fs.statSync(path.dirname(file)).mode & 0o777, 0o700);
  // Any age: the caller holds the data-directory lock, so no live write owns them.
  fs.writeFileSync(path.join(root, '.tmp', 'dead.part'), 'xy');
  fs.writeFileSync(path.join(root, '.tmp', 'fresh.part'), 'x');
  assert.deepEqual(await store.sweepTemporary(), { files: 2, bytes: 3 });
  assert.deepEqual(fs.readdirSync(path.join(root, '.tmp')), []);
  const listed: string[] = [];
  for await (const blob of store.list()) listed.push(blob.key);
  assert.ok(listed.includes('thumbnail/1.2.3.webp'), listed.join());
});

test('putMany stores every blob intact, each fsynced before any is renamed into place, and leaves no temporary file', async () => {
  await store.put('dicom/many-0.dcm', Buffer.from('old'));
  const items = Array.from({ length: 5 }, (_, i) => ({ key: `dicom/many-${i}.dcm`, bytes: Buffer.alloc(1000 + i, i + 1) }));
  const events: string[] = [];
  const [fsync, rename] = [fs.fsync, fs.renameSync];
  fs.fsync = ((fd: number, callback: (error: NodeJS.ErrnoException | null) => void) => {
    events.push('fsync');
    fsync(fd, callback);
  }) as typeof fs.fsync;
  fs.renameSync = (from: fs.PathLike, to: fs.PathLike) => {
    events.push('rename');
    rename(from, to);
  };
  let infos;
  try {
    infos = await store.putMany(items);
  } finally {
    [fs.fsync, fs.renameSync] = [fsync, rename];
  }
  assert.deepEqual(events, [...items.map(() => 'fsync'), ...items.map(() => 'rename')], 'the data is durable before a name points at it');
  for (const [i, { key, bytes }] of items.entries()) {
    assert.deepEqual(infos[i], { key, size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') });
    assert.deepEqual(await store.read(key), bytes);
  }
  assert.deepEqual(fs.readdirSync(path.join(root, '.tmp')), []);
});
