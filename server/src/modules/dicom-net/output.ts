import { AppError } from '../../http/errors.js';
import type { LogLine } from '../../dimse/link.js';
import { DimseError } from '../../dimse/scu.js';

/**
 * The text our DIMSE exchanges report, as DCMTK's tools print it: `I:` lines with verbose,
 * `D:` lines too with debug, errors always.
 */
export class DimseOutput {
  private readonly lines: string[] = [];

  constructor(private readonly verbose: boolean, private readonly debug: boolean) {}

  readonly log: LogLine = (level, text) => {
    if (level === 'E' || (level === 'I' && (this.verbose || this.debug)) || (level === 'D' && this.debug)) this.lines.push(`${level}: ${text}`);
  };

  text(): string {
    return this.lines.map((l) => `${l}\n`).join('');
  }
}

/** A DIMSE failure as the catalogue's error. */
export function asDicomAppError(error: unknown): unknown {
  if (!(error instanceof DimseError)) return error;
  switch (error.kind) {
    case 'refused':
    case 'unreachable': return new AppError('DICOM_PEER_UNREACHABLE', [], error.message);
    case 'rejected':
    case 'no-context': return new AppError('DICOM_ASSOCIATION_REJECTED', [], error.message);
    case 'timeout': return new AppError('DICOM_TIMEOUT', [], error.message);
    default: return new AppError('DICOM_PROTOCOL', [], error.message);
  }
}
