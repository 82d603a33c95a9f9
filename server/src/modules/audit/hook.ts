import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Db, WriteChange } from '../../db/index.js';
import type { AuditDeclaration } from './declaration.js';
import { currentRequest, runInRequest, type RequestContext } from '../../util/request-context.js';
import { nowIso } from '../../util/time.js';
import type { AuditRecord } from '../../db/audit-chain.js';
import type { ReadAuditor } from './reads.js';
import type { AuditRepository } from './repository.js';
import { boundedDetail } from './serialize.js';

const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const PENDING = Symbol('audit.pending');

/** The audit state of one request: what has been recorded inside its committed transactions. */
interface PendingAudit {
  request: FastifyRequest;
  reply: FastifyReply;
  /** Rows written inside committed transactions. */
  committed: number;
  /** The handler's auditInfo when the last of them was written (a later one names more). */
  infoAtCommit: FastifyRequest['auditInfo'];
}

const contexts = new WeakMap<FastifyRequest, RequestContext>();

function declarationOf(request: FastifyRequest): AuditDeclaration | undefined {
  return request.routeOptions.config.roentgen?.audit;
}

/** Action name: the route's declared one, else METHOD plus the route pattern (ids left out). */
function actionOf(request: FastifyRequest): string {
  const declared = declarationOf(request);
  if (typeof declared === 'string') return declared;
  if (declared) return declared.read;
  return `${request.method} ${request.routeOptions.url ?? request.url.split('?')[0]}`;
}

/** The peer address as the request arrived; `request.ip` is undefined once the socket is gone. */
function peerAddress(request: FastifyRequest): string {
  try {
    return request.ip || request.socket.remoteAddress || 'unknown';
  } catch {
    return 'unknown';
  }
}

/** The request's context, made when it arrived (or now, for requests refused before onRequest ran). */
export function contextOf(request: FastifyRequest): RequestContext {
  let context = contexts.get(request);
  if (!context) {
    context = {
      requestId: request.id,
      ip: peerAddress(request),
      source: request.source,
      method: request.method,
      path: (request.url.split('?')[0] ?? '').slice(0, 512),
      slots: new Map(),
    };
    contexts.set(request, context);
  }
  return context;
}

/** One audit row for a write request as far as it is known now. */
function writeRecord(request: FastifyRequest, status: number, context: RequestContext, changes?: WriteChange[]): AuditRecord {
  const info = request.auditInfo;
  const params = (request.params ?? {}) as Record<string, unknown>;
  const firstParam = Object.values(params).find((v) => typeof v === 'string' && v !== '');
  // The tables a commit changed say what happened when the handler named nothing itself.
  const detail = info?.detail ?? (changes ? { changes } : undefined);
  return {
    created_at: nowIso(),
    user_id: request.authUser?.id ?? info?.userId ?? null,
    username: (request.authUser?.username ?? info?.username ?? null)?.slice(0, 256) ?? null,
    action: actionOf(request).slice(0, 128),
    resource_type: info?.resourceType ?? null,
    resource_id: (info?.resourceId ?? (typeof firstParam === 'string' ? firstParam : null))?.slice(0, 256) ?? null,
    method: context.method,
    path: context.path,
    status_code: status,
    outcome: status < 400 ? 'success' : 'failure',
    source: request.source,
    ip: context.ip,
    request_id: context.requestId,
    session_id: request.authUser?.sessionId ?? null,
    detail: boundedDetail(detail),
  };
}

/**
 * The audit trail of HTTP requests, which no write can skip:
 * - every transaction that changes data while a request is served gets the request's audit row
 *   inserted before it commits (the database layer calls back here), so the change and its row
 *   commit together or not at all — a client hanging up or a crash cannot separate them;
 * - as the response goes out (onSend: its status is final), a write request gets a row of its
 *   own if it committed nothing (refused, failed, or only touched files), if it failed after a
 *   commit, or if the handler named more after its last commit (the created id, the user who
 *   logged in); this row depends on nothing the client can take away either (peer address and
 *   ids were captured as the request arrived);
 * - reads of patient data are recorded after the response, aggregated (`ReadAuditor`).
 * Audit details are bounded (`boundedDetail`), so no request body can make a row fail.
 */
export function installAuditHook(app: FastifyInstance, db: Db, audit: AuditRepository, reads: ReadAuditor): void {
  db.recordWrites({
    wants: () => currentRequest()?.slots.has(PENDING) ?? false,
    beforeCommit: async (run, changes) => {
      const context = currentRequest();
      const pending = context?.slots.get(PENDING) as PendingAudit | undefined;
      if (!context || !pending) return;
      await audit.append(writeRecord(pending.request, pending.reply.statusCode, context, changes), run);
      pending.committed += 1;
      pending.infoAtCommit = pending.request.auditInfo;
    },
  });

  // Callback hooks: `done` runs the rest of the request inside the context (async hooks would not carry it).
  app.addHook('onRequest', (request, reply, done) => {
    const context = contextOf(request);
    const pending: PendingAudit = { request, reply, committed: 0, infoAtCommit: undefined };
    context.slots.set(PENDING, pending);
    runInRequest(context, done);
  });
  // Again after the body is parsed: parsing runs on stream events outside the context.
  app.addHook('preHandler', (request, _reply, done) => {
    runInRequest(contextOf(request), done);
  });

  app.addHook('onSend', async (request, reply, payload) => {
    if (READ_METHODS.has(request.method)) return payload;
    const context = contextOf(request);
    const pending = context.slots.get(PENDING) as PendingAudit | undefined;
    const status = reply.statusCode;
    if (pending && pending.committed > 0 && status < 400 && request.auditInfo === pending.infoAtCommit) return payload;
    try {
      await audit.append(writeRecord(request, status, context));
    } catch (error) {
      request.log.error({ err: error }, 'audit log write failed');
    }
    return payload;
  });

  // Declared reads are recorded when the response ends, however it ends: Fastify's onResponse
  // does not run when the client hangs up mid-download, so the raw response's 'close' (which
  // comes after a complete response too) records it, once.
  const recordedReads = new WeakSet<FastifyRequest>();
  const recordRead = async (request: FastifyRequest, reply: FastifyReply, complete: boolean): Promise<void> => {
    const declared = declarationOf(request);
    if (typeof declared !== 'object' || recordedReads.has(request)) return;
    recordedReads.add(request);
    try {
      await reads.record(request, reply.statusCode, contextOf(request), declared, complete);
    } catch (error) {
      request.log.error({ err: error }, 'audit log write failed (read)');
    }
  };
  app.addHook('preHandler', (request, reply, done) => {
    if (typeof declarationOf(request) === 'object') {
      reply.raw.once('close', () => void recordRead(request, reply, reply.raw.writableFinished));
    }
    done();
  });
  app.addHook('onResponse', (request, reply) => recordRead(request, reply, true));
}
