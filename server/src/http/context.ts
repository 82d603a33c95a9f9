import type { FastifyRequest } from 'fastify';
import type { AuditDeclaration } from '../modules/audit/declaration.js';
import type { AuthUser } from '../modules/auth/auth-user.js';
import type { Language, Product } from '../util/client.js';

export type { AuthUser, Language, Product };
export type Source = 'Electron' | 'Browser' | 'Android';
/** Which API face a route belongs to; it picks the response envelope. */
export type Face = 'dr' | 'diagnosis';

/** Per-route options every route declares (see http/route-table.test.ts). */
export interface RoentgenRoute {
  face: Face;
  /** `public`: no token; `authenticated`: any valid token; otherwise a permission (or any of several). */
  access: 'public' | 'authenticated' | { permission: string | string[] };
  /** Routes the guest token may call (emergency workflow); everything else refuses it. */
  guest?: boolean;
  /** GET file routes a browser loads by URL: the same-origin session cookie counts as the token. */
  cookie?: boolean;
  /** Audit action name for writes (defaults to METHOD + route URL), or the read declaration of a patient-data read. */
  audit?: AuditDeclaration;
}

declare module 'fastify' {
  interface FastifyRequest {
    language: Language;
    product: Product;
    source: Source;
    authUser: AuthUser | undefined;
    /** Why the presented token was not accepted, reported only if the route needs auth. */
    authFailure: 'TOKEN_INVALID' | 'TOKEN_EXPIRED' | 'TOKEN_REVOKED' | 'ACCOUNT_DISABLED' | undefined;
    /** Set by handlers that want the audit entry to name a resource or carry detail. */
    auditInfo:
      { resourceType?: string; resourceId?: string; userId?: number; username?: string; detail?: Record<string, unknown> } | undefined;
  }
  interface FastifyContextConfig {
    roentgen?: RoentgenRoute;
  }
}

const LANGUAGES: Record<string, Language> = { en_us: 'en_US', en: 'en_US', zh_cn: 'zh_CN', zh: 'zh_CN' };
const PRODUCTS: Record<string, Product> = { dros: 'DROS', vetdros: 'VETDROS' };
const SOURCES: Record<string, Source> = { electron: 'Electron', browser: 'Browser', android: 'Android' };

function header(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Reads the `Language`, `Product` and `Source` headers tolerantly (spec reading 3, docs/architecture.md). */
export function readClientHeaders(request: FastifyRequest, defaultProduct: Product): void {
  const language = header(request, 'language')?.trim().toLowerCase().replace('-', '_');
  request.language = (language && LANGUAGES[language]) || 'zh_CN';
  const product = header(request, 'product')?.trim().toLowerCase();
  request.product = (product && PRODUCTS[product]) || defaultProduct;
  const source = header(request, 'source')?.trim().toLowerCase();
  request.source = (source && SOURCES[source]) || 'Browser';
}

/**
 * DR route roots that also answer under `/api/v1` (spec reading 1, docs/architecture.md). Everything else
 * under `/api/v1` belongs to the diagnosis face.
 */
const DR_ROOTS_UNDER_API = [
  '/api/v1/pub/',
  '/api/v1/auth/resource/',
  '/api/v1/auth/manage/',
  '/api/v1/auth/settings/',
  '/api/v1/auth/protocol/',
  '/api/v1/auth/scp/',
  '/api/v1/auth/recycle_bin/',
  '/api/v1/auth/study',
  '/api/v1/auth/image',
  '/api/v1/auth/report/',
  '/api/v1/auth/device/',
  '/api/v1/auth/task/',
  '/api/v1/auth/f/',
];

/** The face of a URL, for requests that matched no route (404s, early parse errors). */
export function faceOfUrl(url: string): Face {
  const pathOnly = url.split('?')[0] ?? url;
  if (pathOnly.startsWith('/dr/')) return 'dr';
  return DR_ROOTS_UNDER_API.some((root) => pathOnly.startsWith(root)) ? 'dr' : 'diagnosis';
}

export function faceOf(request: FastifyRequest): Face {
  return request.routeOptions.config.roentgen?.face ?? faceOfUrl(request.url);
}
