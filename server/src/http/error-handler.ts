import type {
  FastifyContextConfig,
  FastifyError,
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  preHandlerAsyncHookHandler,
} from 'fastify';
import { faceOf, faceOfUrl, readClientHeaders, type Language, type Product } from './context.js';
import { errorBody } from './envelope.js';
import { ERRORS } from './errors.js';
import { classifyDomainError, type Classified } from './domain-errors.js';
import { applySecurityHeaders } from './security-headers.js';
import type { ErrorName, FieldError } from '../util/errors.js';

interface AjvIssue {
  keyword: string;
  instancePath: string;
  message?: string;
  params: Record<string, unknown>;
}

function fieldName(issue: AjvIssue): string {
  const base = issue.instancePath.replace(/^\//, '').replace(/\//g, '.');
  if (issue.keyword === 'required' && typeof issue.params.missingProperty === 'string') {
    return base ? `${base}.${issue.params.missingProperty}` : issue.params.missingProperty;
  }
  if (issue.keyword === 'additionalProperties' && typeof issue.params.additionalProperty === 'string') {
    return base ? `${base}.${issue.params.additionalProperty}` : issue.params.additionalProperty;
  }
  return base || '(body)';
}

/** What our own formats (util/text-formats.ts) require, in words a client can act on. */
const FORMAT_RULES: Record<string, { en_US: string; zh_CN: string }> = {
  'single-line': { en_US: 'must be one line without control characters', zh_CN: '须为单行且不含控制字符' },
  'dicom-string': { en_US: 'must be one line without control characters or backslash', zh_CN: '须为单行且不含控制字符或反斜杠' },
  'person-name': {
    en_US: 'must be one line without control characters, backslash, < or >',
    zh_CN: '须为单行且不含控制字符、反斜杠、< 或 >',
  },
  'free-text': { en_US: 'must not contain control characters other than line breaks and tabs', zh_CN: '除换行和制表符外不得包含控制字符' },
  'past-date-time': {
    en_US: 'must be an RFC 3339 time from 1900-01-01 up to now',
    zh_CN: '须为 1900-01-01 至今之间的 RFC 3339 时间',
  },
};

function issueMessage(issue: AjvIssue, language: Language): string {
  const rule = issue.keyword === 'format' && typeof issue.params.format === 'string' ? FORMAT_RULES[issue.params.format] : undefined;
  if (rule) return rule[language];
  if (language === 'en_US') return issue.message ?? issue.keyword;
  const p = issue.params;
  switch (issue.keyword) {
    case 'required':
      return '必填字段缺失';
    case 'type':
      return `类型错误，应为 ${String(p.type)}`;
    case 'format':
      return `格式错误，应为 ${String(p.format)}`;
    case 'minLength':
      return `长度不能少于 ${String(p.limit)}`;
    case 'maxLength':
      return `长度不能超过 ${String(p.limit)}`;
    case 'minimum':
      return `不能小于 ${String(p.limit)}`;
    case 'maximum':
      return `不能大于 ${String(p.limit)}`;
    case 'enum':
      return `取值必须是 ${JSON.stringify(p.allowedValues)} 之一`;
    case 'pattern':
      return '格式不正确';
    case 'additionalProperties':
      return '不允许的字段';
    case 'minItems':
      return `至少需要 ${String(p.limit)} 项`;
    case 'maxItems':
      return `最多 ${String(p.limit)} 项`;
    default:
      return issue.message ?? issue.keyword;
  }
}

/**
 * One entry per field. A nullable field fails its type branch, its null branch and the union
 * itself; only the first concrete reason is useful to a client.
 */
function fieldErrors(issues: AjvIssue[], language: Language): FieldError[] {
  const byField = new Map<string, FieldError>();
  for (const issue of issues) {
    if (issue.keyword === 'anyOf' || issue.keyword === 'oneOf') continue;
    const field = fieldName(issue);
    if (issue.keyword === 'type' && issue.params.type === 'null' && byField.has(field)) continue;
    if (!byField.has(field) || (byField.get(field)?.message.includes('null') ?? false)) {
      byField.set(field, { field, message: issueMessage(issue, language) });
    }
  }
  if (byField.size === 0 && issues[0])
    byField.set(fieldName(issues[0]), { field: fieldName(issues[0]), message: issueMessage(issues[0], language) });
  return [...byField.values()];
}

const FASTIFY_CODES: Record<string, ErrorName> = {
  FST_ERR_CTP_INVALID_JSON_BODY: 'MALFORMED_BODY',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'MALFORMED_BODY',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'BAD_REQUEST',
  FST_ERR_CTP_BODY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
};

function classify(error: FastifyError, language: Language): Classified {
  const domain = classifyDomainError(error);
  if (domain) return domain;
  if (error.validation) {
    return { name: 'VALIDATION', details: fieldErrors(error.validation, language), headers: {} };
  }
  const mapped = error.code ? FASTIFY_CODES[error.code] : undefined;
  if (mapped) return { name: mapped, details: [], headers: {} };
  if (error instanceof SyntaxError && error.statusCode === 400) return { name: 'MALFORMED_BODY', details: [], headers: {} };
  const status = error.statusCode ?? 500;
  if (status === 429) return { name: 'RATE_LIMITED', details: [], headers: {} };
  if (status === 404) return { name: 'ROUTE_NOT_FOUND', details: [], headers: {} };
  if (status === 405) return { name: 'METHOD_NOT_ALLOWED', details: [], headers: {} };
  if (status === 413) return { name: 'PAYLOAD_TOO_LARGE', details: [], headers: {} };
  if (status === 415) return { name: 'UNSUPPORTED_MEDIA_TYPE', details: [], headers: {} };
  if (status === 408 || status === 504) return { name: 'TIMEOUT', details: [], headers: {} };
  if (status >= 400 && status < 500) return { name: 'VALIDATION', details: [], headers: {} };
  return { name: 'INTERNAL', details: [], headers: {} };
}

/** The language the client headers gave, or undefined before onRequest has read them (errors raised earlier). */
function languageOf(request: FastifyRequest): Language | undefined {
  return request.language;
}

export function sendError(
  request: FastifyRequest,
  reply: FastifyReply,
  name: ErrorName,
  details: FieldError[] = [],
  detail?: string,
): FastifyReply {
  const entry = ERRORS[name];
  // Fastify types every request's route config as present; a request that matched no route may have none.
  const face = (request.routeOptions.config as FastifyContextConfig | undefined) ? faceOf(request) : faceOfUrl(request.url);
  // An error raised before the security-header hook ran (an earlier onRequest hook) still carries them.
  applySecurityHeaders(request, reply);
  return reply.code(entry.status).send(errorBody(face, languageOf(request) ?? 'zh_CN', request.id, entry, details, detail));
}

/** The one error handler: every error leaves in the envelope of its face, with no stack trace. */
export function installErrorHandling(app: FastifyInstance, defaultProduct: Product): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    // Errors raised before onRequest (body parsing of early failures) have no headers read yet.
    if (!languageOf(request)) readClientHeaders(request, defaultProduct);
    const { name, details, detail, headers } = classify(error, request.language);
    if (name === 'INTERNAL') request.log.error({ err: error }, 'unhandled error');
    for (const [key, value] of Object.entries(headers)) reply.header(key, value);
    return sendError(request, reply, name, details, detail);
  });
}

/**
 * Unknown routes in the envelope. `preHandler` is the rate limiter's hook: a scanner probing
 * for routes spends its budget like any other caller (set once the limiter is registered).
 */
export function installNotFoundHandler(app: FastifyInstance, defaultProduct: Product, preHandler?: preHandlerAsyncHookHandler): void {
  app.setNotFoundHandler(preHandler ? { preHandler } : {}, (request, reply) => {
    if (!languageOf(request)) readClientHeaders(request, defaultProduct);
    return sendError(request, reply, 'ROUTE_NOT_FOUND', [], `${request.method} ${request.url.split('?')[0]}`);
  });
}
