import type { FastifyRequest } from 'fastify';
import { contextOf } from '../audit/hook.js';
import type { AuditRepository } from '../audit/repository.js';
import { boundedDetail } from '../audit/serialize.js';
import { nowIso } from '../../util/time.js';

/**
 * Records a read of one patient's record before it is answered: the detail may show phone, ID
 * card and address in full, so each such read is a row of its own (not aggregated like study
 * views), and a read whose row cannot be written is not answered.
 */
export class PatientReadAudit {
  constructor(private readonly audit: AuditRepository) {}

  /** `patientId` undefined: a list (its query goes in `detail`, with personal numbers left out by the caller). */
  async record(request: FastifyRequest, action: string, patientId: number | undefined, detail: Record<string, unknown>): Promise<void> {
    const context = contextOf(request);
    const user = request.authUser;
    await this.audit.append({
      created_at: nowIso(),
      user_id: user?.id ?? null,
      username: user?.username ?? null,
      action,
      resource_type: 'patient',
      resource_id: patientId === undefined ? null : String(patientId),
      method: context.method,
      path: context.path,
      status_code: 200,
      outcome: 'success',
      source: request.source,
      ip: context.ip,
      request_id: context.requestId,
      session_id: user?.sessionId ?? null,
      detail: boundedDetail(detail),
    });
  }
}
