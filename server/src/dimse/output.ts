import type { LogLine } from './link.js';

/**
 * The text our DIMSE exchanges report, as DCMTK's tools print it: `I:` lines with verbose,
 * `D:` lines too with debug, errors always.
 */
export class DimseOutput {
  private readonly lines: string[] = [];

  constructor(
    private readonly verbose: boolean,
    private readonly debug: boolean,
  ) {}

  readonly log: LogLine = (level, text) => {
    if (level === 'E' || (level === 'I' && (this.verbose || this.debug)) || (level === 'D' && this.debug))
      this.lines.push(`${level}: ${text}`);
  };

  text(): string {
    return this.lines.map((l) => `${l}\n`).join('');
  }
}
