import { readPart10, writePart10 } from '../dicom/part10.js';
import { TRANSFER_SYNTAX } from '../dicom/reader.js';
import { STATUS } from './command.js';
import { DatasetError, explicitToImplicit, splitPart10, type SplitFile } from './dataset.js';
import type { LogLine } from './link.js';
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
 * does not take the compressed syntax can still accept.
 */
function contextsFor(files: SplitFile[]): { abstractSyntax: string; transferSyntaxes: string[] }[] {
  const bySop = new Map<string, Set<string>>();
  for (const f of files) bySop.set(f.sopClassUid, (bySop.get(f.sopClassUid) ?? new Set<string>()).add(f.transferSyntax));
  const contexts: { abstractSyntax: string; transferSyntaxes: string[] }[] = [];
  for (const [sop, syntaxes] of bySop) {
    for (const ts of syntaxes) if (!UNCOMPRESSED.includes(ts)) contexts.push({ abstractSyntax: sop, transferSyntaxes: [ts] });
    contexts.push({ abstractSyntax: sop, transferSyntaxes: syntaxes.has(IMPLICIT_LE) && !syntaxes.has(EXPLICIT_LE) ? [IMPLICIT_LE, EXPLICIT_LE] : UNCOMPRESSED });
  }
  return contexts;
}

/** The dataset in `target` syntax, or why it cannot be. */
function datasetIn(file: SplitFile, whole: Buffer, target: string): Buffer[] {
  if (file.transferSyntax === target) return [file.dataset];
  if (file.transferSyntax === EXPLICIT_LE && target === IMPLICIT_LE) return explicitToImplicit(file.dataset);
  if ([IMPLICIT_LE, TRANSFER_SYNTAX.EXPLICIT_BE, TRANSFER_SYNTAX.DEFLATED_LE].includes(file.transferSyntax) && target === EXPLICIT_LE) {
    // dcmjs reads these with its dictionary's VRs and writes explicit little endian.
    return [splitPart10(writePart10(readPart10(whole))).dataset];
  }
  throw new DatasetError(`the object is in ${file.transferSyntax} and the peer accepted only ${target}; decompressing for sending is not supported`);
}

/**
 * Sends Part 10 files over one association (a study goes as one), in order, and reports each
 * object's outcome. Association failures throw DimseError (the caller retries); a refusal of
 * one object is that object's outcome.
 */
export async function storeFiles(target: StoreTarget, files: Buffer[], log: LogLine, onOutcome?: (o: StoreOutcome, index: number) => void | Promise<void>): Promise<StoreOutcome[]> {
  const split = files.map((f) => splitPart10(f));
  const outcomes: StoreOutcome[] = [];
  await Association.run({ ...target, contexts: contextsFor(split), log }, async (association) => {
    for (let i = 0; i < split.length; i += 1) {
      const file = split[i]!;
      const context = association.contextFor(file.sopClassUid, (ts) => ts === file.transferSyntax)
        ?? association.contextFor(file.sopClassUid, (ts) => UNCOMPRESSED.includes(ts));
      let outcome: StoreOutcome;
      if (!context) {
        outcome = { sopInstanceUid: file.sopInstanceUid, status: STATUS.SOP_CLASS_NOT_SUPPORTED, comment: `the peer accepted no presentation context for SOP class ${file.sopClassUid}` };
        log('E', outcome.comment);
      } else {
        try {
          const response = await association.store(context.id, file.sopClassUid, file.sopInstanceUid, datasetIn(file, files[i]!, context.transferSyntax));
          outcome = { sopInstanceUid: file.sopInstanceUid, status: response.status ?? -1, comment: response.errorComment ?? '' };
        } catch (error) {
          if (!(error instanceof DatasetError)) throw error;
          outcome = { sopInstanceUid: file.sopInstanceUid, status: STATUS.CANNOT_UNDERSTAND, comment: error.message };
          log('E', error.message);
        }
      }
      outcomes.push(outcome);
      await onOutcome?.(outcome, i);
    }
  });
  return outcomes;
}
