import type { FastifyReply, FastifyRequest } from 'fastify';
import { faceOf, type Face, type Language } from './context.js';
import type { FieldError } from '../util/errors.js';
import type { CatalogueEntry } from './errors.js';

export const DR_SUCCESS_CODE = '0x000000';

const SUCCESS_TEXT: Record<Language, { dr: string; diagnosis: string }> = {
  en_US: { dr: 'Success', diagnosis: 'OK' },
  zh_CN: { dr: '成功', diagnosis: '操作成功' },
};

export interface DrEnvelope<T> {
  code: string;
  description: string;
  solution: string;
  data: T;
}

export interface DiagnosisEnvelope<T> {
  success: boolean;
  code: number;
  message: string;
  data?: T;
  error?: { type: string; details: FieldError[] };
  timestamp: string;
  request_id: string;
}

export function successBody<T>(
  face: Face,
  language: Language,
  requestId: string,
  data: T,
  status = 200,
): DrEnvelope<T> | DiagnosisEnvelope<T> {
  if (face === 'dr') {
    return { code: DR_SUCCESS_CODE, description: SUCCESS_TEXT[language].dr, solution: '', data };
  }
  return {
    success: true,
    code: status,
    message: SUCCESS_TEXT[language].diagnosis,
    data,
    timestamp: new Date().toISOString(),
    request_id: requestId,
  };
}

export function errorBody(
  face: Face,
  language: Language,
  requestId: string,
  entry: CatalogueEntry,
  details: FieldError[],
  detail: string | undefined,
): DrEnvelope<unknown> | DiagnosisEnvelope<never> {
  const message = detail ? `${entry.message[language]}: ${detail}` : entry.message[language];
  if (face === 'dr') {
    return {
      code: entry.drCode,
      description: message,
      solution: entry.solution[language],
      data: { type: entry.type, details, request_id: requestId },
    };
  }
  return {
    success: false,
    code: entry.status,
    message,
    error: { type: entry.type, details },
    timestamp: new Date().toISOString(),
    request_id: requestId,
  };
}

/** Sends `data` in the envelope of the route's face. */
export function ok(request: FastifyRequest, reply: FastifyReply, data: unknown, status = 200): FastifyReply {
  return reply.code(status).send(successBody(faceOf(request), request.language, request.id, data, status));
}

/** The `@type` wrapper DR responses keep for existing clients (spec reading 5, docs/architecture.md). */
export function drTyped<T extends object>(typeName: string, value: T): T & { '@type': string } {
  return { '@type': `type.googleapis.com/${typeName}`, ...value };
}

export const DR_EMPTY = { '@type': 'type.googleapis.com/google.protobuf.Empty', value: {} } as const;
