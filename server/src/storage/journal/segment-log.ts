import { randomUUID } from 'node:crypto';
import fsSync from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import { ALIGN, BLOCK_BYTES, roundUp } from './aligned-blocks.js';

/**
 * The part of the ingest journal that small objects go to: preallocated segment files that
 * records are appended to, each durable (O_DSYNC) before its object is acknowledged.
 *
 * Why not a file per object, as large objects get: creating a file, allocating its blocks and
 * committing both in the filesystem's journal is what made our acknowledgement slow. Measured
 * on this VM for a 130 KB object: new file + write + fsync 0.30 ms, overwrite of a zero-filled
 * segment + fdatasync 0.11 ms; with another thread creating, linking and fsyncing files (the
 * indexer) 0.48 ms against 0.17 ms; and inside the server, with the indexer running, the
 * create alone took ~0.65 ms. Overwriting blocks that are already allocated and initialised
 * changes no metadata, so the sync is only a cache flush and waits for nobody's metadata. O_DSYNC
 * rather than write + fdatasync: one call, the same flush (~0.01 ms less here).
 *
 * A record is a 64-byte header (magic, segment sequence, payload length, CRC-32 of the payload,
 * CRC-32 of the header) and the payload, padded to 4 KB. Records are appended strictly one after
 * another, each durable before the next is written, so the acknowledged ones are a prefix of
 * their segment; recovery reads that prefix and stops at the first record that does not check
 * (a torn write, never acknowledged, or a record of the segment's previous life: a recycled
 * segment keeps its old bytes, and a new sequence number that they do not carry).
 *
 * A checkpoint file says where the first record not yet indexed is; segments wholly before it
 * are recycled as spares (renamed; their blocks stay allocated), so after the first few the
 * journal writes no new blocks at all.
 */
export const SEGMENT_BYTES = 16 * 1024 * 1024;
export const RECORD_HEADER = 64;
/** The largest payload a record takes (one aligned block with its header); larger objects get a file each. */
export const RECORD_MAX = BLOCK_BYTES - RECORD_HEADER;
const MAGIC = 0x4a4e4752; // "RGNJ" little endian
const VERSION = 1;
/**
 * Passed segments kept as spares, up to this many; a new one is zero-filled only when none is
 * left. Zero-filling 16 MB while a sender was sending slowed its acknowledgements (the burst
 * that switches segments is the one whose records keep the previous segment from recycling).
 */
const SPARES_KEPT = 4;

/** An appended object: its payload is `length` bytes at `offset + RECORD_HEADER` of `segment`. */
export interface RecordEntry {
  segment: string;
  seq: number;
  offset: number;
  length: number;
}

interface Position {
  seq: number;
  offset: number;
}

const before = (a: Position, b: Position) => a.seq < b.seq || (a.seq === b.seq && a.offset < b.offset);
const segmentName = (seq: number) => `${String(seq).padStart(12, '0')}.seg`;
const SEGMENT_FILE = /^(\d{12})\.seg$/;

export class SegmentLog {
  private current: { seq: number; fd: number; file: string; offset: number } | undefined;
  private highestSeq = 0;
  private readonly spares: string[] = [];
  /** Appended records not yet settled (indexed or set aside), in append order. */
  private readonly outstanding: RecordEntry[] = [];
  private durableCheckpoint: Position = { seq: 0, offset: 0 };
  private closed = false;
  /** Failing, the checkpoint stays where it was: more records are indexed again after a restart (idempotent). */
  private readonly checkpointer = new SerialTask(
    () => this.writeCheckpoint(),
    () => this.closed,
  );
  /** Failing, no spare is ready: small objects get a file each until one can be made (disk full, say). */
  private readonly maintainer = new SerialTask(
    () => this.maintainOnce(),
    () => this.closed,
  );

  /** `direct`: segments are written with O_DIRECT from the aligned blocks the caller fills. */
  constructor(
    readonly dir: string,
    private readonly direct: boolean,
    private readonly warn: (message: string) => void = () => undefined,
  ) {}

  /**
   * Start-up: the records an earlier run appended and did not index, in order, and a spare
   * segment ready (zero-filled the first time: 16 MB written once per data directory).
   */
  async recover(): Promise<RecordEntry[]> {
    await fs.mkdir(this.dir, { recursive: true });
    const checkpoint = await this.readCheckpoint();
    this.durableCheckpoint = checkpoint;
    this.highestSeq = checkpoint.seq;
    const found: RecordEntry[] = [];
    for (const name of (await fs.readdir(this.dir)).sort()) {
      const file = path.join(this.dir, name);
      const seq = Number(SEGMENT_FILE.exec(name)?.[1] ?? NaN);
      if (name.startsWith('spare-') && name.endsWith('.seg')) this.spares.push(file);
      else if (name.endsWith('.tmp')) await fs.rm(file, { force: true });
      else if (Number.isFinite(seq)) {
        this.highestSeq = Math.max(this.highestSeq, seq);
        if (seq >= checkpoint.seq) found.push(...(await scanSegment(file, seq, seq === checkpoint.seq ? checkpoint.offset : 0)));
      }
    }
    this.outstanding.push(...found);
    this.maintainer.request();
    await this.idle();
    return found;
  }

  /**
   * Appends a record from `block`, whose bytes from RECORD_HEADER on hold the payload (the
   * caller filled them; this writes the header and the padding) and makes it durable. Undefined
   * when there is no room left and no spare ready: the caller writes the object elsewhere.
   */
  append(block: Buffer, length: number): RecordEntry | undefined {
    if (this.closed) throw new Error('the ingest journal is closed');
    const padded = roundUp(RECORD_HEADER + length);
    if (padded > block.length) throw new Error('a record larger than its block');
    if (!this.current || this.current.offset + padded > SEGMENT_BYTES) {
      if (!this.nextSegment()) return undefined;
    }
    const current = this.current!;
    const payloadCrc = crc32(block.subarray(RECORD_HEADER, RECORD_HEADER + length));
    block.fill(0, 0, RECORD_HEADER);
    block.writeUInt32LE(MAGIC, 0);
    block.writeUInt32LE(VERSION, 4);
    block.writeBigUInt64LE(BigInt(current.seq), 8);
    block.writeUInt32LE(length, 16);
    block.writeUInt32LE(payloadCrc, 20);
    block.writeUInt32LE(crc32(block.subarray(0, RECORD_HEADER - 4)), RECORD_HEADER - 4);
    block.fill(0, RECORD_HEADER + length, padded);
    // The segment is open with O_DSYNC: durable when the write returns.
    if (fsSync.writeSync(current.fd, block, 0, padded, current.offset) !== padded)
      throw new Error('short write to the ingest journal (disk full?)');
    const entry: RecordEntry = { segment: current.file, seq: current.seq, offset: current.offset, length };
    current.offset += padded;
    this.outstanding.push(entry);
    return entry;
  }

  /** Records indexed or set aside: the checkpoint moves past them and fully passed segments are recycled. */
  settle(entries: readonly RecordEntry[]): void {
    if (entries.length === 0) return;
    const done = new Set(entries.map((e) => `${e.seq}@${e.offset}`));
    for (let i = this.outstanding.length - 1; i >= 0; i -= 1) {
      const e = this.outstanding[i];
      if (done.has(`${e.seq}@${e.offset}`)) this.outstanding.splice(i, 1);
    }
    this.checkpointer.request();
  }

  /** Waits for the checkpoint and spare work in flight (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.checkpointer.running || this.maintainer.running) await (this.checkpointer.running ?? this.maintainer.running);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.idle();
    if (this.current) fsSync.closeSync(this.current.fd);
    this.current = undefined;
  }

  /** Where the first record still to be indexed is, or where the next will be written. */
  private checkpoint(): Position {
    const first = this.outstanding.at(0);
    if (first) return { seq: first.seq, offset: first.offset };
    return this.current ? { seq: this.current.seq, offset: this.current.offset } : { seq: this.highestSeq + 1, offset: 0 };
  }

  /** The checkpoint (temp, fsync, rename, directory fsync), when it has moved; then what it passed is recycled. */
  private async writeCheckpoint(): Promise<void> {
    const position = this.checkpoint();
    if (!before(this.durableCheckpoint, position)) return;
    const temp = path.join(this.dir, `checkpoint.${randomUUID().slice(0, 8)}.tmp`);
    await fs.writeFile(temp, JSON.stringify(position), { flush: true });
    await fs.rename(temp, path.join(this.dir, 'checkpoint'));
    await syncDir(this.dir);
    this.durableCheckpoint = position;
    this.maintainer.request();
  }

  /** Recycles what the checkpoint has passed; zero-fills a spare when none is left. */
  private async maintainOnce(): Promise<void> {
    await this.recycle();
    if (this.spares.length === 0 && !this.closed) this.spares.push(await newSpare(this.dir));
  }

  /** Segments wholly before the durable checkpoint: kept as spares (up to SPARES_KEPT) or removed. */
  private async recycle(): Promise<void> {
    for (const name of (await fs.readdir(this.dir)).sort()) {
      const seq = Number(SEGMENT_FILE.exec(name)?.[1] ?? NaN);
      if (!Number.isFinite(seq) || seq >= this.durableCheckpoint.seq || seq === this.current?.seq) continue;
      const file = path.join(this.dir, name);
      if (this.spares.length >= SPARES_KEPT) {
        await fs.rm(file, { force: true });
      } else {
        const spare = path.join(this.dir, `spare-${randomUUID()}.seg`);
        await fs.rename(file, spare);
        this.spares.push(spare);
      }
    }
  }

  /**
   * Makes a spare the current segment under the next sequence number. The rename is made
   * durable before anything is written to it: a record acknowledged in a segment whose new
   * name a crash lost would be read back under the old name and refused.
   */
  private nextSegment(): boolean {
    const spare = this.spares.shift();
    if (!spare) {
      this.maintainer.request();
      return false;
    }
    const seq = this.highestSeq + 1;
    const file = path.join(this.dir, segmentName(seq));
    let fd: number;
    try {
      fsSync.renameSync(spare, file);
      syncDirSync(this.dir);
      fd = fsSync.openSync(file, fsSync.constants.O_WRONLY | fsSync.constants.O_DSYNC | (this.direct ? fsSync.constants.O_DIRECT : 0));
    } catch (error) {
      this.maintainer.request();
      throw error;
    }
    if (this.current) fsSync.closeSync(this.current.fd);
    this.current = { seq, fd, file, offset: 0 };
    this.highestSeq = seq;
    this.maintainer.request();
    return true;
  }

  private async readCheckpoint(): Promise<Position> {
    const file = path.join(this.dir, 'checkpoint');
    const text = await fs.readFile(file, 'utf8').catch(() => undefined);
    if (text === undefined) return { seq: 0, offset: 0 };
    let parsed: Partial<Position> = {};
    try {
      parsed = JSON.parse(text) as Partial<Position>;
    } catch {
      /* reported below */
    }
    if (Number.isSafeInteger(parsed.seq) && Number.isSafeInteger(parsed.offset) && parsed.offset! % ALIGN === 0)
      return { seq: parsed.seq!, offset: parsed.offset! };
    // Indexing is idempotent: reading every segment again loses nothing acknowledged.
    this.warn(
      `ingest journal: the checkpoint ${file} is damaged (${JSON.stringify(text.slice(0, 80))}); every record in the segments is indexed again`,
    );
    return { seq: 0, offset: 0 };
  }
}

/**
 * Background work run one at a time, off the caller's path: asked for again while it runs, it
 * runs once more after (never twice at once). Its failures are dropped; the owner says what
 * that leaves.
 */
class SerialTask {
  running: Promise<void> | undefined;
  private again = false;

  constructor(
    private readonly work: () => Promise<void>,
    private readonly stopped: () => boolean,
  ) {}

  request(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = (async () => {
      do {
        this.again = false;
        await this.work();
        // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- request() sets it while work() is awaited
      } while (this.again && !this.stopped());
    })()
      .catch(() => undefined)
      .finally(() => {
        this.running = undefined;
      });
  }
}

/** A new spare: filled with zeros and fsynced, so its blocks are allocated and initialised before any record is written. */
async function newSpare(dir: string): Promise<string> {
  const temp = path.join(dir, `spare-${randomUUID()}.tmp`);
  const handle = await fs.open(temp, 'wx', 0o640);
  try {
    const zeros = Buffer.alloc(BLOCK_BYTES);
    for (let at = 0; at < SEGMENT_BYTES; at += zeros.length) await handle.write(zeros, 0, zeros.length, at);
    await handle.sync();
  } finally {
    await handle.close();
  }
  const spare = temp.replace(/\.tmp$/, '.seg');
  await fs.rename(temp, spare);
  return spare;
}

/** The records of a segment from `offset` on that check, up to the first that does not. */
async function scanSegment(file: string, seq: number, offset: number): Promise<RecordEntry[]> {
  const found: RecordEntry[] = [];
  const handle = await fs.open(file, 'r');
  try {
    const { size } = await handle.stat();
    const header = Buffer.alloc(RECORD_HEADER);
    let payload = Buffer.alloc(0);
    for (let at = offset; at + RECORD_HEADER <= size;) {
      await handle.read(header, 0, RECORD_HEADER, at);
      if (header.readUInt32LE(0) !== MAGIC || header.readUInt32LE(4) !== VERSION || header.readBigUInt64LE(8) !== BigInt(seq)) break;
      if (crc32(header.subarray(0, RECORD_HEADER - 4)) !== header.readUInt32LE(RECORD_HEADER - 4)) break;
      const length = header.readUInt32LE(16);
      if (length > RECORD_MAX || at + RECORD_HEADER + length > size) break;
      if (payload.length < length) payload = Buffer.alloc(length);
      const { bytesRead } = await handle.read(payload, 0, length, at + RECORD_HEADER);
      if (bytesRead !== length || crc32(payload.subarray(0, length)) !== header.readUInt32LE(20)) break;
      found.push({ segment: file, seq, offset: at, length });
      at += roundUp(RECORD_HEADER + length);
    }
  } finally {
    await handle.close();
  }
  return found;
}

/** A record's payload (the object as a Part 10 file). */
export async function readRecord(entry: RecordEntry): Promise<Buffer> {
  const handle = await fs.open(entry.segment, 'r');
  try {
    const payload = Buffer.allocUnsafe(entry.length);
    const { bytesRead } = await handle.read(payload, 0, entry.length, entry.offset + RECORD_HEADER);
    if (bytesRead !== entry.length) throw new Error(`${entry.segment} ends inside the record at ${entry.offset}`);
    return payload;
  } finally {
    await handle.close();
  }
}

async function syncDir(dir: string): Promise<void> {
  const handle = await fs.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function syncDirSync(dir: string): void {
  const fd = fsSync.openSync(dir, 'r');
  try {
    fsSync.fsyncSync(fd);
  } finally {
    fsSync.closeSync(fd);
  }
}
