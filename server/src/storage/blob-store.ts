import { createHash, randomUUID } from 'node:crypto';
import fsSync, { createReadStream, createWriteStream, type ReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/**
 * Where files live (DICOM objects, thumbnails, captures). Callers name blobs with keys they
 * build themselves (`dicom/<SOP Instance UID>.dcm`), never from a client's string; the
 * filesystem store maps a key to a sharded path. An S3-compatible store implements the same
 * interface for the scale-out shape.
 */
export interface BlobStore {
  /** A buffer, a file's consecutive parts, or a stream. */
  put(key: string, data: Buffer | readonly Uint8Array[] | Readable): Promise<BlobInfo>;
  /**
   * A local file already written and fsynced (the SCP's journal) becomes the blob under `key`,
   * replacing any earlier one; `digest` is the file's size and SHA-256, computed by the caller
   * while reading it. The file is left in place: the caller removes it once its own record of
   * the blob has committed.
   */
  adopt(key: string, file: string, digest: { size: number; sha256: string }): Promise<BlobInfo>;
  /** Several buffers as blobs with put()'s guarantees, durable together when it resolves (a store without it gets put() each). */
  putMany?(items: readonly { key: string; bytes: Buffer }[]): Promise<BlobInfo[]>;
  read(key: string): Promise<Buffer>;
  /** Where the blob is on this machine's filesystem, when it is (readers that stream it themselves); not checked to exist. */
  localPath(key: string): string | undefined;
  stream(key: string): Promise<Readable>;
  stat(key: string): Promise<BlobInfo | undefined>;
  delete(key: string): Promise<void>;
}

export interface BlobInfo {
  key: string;
  size: number;
  /** Hex SHA-256 of the content (computed while writing; absent from stat). */
  sha256?: string;
}

/** `namespace/name`: lower-case namespace, a name of letters, digits, dot, dash and underscore. */
const KEY = /^[a-z][a-z0-9-]{0,31}\/[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/;

export class InvalidBlobKeyError extends Error {}

export function assertBlobKey(key: string): void {
  if (!KEY.test(key) || key.includes('..')) throw new InvalidBlobKeyError(`invalid blob key: ${JSON.stringify(key)}`);
}

const TEMP_DIR = '.tmp';
/** Blobs are patient data: readable by this server's user only (directories are made 0700). */
const BLOB_FILE_MODE = 0o600;
/** Blobs up to this size are written with synchronous calls (see putSmall). */
const SMALL_BLOB = 1024 * 1024;

export class FileBlobStore implements BlobStore {
  constructor(private readonly root: string) {}

  /** Shards by a hash of the name so no directory grows past a few thousand entries. */
  private pathOf(key: string): string {
    assertBlobKey(key);
    const [namespace, name] = key.split('/') as [string, string];
    const shard = createHash('sha1').update(name).digest('hex').slice(0, 2);
    return path.join(this.root, namespace, shard, name);
  }

  /**
   * Writes to a temporary file, fsyncs it, renames it into place and fsyncs the directory, so a
   * reader (or a crash) sees either the old blob or the whole new one, never a part.
   */
  async put(key: string, data: Buffer | readonly Uint8Array[] | Readable): Promise<BlobInfo> {
    try {
      return await this.putOnce(key, data);
    } catch (error) {
      // A directory removed behind our back (a cleaned-up store): forget what we made, once.
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || this.madeDirs.size === 0 || !(Buffer.isBuffer(data) || Array.isArray(data)))
        throw error;
      this.madeDirs.clear();
      return this.putOnce(key, data);
    }
  }

  private async putOnce(key: string, data: Buffer | readonly Uint8Array[] | Readable): Promise<BlobInfo> {
    const target = this.pathOf(key);
    const tempDir = path.join(this.root, TEMP_DIR);
    await this.ensureDir(tempDir);
    await this.ensureDir(path.dirname(target));
    const temp = path.join(tempDir, `${randomUUID()}.part`);
    // Array.isArray narrows a readonly array to any[]: say what it is.
    const parts = Buffer.isBuffer(data) ? [data] : Array.isArray(data) ? (data as readonly Uint8Array[]) : undefined;
    if (parts && parts.reduce((n, p) => n + p.length, 0) <= SMALL_BLOB) return { key, ...this.putSmall(temp, target, parts) };
    let written: { size: number; sha256: string };
    try {
      written = parts ? await writeParts(temp, parts) : await writeStream(temp, data as Readable);
    } catch (error) {
      await fs.rm(temp, { force: true });
      throw error;
    }
    await this.commit(temp, target);
    return { key, ...written };
  }

  /**
   * A hard link instead of a copy (the journal is under the same data directory). The link is
   * not fsynced on its own: the caller unlinks the source only after it commits, and ext4/xfs
   * journal the two in order, so after a crash either the source is still there to be adopted
   * again or the link is durable. Another filesystem (EXDEV) gets a copy through put().
   */
  async adopt(key: string, file: string, digest: { size: number; sha256: string }): Promise<BlobInfo> {
    const target = this.pathOf(key);
    const tempDir = path.join(this.root, TEMP_DIR);
    await this.ensureDir(tempDir);
    await this.ensureDir(path.dirname(target));
    const temp = path.join(tempDir, `${randomUUID()}.part`);
    try {
      fsSync.linkSync(file, temp);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EXDEV') return this.put(key, createReadStream(file));
      throw error;
    }
    try {
      fsSync.renameSync(temp, target);
    } catch (error) {
      fsSync.rmSync(temp, { force: true });
      throw error;
    }
    return { key, ...digest };
  }

  private readonly madeDirs = new Set<string>();

  /** mkdir -p once per directory per process: two mkdir round trips per put were ~10 % of a small put. */
  private async ensureDir(dir: string): Promise<void> {
    if (this.madeDirs.has(dir)) return;
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    this.madeDirs.add(dir);
  }

  /**
   * The same write-fsync-rename-fsync sequence with synchronous calls, for small blobs: ten
   * thread-pool round trips made a 130 KB put take ~2.2 ms here, the synchronous sequence ~0.9 ms
   * (it holds the event loop that long). What a modality sends is mostly this size.
   */
  private putSmall(temp: string, target: string, parts: readonly Uint8Array[]): { size: number; sha256: string } {
    const digest = digestOf(parts);
    try {
      const fd = fsSync.openSync(temp, 'wx', BLOB_FILE_MODE);
      try {
        for (const part of parts) {
          for (let at = 0; at < part.length;) at += fsSync.writeSync(fd, part, at, part.length - at);
        }
        fsSync.fsyncSync(fd);
      } finally {
        fsSync.closeSync(fd);
      }
      fsSync.renameSync(temp, target);
    } catch (error) {
      fsSync.rmSync(temp, { force: true });
      throw error;
    }
    const dir = fsSync.openSync(path.dirname(target), 'r');
    try {
      fsSync.fsyncSync(dir);
    } finally {
      fsSync.closeSync(dir);
    }
    return digest;
  }

  /**
   * put() for a batch: every file written, then all fsynced side by side, renamed, and each
   * directory fsynced once. One after the other, each of those fsyncs waited for a commit of the
   * filesystem's journal of its own (~2 fsyncs × 32 objects per index batch were ~90 % of
   * indexing them); side by side they share commits. A crash before it resolves leaves whole
   * old blobs or whole new ones (the renames come after the data is durable) and temporary files
   * that sweepTemporary() removes.
   */
  async putMany(items: readonly { key: string; bytes: Buffer }[]): Promise<BlobInfo[]> {
    const tempDir = path.join(this.root, TEMP_DIR);
    await this.ensureDir(tempDir);
    const files = items.map(({ key, bytes }) => ({
      key,
      bytes,
      target: this.pathOf(key),
      temp: path.join(tempDir, `${randomUUID()}.part`),
    }));
    for (const dir of new Set(files.map((f) => path.dirname(f.target)))) await this.ensureDir(dir);
    const fds: number[] = [];
    let digests: { size: number; sha256: string }[];
    try {
      // Written here (into the page cache: quick), fsynced on the thread pool side by side.
      for (const f of files) {
        const fd = fsSync.openSync(f.temp, 'wx', BLOB_FILE_MODE);
        fds.push(fd);
        for (let at = 0; at < f.bytes.length;) at += fsSync.writeSync(fd, f.bytes, at, f.bytes.length - at);
      }
      const syncing = Promise.all(fds.map((fd) => fsyncAsync(fd)));
      digests = files.map((f) => digestOf([f.bytes])); // while the disk works
      await syncing;
      for (const f of files) fsSync.renameSync(f.temp, f.target);
    } catch (error) {
      for (const f of files) fsSync.rmSync(f.temp, { force: true });
      throw error;
    } finally {
      for (const fd of fds) fsSync.closeSync(fd);
    }
    await Promise.all(
      [...new Set(files.map((f) => path.dirname(f.target)))].map(async (dir) => {
        const handle = await fs.open(dir, 'r');
        try {
          await handle.sync();
        } finally {
          await handle.close();
        }
      }),
    );
    return files.map((f, i) => ({ key: f.key, ...digests[i] }));
  }

  /** Renames the finished temporary file into place and fsyncs the directory. */
  private async commit(temp: string, target: string): Promise<void> {
    await fs.rename(temp, target);
    const dir = await fs.open(path.dirname(target), 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }

  async read(key: string): Promise<Buffer> {
    return fs.readFile(this.pathOf(key));
  }

  localPath(key: string): string {
    return this.pathOf(key);
  }

  async stream(key: string): Promise<ReadStream> {
    const file = this.pathOf(key);
    await fs.access(file);
    return createReadStream(file);
  }

  async stat(key: string): Promise<BlobInfo | undefined> {
    const s = await fs.stat(this.pathOf(key)).catch(() => undefined);
    return s?.isFile() ? { key, size: s.size } : undefined;
  }

  async delete(key: string): Promise<void> {
    await fs.rm(this.pathOf(key), { force: true });
  }

  /**
   * Removes every temporary file: writes that died between write and rename. Only safe while no
   * other process writes to this store, which the data-directory lock (storage/data-dir.ts) proves
   * at start; so it is called once, then, and not on a timer.
   */
  async sweepTemporary(): Promise<{ files: number; bytes: number }> {
    const dir = path.join(this.root, TEMP_DIR);
    const names = await fs.readdir(dir).catch(() => [] as string[]);
    let files = 0;
    let bytes = 0;
    for (const name of names) {
      const file = path.join(dir, name);
      const s = await fs.lstat(file).catch(() => undefined);
      if (!s?.isFile()) continue;
      await fs.rm(file, { force: true });
      files += 1;
      bytes += s.size;
    }
    return { files, bytes };
  }

  /** Every blob in the store with its size and last change, for reconciling with the database's rows. */
  async *list(): AsyncGenerator<{ key: string; size: number; mtimeMs: number }> {
    const namespaces = await fs.readdir(this.root, { withFileTypes: true }).catch(() => []);
    for (const namespace of namespaces) {
      if (!namespace.isDirectory() || namespace.name === TEMP_DIR) continue;
      const nsDir = path.join(this.root, namespace.name);
      for (const shard of await fs.readdir(nsDir, { withFileTypes: true }).catch(() => [])) {
        if (!shard.isDirectory()) continue;
        const shardDir = path.join(nsDir, shard.name);
        for (const name of await fs.readdir(shardDir).catch(() => [] as string[])) {
          const key = `${namespace.name}/${name}`;
          if (!KEY.test(key)) continue;
          const s = await fs.lstat(path.join(shardDir, name)).catch(() => undefined);
          if (s?.isFile()) yield { key, size: s.size, mtimeMs: s.mtimeMs };
        }
      }
    }
  }
}

/** A stream to a new file, hashed on the way, fsynced. */
async function writeStream(temp: string, source: Readable): Promise<{ size: number; sha256: string }> {
  const hash = createHash('sha256');
  let size = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      size += chunk.length;
      done(null, chunk);
    },
  });
  await pipeline(source, counter, createWriteStream(temp, { flags: 'wx', mode: BLOB_FILE_MODE }));
  // fsync flushes the file whichever descriptor asks (a FileHandle stream never closes under pipeline on Node 20).
  const handle = await fs.open(temp, 'r+');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
  return { size, sha256: hash.digest('hex') };
}

/**
 * Parts in memory to a new file with writev, fsynced; hashed on this thread (SHA-NI: ~11 ms
 * for an 18 MB DX object; WebCrypto's digest copies its input first and took ~60 ms here).
 */
async function writeParts(temp: string, parts: readonly Uint8Array[]): Promise<{ size: number; sha256: string }> {
  const digest = digestOf(parts);
  const handle = await fs.open(temp, 'wx', BLOB_FILE_MODE);
  try {
    // writev may write less than asked (large totals); it is repeated from where it stopped.
    const views = parts.map((p) => (Buffer.isBuffer(p) ? p : Buffer.from(p.buffer, p.byteOffset, p.byteLength)));
    while (views.length > 0) {
      let { bytesWritten } = await handle.writev(views);
      if (bytesWritten === 0) throw new Error(`no progress writing ${temp}`);
      while (views.length > 0 && bytesWritten >= views[0].length) bytesWritten -= views.shift()!.length;
      if (bytesWritten > 0) views[0] = views[0].subarray(bytesWritten);
    }
    await handle.sync();
  } finally {
    await handle.close();
  }
  return digest;
}

/** Size and hex SHA-256 of a file given as its parts. */
const fsyncAsync = (fd: number) => new Promise<void>((resolve, reject) => fsSync.fsync(fd, (error) => (error ? reject(error) : resolve())));

function digestOf(parts: readonly Uint8Array[]): { size: number; sha256: string } {
  const hash = createHash('sha256');
  let size = 0;
  for (const part of parts) {
    hash.update(part);
    size += part.length;
  }
  return { size, sha256: hash.digest('hex') };
}
