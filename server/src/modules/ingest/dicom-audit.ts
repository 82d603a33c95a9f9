import type { Insertable } from 'kysely';
import type { AuditLogsTable } from '../../db/schema.js';
import type { ScpPeer, ScpRefusal } from '../../dimse/scp.js';
import { nowIso } from '../../util/time.js';
import type { AuditRepository } from '../audit/repository.js';

/** What our DICOM service refused, for the audit log (source `dicom`). */
export type DicomAuditEvent =
  | ScpRefusal
  | {
      kind: 'duplicate-refused';
      /** Unknown when the indexer found it (the object came from the journal after a restart). */
      peer?: ScpPeer;
      sopClassUid: string;
      sopInstanceUid: string;
      status?: number;
      reason: string;
    };

/** An association rejection is recorded once per calling AE and address in this window (a flood writes one row). */
const REJECTION_WINDOW_MS = 60_000;
const REJECTIONS_REMEMBERED = 1_000;

const hex = (status: number) => `0x${status.toString(16).toUpperCase().padStart(4, '0')}`;

/** The audit row of an event: who (the calling AE, in `detail`: no user), from where (`ip`), what (`action`, the UID in `resource_id`). */
export function dicomAuditRow(event: DicomAuditEvent): Insertable<AuditLogsTable> {
  const peer = event.peer;
  const common = {
    created_at: nowIso(),
    user_id: null,
    username: null,
    path: peer ? `dicom://${peer.calledAet}` : 'dicom://ingest-index',
    outcome: 'failure' as const,
    source: 'dicom',
    ip: peer?.address ?? '',
    request_id: peer?.associationId ?? '',
  };
  const who = { calling_aet: peer?.callingAet ?? null, called_aet: peer?.calledAet ?? null, peer_address: peer?.address ?? null };
  if (event.kind === 'association-rejected')
    return {
      ...common,
      action: 'dicom.association.rejected',
      resource_type: 'dicom_association',
      resource_id: peer?.callingAet ?? null,
      method: 'A-ASSOCIATE',
      status_code: 0,
      detail: JSON.stringify({ ...who, reason: event.reason }),
    };
  const status = event.status;
  return {
    ...common,
    action: event.kind === 'store-not-authorized' ? 'dicom.store.not_authorized' : 'dicom.store.duplicate_refused',
    resource_type: 'instance',
    resource_id: event.sopInstanceUid,
    method: 'C-STORE',
    status_code: status ?? 0,
    detail: JSON.stringify({
      ...who,
      sop_class_uid: event.sopClassUid,
      status: status === undefined ? null : hex(status),
      reason: event.kind === 'store-not-authorized' ? 'the calling AE may not store here' : event.reason,
    }),
  };
}

/**
 * Writes the DICOM service's refusals to the audit log before the refusal is answered. A
 * failure to write is logged, never turned into an acceptance.
 */
export class DicomAudit {
  private readonly lastRejection = new Map<string, number>();

  constructor(
    private readonly audit: AuditRepository,
    private readonly log: (message: string) => void = () => undefined,
  ) {}

  async record(event: DicomAuditEvent): Promise<void> {
    if (event.kind === 'association-rejected' && this.recentlyRejected(event.peer)) return;
    try {
      await this.audit.append(dicomAuditRow(event));
    } catch (error) {
      this.log(`audit log write failed for ${event.kind}: ${(error as Error).message}`);
    }
  }

  private recentlyRejected(peer: ScpPeer): boolean {
    const key = `${peer.callingAet}\n${peer.address}`;
    const now = Date.now();
    const last = this.lastRejection.get(key);
    if (last !== undefined && now - last < REJECTION_WINDOW_MS) return true;
    if (this.lastRejection.size >= REJECTIONS_REMEMBERED) this.lastRejection.clear();
    this.lastRejection.set(key, now);
    return false;
  }
}
