import { STATUS, statusText } from '../../dimse/command.js';
import { Association, EXPLICIT_LE, IMPLICIT_LE, VERIFICATION } from '../../dimse/scu.js';
import { AppError } from '../../util/errors.js';
import { DimseOutput } from '../../dimse/output.js';
import type { EchoInput } from './schemas.js';

/** C-ECHO to a node, answered with echoscu-style output lines. */
export async function echo(input: EchoInput, timeoutMs = 10_000) {
  const output = new DimseOutput(input.verbose ?? false, input.debug ?? false);
  const status = await Association.run(
    {
      host: input.address,
      port: input.port,
      calledAet: input.aet.trim(),
      callingAet: input.aec.trim(),
      contexts: [{ abstractSyntax: VERIFICATION, transferSyntaxes: [EXPLICIT_LE, IMPLICIT_LE] }],
      connectTimeoutMs: timeoutMs,
      dimseTimeoutMs: timeoutMs,
      log: output.log,
    },
    (association) => association.echo(),
  );
  if (status !== STATUS.SUCCESS) throw new AppError('DICOM_PROTOCOL', [], `the node answered the echo with ${statusText(status)}`);
  return { ok: true, output: output.text() };
}
