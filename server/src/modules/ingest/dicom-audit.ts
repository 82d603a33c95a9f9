import type { Insertable } from 'kysely';
import type { AuditLogsTable } from '../../db/schema.js';
import type { ScpPeer, ScpRefusal, StoreSummary } from '../../dimse/scp.js';
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
  const actions = {
    'store-not-authorized': 'dicom.store.not_authorized',
    'store-too-large': 'dicom.store.too_large',
    'duplicate-refused': 'dicom.store.duplicate_refused',
  } as const;
  const reasons = {
    'store-not-authorized': 'the calling AE may not store here',
    'store-too-large': `object larger than dicom.max_object_bytes${event.kind === 'store-too-large' ? ` (${event.limit})` : ''}`,
    'duplicate-refused': event.kind === 'duplicate-refused' ? event.reason : '',
  } as const;
  return {
    ...common,
    action: actions[event.kind],
    resource_type: 'instance',
    resource_id: event.sopInstanceUid,
    method: 'C-STORE',
    status_code: status ?? 0,
    detail: JSON.stringify({
      ...who,
      sop_class_uid: event.sopClassUid,
      status: status === undefined ? null : hex(status),
      reason: reasons[event.kind],
    }),
  };
}

/** The audit row of an association that stored objects: who sent, from where, how many, how much, which studies. */
export function dicomStoreRow(summary: StoreSummary): Insertable<AuditLogsTable> {
  const peer = summary.peer;
  return {
    created_at: nowIso(),
    user_id: null,
    username: null,
    action: 'dicom.store',
    resource_type: 'dicom_association',
    resource_id: peer.callingAet,
    method: 'C-STORE',
    path: `dicom://${peer.calledAet}`,
    status_code: 0,
    outcome: 'success',
    source: 'dicom',
    ip: peer.address,
    request_id: peer.associationId,
    detail: JSON.stringify({
      calling_aet: peer.callingAet,
      called_aet: peer.calledAet,
      peer_address: peer.address,
      objects: summary.objects,
      bytes: summary.bytes,
      studies: summary.studies,
      study_instance_uids: summary.studyInstanceUids,
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

  /** One row per association that stored objects, written when it ends. */
  async recordStores(summary: StoreSummary): Promise<void> {
    try {
      await this.audit.append(dicomStoreRow(summary));
    } catch (error) {
      this.log(`audit log write failed for dicom.store: ${(error as Error).message}`);
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
