import type { AuditRow } from './repository.js';

/** A coded value as DICOM PS3.15 / RFC 3881 write them (code, code system, display text). */
interface Coded {
  csd_code: string;
  codeSystemName: string;
  originalText: string;
}

const dcm = (code: string, text: string): Coded => ({ csd_code: code, codeSystemName: 'DCM', originalText: text });

const EVENTS = {
  authentication: dcm('110114', 'User Authentication'),
  instancesAccessed: dcm('110103', 'DICOM Instances Accessed'),
  export: dcm('110106', 'Export'),
  query: dcm('110112', 'Query'),
  patientRecord: dcm('110110', 'Patient Record'),
  securityAttributes: dcm('110137', 'User Security Attributes Changed'),
  securityAlert: dcm('110113', 'Security Alert'),
  auditLogUsed: dcm('110101', 'Audit Log Used'),
  applicationActivity: dcm('110100', 'Application Activity'),
};

type ActionCode = 'C' | 'R' | 'U' | 'D' | 'E';

/** The ATNA event a Roentgen action is, and what it did (create, read, update, delete, execute). */
function eventOf(row: AuditRow): { id: Coded; action: ActionCode; type?: Coded } {
  const byMethod: ActionCode = row.method === 'POST' ? 'C' : row.method === 'DELETE' ? 'D' : row.method === 'GET' ? 'R' : 'U';
  const action = row.action;
  if (action === 'auth.login' || action === 'auth.refresh') return { id: EVENTS.authentication, action: 'E', type: dcm('110122', 'Login') };
  if (action === 'auth.logout') return { id: EVENTS.authentication, action: 'E', type: dcm('110123', 'Logout') };
  if (action === 'study.view') return { id: EVENTS.instancesAccessed, action: 'R' };
  if (action === 'study.download') return { id: EVENTS.export, action: 'R' };
  if (action === 'study.list') return { id: EVENTS.query, action: 'E' };
  if (action === 'audit.export') return { id: EVENTS.auditLogUsed, action: 'R' };
  if (action.startsWith('user.') || action.startsWith('role.') || action === 'auth.change_password')
    return { id: EVENTS.securityAttributes, action: byMethod };
  if (
    action.startsWith('system.') ||
    action.startsWith('pacs.create') ||
    action.startsWith('pacs.update') ||
    action.startsWith('pacs.delete')
  )
    return { id: EVENTS.securityAlert, action: byMethod };
  if (/^(study|image|recycle_bin|task)\./.test(action)) return { id: EVENTS.patientRecord, action: byMethod };
  return { id: EVENTS.applicationActivity, action: byMethod };
}

/** 0 success, 4 minor failure (refused), 8 serious failure (server error). */
function outcomeIndicator(row: AuditRow): 0 | 4 | 8 {
  if (row.outcome === 'success') return 0;
  return row.status_code >= 500 ? 8 : 4;
}

function parsedDetail(row: AuditRow): Record<string, unknown> {
  if (!row.detail) return {};
  try {
    const value = JSON.parse(row.detail) as unknown;
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** The objects the event concerned: the patient and study of a read, or the resource a write named. */
function participantObjects(row: AuditRow): Record<string, unknown>[] {
  const detail = parsedDetail(row);
  const objects: Record<string, unknown>[] = [];
  if (typeof detail.patient_id === 'string' && detail.patient_id !== '') {
    objects.push({
      ParticipantObjectTypeCode: 1,
      ParticipantObjectTypeCodeRole: 1,
      ParticipantObjectIDTypeCode: { csd_code: '2', codeSystemName: 'RFC-3881', originalText: 'Patient Number' },
      ParticipantObjectID: detail.patient_id,
    });
  }
  if (row.resource_id) {
    const isStudy = row.resource_type === 'study';
    objects.push({
      ParticipantObjectTypeCode: isStudy ? 2 : row.resource_type === 'user' ? 1 : 2,
      ParticipantObjectTypeCodeRole: isStudy ? 3 : row.resource_type === 'user' ? 11 : 13,
      ParticipantObjectIDTypeCode: isStudy
        ? dcm('110180', 'Study Instance UID')
        : { csd_code: row.resource_type ?? 'resource', codeSystemName: 'Roentgen', originalText: row.resource_type ?? 'resource' },
      ParticipantObjectID: isStudy && typeof detail.study_instance_uid === 'string' ? detail.study_instance_uid : row.resource_id,
      ParticipantObjectName: row.resource_id,
      ...(row.detail ? { ParticipantObjectDetail: [{ type: 'detail', value: Buffer.from(row.detail).toString('base64') }] } : {}),
    });
  }
  return objects;
}

/**
 * One audit row as an IHE ATNA (RFC 3881 / DICOM PS3.15 A.5) audit message in JSON, for a SIEM:
 * event identification, the active participants (the requesting user at their network address,
 * and this server), the audit source and the participant objects (patient, study, resource).
 * `RoentgenChain` carries the row's id and hashes so the receiver can check the chain.
 */
export function toAtnaRecord(row: AuditRow, sourceId: string): Record<string, unknown> {
  const event = eventOf(row);
  return {
    EventIdentification: {
      EventID: event.id,
      EventActionCode: event.action,
      EventDateTime: row.created_at,
      EventOutcomeIndicator: outcomeIndicator(row),
      EventTypeCode: [...(event.type ? [event.type] : []), { csd_code: row.action, codeSystemName: 'Roentgen', originalText: row.action }],
    },
    ActiveParticipant: [
      {
        UserID: row.user_id === null ? (row.username ?? 'anonymous') : String(row.user_id),
        AlternativeUserID: row.username ?? undefined,
        UserName: row.username ?? undefined,
        UserIsRequestor: true,
        NetworkAccessPointID: row.ip,
        NetworkAccessPointTypeCode: /^[\d.:a-f]+$/i.test(row.ip) ? 2 : 1,
      },
      {
        UserID: `${row.method} ${row.path}`,
        UserIsRequestor: false,
        RoleIDCode: [dcm('110153', 'Source Role ID')],
      },
    ],
    AuditSourceIdentification: {
      AuditSourceID: sourceId,
      AuditSourceTypeCode: [{ csd_code: '4', codeSystemName: 'RFC-3881', originalText: 'Application Server Process' }],
    },
    ParticipantObjectIdentification: participantObjects(row),
    RoentgenChain: {
      id: row.id,
      request_id: row.request_id,
      session_id: row.session_id,
      client: row.source,
      status: row.status_code,
      prev_hash: row.prev_hash,
      hash: row.hash,
    },
  };
}
