import { STATUS, statusText } from '../../dimse/command.js';
import { DimseOutput } from '../../dimse/output.js';
import { Association, DimseError, EXPLICIT_LE, IMPLICIT_LE, VERIFICATION, type DimseFailureKind } from '../../dimse/scu.js';
import { AppError } from '../../util/errors.js';
import type { PacsRepository } from '../pacs/repository.js';
import type { ConfigService } from '../system/config-service.js';
import type { EchoInput } from './schemas.js';

/**
 * What a failed echo tells a caller allowed to echo anywhere (pacs:write): which way it failed,
 * in our words. Nothing the remote end sent is repeated (a banner's bytes, a PDU's length).
 */
const FAILURE_TEXT: Record<DimseFailureKind, string> = {
  refused: 'association failed: connection refused',
  unreachable: 'association failed: host unreachable',
  timeout: 'association failed: timed out',
  rejected: 'association rejected by the peer',
  'no-context': 'association failed: the peer does not offer Verification',
  aborted: 'association failed: not a DICOM peer',
  protocol: 'association failed: not a DICOM peer',
};

/** For everyone else (echo only to configured nodes): closed and open-but-not-DICOM read the same. */
const NO_DICOM_SERVICE = 'association failed: no DICOM service answered';

/**
 * C-ECHO to a node, answered with echoscu-style output lines (`scp/echo`). A caller with
 * pacs:read may echo only a configured node (a PACS node's address, port and AE title, or the
 * RIS); one with pacs:write (who may add nodes anyway) any address, so the route is no port
 * scanner for every reader.
 */
export class EchoService {
  constructor(
    private readonly nodes: PacsRepository,
    private readonly configs: ConfigService,
    private readonly timeoutMs = 10_000,
  ) {}

  async echo(input: EchoInput, caller: { anyNode: boolean }) {
    const target = { address: input.address, port: input.port, aet: input.aet.trim() };
    if (!caller.anyNode && !(await this.configured(target))) throw new AppError('ECHO_NODE_NOT_CONFIGURED');
    const output = new DimseOutput(input.verbose ?? false, input.debug ?? false);
    let status: number;
    try {
      status = await Association.run(
        {
          host: target.address,
          port: target.port,
          calledAet: target.aet,
          callingAet: input.aec.trim(),
          contexts: [{ abstractSyntax: VERIFICATION, transferSyntaxes: [EXPLICIT_LE, IMPLICIT_LE] }],
          connectTimeoutMs: this.timeoutMs,
          dimseTimeoutMs: this.timeoutMs,
          log: output.log,
        },
        (association) => association.echo(),
      );
    } catch (error) {
      throw echoFailure(error, caller.anyNode);
    }
    if (status !== STATUS.SUCCESS) throw new AppError('DICOM_PROTOCOL', [], `the node answered the echo with ${statusText(status)}`);
    return { ok: true, output: output.text() };
  }

  private async configured(target: { address: string; port: number; aet: string }): Promise<boolean> {
    if (await this.nodes.configured(target.address, target.port, target.aet)) return true;
    const [address, port, aet] = await Promise.all([
      this.configs.getString('ris.address'),
      this.configs.getNumber('ris.port'),
      this.configs.getString('ris.aet'),
    ]);
    return address.trim() === target.address && port === target.port && aet.trim() === target.aet;
  }
}

/** The error a failed echo answers with: the failure's kind in our words only. */
export function echoFailure(error: unknown, detailed: boolean): DimseError {
  const kind: DimseFailureKind = error instanceof DimseError ? error.kind : 'protocol';
  if (detailed) return new DimseError(kind, kind === 'rejected' && error instanceof Error ? error.message : FAILURE_TEXT[kind]);
  if (kind === 'rejected' || kind === 'no-context' || kind === 'timeout') return new DimseError(kind, FAILURE_TEXT[kind]);
  return new DimseError('refused', NO_DICOM_SERVICE);
}
