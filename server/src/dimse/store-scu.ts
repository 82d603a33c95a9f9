import fs from 'node:fs';
import { readPart10, writePart10 } from '../dicom/part10.js';
import { decompressToExplicitLe } from '../dicom/decompress.js';
import { DicomReadError, TRANSFER_SYNTAX } from '../dicom/reader.js';
import { STATUS } from './command.js';
import { DatasetError, explicitToImplicit, splitPart10, type SplitFile } from './dataset.js';
import type { FileRange, LogLine } from './link.js';
import { Association, EXPLICIT_LE, IMPLICIT_LE } from './scu.js';

const UNCOMPRESSED = [EXPLICIT_LE, IMPLICIT_LE];

export interface StoreTarget {
  host: string;
  port: number;
  callingAet: string;
  calledAet: string;
  connectTimeoutMs?: number;
  dimseTimeoutMs?: number;
}

export interface StoreOutcome {
  sopInstanceUid: string;
  status: number;
  /** The peer's Error Comment, or our reason when we could not send at all. */
  comment: string;
}

/** Success and warnings (0xB000…) are stored; failures are not. */
export const stored = (status: number) => status === STATUS.SUCCESS || (status & 0xf000) === 0xb000;

/**
 * The presentation contexts for a set of objects: each SOP class with the objects' own transfer
 * syntaxes first (sent as they are), and an uncompressed context as the fallback a PACS that
 * does not take the compressed syntax can still accept (the object is decompressed for it).
 */
function contextsFor(files: SplitFile[]): { abstractSyntax: string; transferSyntaxes: string[] }[] {
  const bySop = new Map<string, Set<string>>();
  for (const f of files) bySop.set(f.sopClassUid, (bySop.get(f.sopClassUid) ?? new Set<string>()).add(f.transferSyntax));
  const contexts: { abstractSyntax: string; transferSyntaxes: string[] }[] = [];
  for (const [sop, syntaxes] of bySop) {
    for (const ts of syntaxes) if (!UNCOMPRESSED.includes(ts)) contexts.push({ abstractSyntax: sop, transferSyntaxes: [ts] });
    contexts.push({
      abstractSyntax: sop,
      transferSyntaxes: syntaxes.has(IMPLICIT_LE) && !syntaxes.has(EXPLICIT_LE) ? [IMPLICIT_LE, EXPLICIT_LE] : UNCOMPRESSED,
    });
  }
  return contexts;
}

/** The dataset in `target` syntax, or why it cannot be. */
async function datasetIn(file: SplitFile, whole: Buffer, target: string): Promise<Buffer[]> {
  if (file.transferSyntax === target) return [file.dataset];
  if (file.transferSyntax === EXPLICIT_LE && target === IMPLICIT_LE) return explicitToImplicit(file.dataset);
  if ([IMPLICIT_LE, TRANSFER_SYNTAX.EXPLICIT_BE, TRANSFER_SYNTAX.DEFLATED_LE].includes(file.transferSyntax) && target === EXPLICIT_LE) {
    // dcmjs reads these with its dictionary's VRs and writes explicit little endian.
    return [splitPart10(writePart10(readPart10(whole))).dataset];
  }
  if (!UNCOMPRESSED.includes(target)) throw new DatasetError(`the object is in ${file.transferSyntax} and cannot be sent in ${target}`);
  // Compressed, and the peer took only the uncompressed fallback.
  let explicit: Buffer;
  try {
    explicit = splitPart10(await decompressToExplicitLe(whole)).dataset;
  } catch (error) {
    if (!(error instanceof DicomReadError)) throw error;
    throw new DatasetError(
      `the object is in ${file.transferSyntax}, the peer accepted only ${target}, and it cannot be decompressed: ${error.message}`,
    );
  }
  return target === EXPLICIT_LE ? [explicit] : explicitToImplicit(explicit);
}

/** What to send: a Part 10 file in memory, or one on disk (read just before it is sent). */
export type StoreSource = Buffer | { path: string };

/** Files up to this size are read with synchronous calls (thread-pool round trips cost more than the read). */
const SMALL_FILE = 1024 * 1024;
/** Enough for any meta header we have met; a longer one is read again whole. */
const META_PEEK = 4096;

/**
 * Reads files for one association into one buffer, reused: an 18 MB object read into a fresh
 * buffer cost ~50 ms of page faults here (storescu reads through one buffer too).
 */
class FileReader {
  private buffer = Buffer.alloc(0);

  /** The meta header's facts without reading the dataset. */
  async peek(source: StoreSource): Promise<SplitFile> {
    if (Buffer.isBuffer(source)) return splitPart10(source);
    const head = await this.readRange(source.path, META_PEEK);
    try {
      return splitPart10(head, true);
    } catch (error) {
      if (!(error instanceof DatasetError) || head.length < META_PEEK) throw error;
      return splitPart10(await this.read(source));
    }
  }

  /** The whole file; for a path, in the reused buffer (valid until the next read). */
  async read(source: StoreSource): Promise<Buffer> {
    if (Buffer.isBuffer(source)) return source;
    return this.readRange(source.path, Infinity);
  }

  private async readRange(file: string, limit: number): Promise<Buffer> {
    const fd = fs.openSync(file, 'r');
    try {
      const size = Math.min(fs.fstatSync(fd).size, limit);
      if (limit === Infinity && this.buffer.length < size) this.buffer = Buffer.allocUnsafe(size);
      const into = limit === Infinity ? this.buffer : Buffer.allocUnsafe(size);
      let at = 0;
      while (at < size) {
        const n = size <= SMALL_FILE ? fs.readSync(fd, into, at, size - at, at) : await readAsync(fd, into, at, size - at);
        if (n === 0) throw new DatasetError(`${file} ended at ${at} of ${size} bytes`);
        at += n;
      }
      return into.subarray(0, size);
    } finally {
      fs.closeSync(fd);
    }
  }
}

function readAsync(fd: number, into: Buffer, at: number, length: number): Promise<number> {
  return new Promise((resolve, reject) => fs.read(fd, into, at, length, at, (error, n) => (error ? reject(error) : resolve(n))));
}

/**
 * Sends Part 10 files over one association (a study goes as one), in order, and reports each
 * object's outcome. Association failures throw DimseError (the caller retries); a refusal of
 * one object is that object's outcome. Files on disk are read one at a time as they are sent.
 */
export async function storeFiles(
  target: StoreTarget,
  sources: StoreSource[],
  log: LogLine,
  onOutcome?: (o: StoreOutcome, index: number) => void | Promise<void>,
): Promise<StoreOutcome[]> {
  const reader = new FileReader();
  const heads: SplitFile[] = [];
  for (const source of sources) heads.push(await reader.peek(source));
  const outcomes: StoreOutcome[] = [];
  await Association.run({ ...target, contexts: contextsFor(heads), log }, async (association) => {
    for (let i = 0; i < heads.length; i += 1) {
      const head = heads[i];
      const context =
        association.contextFor(head.sopClassUid, (ts) => ts === head.transferSyntax) ??
        association.contextFor(head.sopClassUid, (ts) => UNCOMPRESSED.includes(ts));
      let outcome: StoreOutcome;
      if (!context) {
        outcome = {
          sopInstanceUid: head.sopInstanceUid,
          status: STATUS.SOP_CLASS_NOT_SUPPORTED,
          comment: `the peer accepted no presentation context for SOP class ${head.sopClassUid}`,
        };
        log('E', outcome.comment);
      } else {
        try {
          const source = sources[i];
          let dataset: readonly Buffer[] | FileRange;
          if (!Buffer.isBuffer(source) && context.transferSyntax === head.transferSyntax) {
            // As it is on disk: streamed from the file while it goes out.
            dataset = { path: source.path, offset: head.datasetOffset, length: fs.statSync(source.path).size - head.datasetOffset };
          } else {
            const whole = await reader.read(source);
            const file = splitPart10(whole);
            if (file.sopInstanceUid !== head.sopInstanceUid)
              throw new DatasetError(`the file changed while queued (now ${file.sopInstanceUid})`);
            dataset = await datasetIn(file, whole, context.transferSyntax);
          }
          const response = await association.store(context.id, head.sopClassUid, head.sopInstanceUid, dataset);
          outcome = { sopInstanceUid: head.sopInstanceUid, status: response.status ?? -1, comment: response.errorComment ?? '' };
        } catch (error) {
          if (!(error instanceof DatasetError)) throw error;
          outcome = { sopInstanceUid: head.sopInstanceUid, status: STATUS.CANNOT_UNDERSTAND, comment: error.message };
          log('E', error.message);
        }
      }
      outcomes.push(outcome);
      await onOutcome?.(outcome, i);
    }
  });
  return outcomes;
}
