import type { FastifyRequest } from 'fastify';
import type { ReadDeclaration, ReadSubject } from './declaration.js';
import type { RequestContext } from '../../util/request-context.js';
import { nowIso } from '../../util/time.js';
import type { AuditRepository } from './repository.js';
import { boundedDetail } from './serialize.js';

/** The study (and patient) a read showed, as the audit row names it. */
export interface ReadSubjectRow {
  study_id: string;
  study_instance_uid: string;
  patient_id: string;
  sop_instance_uid?: string | null;
}

/** Finds the study behind a read's parameter (a study id, an SOP Instance UID, a stored file name). */
export interface ReadSubjectLookup {
  studyByStudyId(studyId: string): Promise<ReadSubjectRow | undefined>;
  studyByInstance(sopInstanceUid: string): Promise<ReadSubjectRow | undefined>;
  studyByFileName(name: string): Promise<ReadSubjectRow | undefined>;
}

const DEFAULT_PARAM: Record<Exclude<ReadSubject, 'list'>, string> = { study: 'id', instance: 'instance_id', file: 'filename' };
/** Refused reads are recorded too (who tried); not-found and bad requests are not patient data. */
const RECORDED_FAILURES = new Set([401, 403]);
const MAX_TRACKED = 20_000;

/**
 * Audits reads of patient data, aggregated: a viewer opening a study fetches its detail, a
 * thumbnail per image and previews, and that is one row per (who, study, action, outcome) and
 * time window, not one per file. The first read of a window writes the row; later ones in the
 * window are covered by it. Which routes are patient-data reads is declared in their route
 * config (`audit: { read, subject }`), not guessed from paths.
 */
export class ReadAuditor {
  private readonly windows = new Map<string, number>();
  /** The same windows by the route's raw parameter, so a repeated read skips the subject lookup. */
  private readonly asked = new Map<string, number>();

  constructor(
    private readonly audit: AuditRepository,
    private readonly lookup: ReadSubjectLookup,
    private readonly windowMs = 5 * 60_000,
  ) {}

  private async subjectOf(
    request: FastifyRequest,
    subject: ReadSubject,
    param: string | undefined,
  ): Promise<{ key: string; row?: ReadSubjectRow }> {
    if (subject === 'list') return { key: '*' };
    const params = (request.params ?? {}) as Record<string, unknown>;
    const raw = params[param ?? DEFAULT_PARAM[subject]];
    const value = typeof raw === 'string' ? raw : '';
    const row =
      value === ''
        ? undefined
        : subject === 'study'
          ? await this.lookup.studyByStudyId(value)
          : subject === 'instance'
            ? await this.lookup.studyByInstance(value)
            : await this.lookup.studyByFileName(value);
    return { key: row?.study_id ?? `${subject}:${value}`, row };
  }

  private parameter(request: FastifyRequest, declared: ReadDeclaration): string {
    if (declared.subject === 'list') return '*';
    const raw = ((request.params ?? {}) as Record<string, unknown>)[declared.param ?? DEFAULT_PARAM[declared.subject]];
    return typeof raw === 'string' ? raw : '';
  }

  /** Whether this (who, action, outcome, parameter) already led to a window that is still open. */
  private recentlyAsked(asked: string): boolean {
    const until = this.asked.get(asked);
    return until !== undefined && until > Date.now();
  }

  private rememberAsked(asked: string, until: number): void {
    if (this.asked.size >= MAX_TRACKED) {
      const now = Date.now();
      for (const [k, end] of this.asked) if (end <= now) this.asked.delete(k);
      if (this.asked.size >= MAX_TRACKED) this.asked.clear();
    }
    this.asked.set(asked, until);
  }

  /** Whether this (who, what) already has a row in the current window; marks it when not. */
  private seenInWindow(key: string): boolean {
    const now = Date.now();
    const until = this.windows.get(key);
    if (until !== undefined && until > now) return true;
    if (this.windows.size >= MAX_TRACKED) {
      for (const [k, end] of this.windows) if (end <= now) this.windows.delete(k);
      if (this.windows.size >= MAX_TRACKED) this.windows.clear();
    }
    this.windows.set(key, now + this.windowMs);
    return false;
  }

  /** `complete` false: the client hung up before the whole response was sent (it may still have read part of it). */
  async record(
    request: FastifyRequest,
    status: number,
    context: RequestContext,
    declared: ReadDeclaration,
    complete = true,
  ): Promise<void> {
    if (status >= 400 && !RECORDED_FAILURES.has(status)) return;
    const outcome = status < 400 ? 'success' : 'failure';
    const user = request.authUser;
    const who = user ? (user.isGuest ? `session:${user.sessionId}` : `user:${user.id}`) : `ip:${context.ip}`;
    // A study already recorded in this window under the same parameter needs no lookup either
    // (a viewer's thumbnails and previews of one study each repeat it).
    const asked = `${who}|${declared.read}|${outcome}|${declared.subject}=${this.parameter(request, declared)}`;
    if (this.recentlyAsked(asked)) return;
    const { key, row } = await this.subjectOf(request, declared.subject, declared.param);
    // Checked and marked after the lookup, with no await in between: concurrent reads of one study write one row.
    const windowKey = `${who}|${declared.read}|${outcome}|${key}`;
    const seen = this.seenInWindow(windowKey);
    this.rememberAsked(asked, this.windows.get(windowKey) ?? 0);
    if (seen) return;
    const query = declared.subject === 'list' ? (request.query as Record<string, unknown> | undefined) : undefined;
    await this.audit.append({
      created_at: nowIso(),
      user_id: user?.id ?? null,
      username: user?.username ?? null,
      action: declared.read,
      resource_type: row ? 'study' : declared.subject,
      resource_id: row ? row.study_id : key === '*' ? null : key.slice(0, 256),
      method: context.method,
      path: context.path,
      status_code: status,
      outcome,
      source: request.source,
      ip: context.ip,
      request_id: context.requestId,
      session_id: user?.sessionId ?? null,
      detail: boundedDetail({
        aggregated_minutes: this.windowMs / 60_000,
        ...(row
          ? {
              patient_id: row.patient_id,
              study_instance_uid: row.study_instance_uid,
              ...(row.sop_instance_uid ? { sop_instance_uid: row.sop_instance_uid } : {}),
            }
          : {}),
        ...(query ? { query } : {}),
        ...(complete ? {} : { complete: false }),
      }),
    });
  }
}
