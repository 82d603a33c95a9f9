import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyBaseLogger, FastifyInstance, RawReplyDefaultExpression, RawRequestDefaultExpression, RawServerDefault } from 'fastify';
import type { Permission } from '../modules/rbac/permissions.js';
import type { RoentgenRoute } from './context.js';

export type App = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>;

type Access = 'public' | 'authenticated' | Permission | Permission[];
type Extra = Pick<RoentgenRoute, 'guest' | 'audit' | 'cookie'>;

function toAccess(access: Access): RoentgenRoute['access'] {
  return access === 'public' || access === 'authenticated' ? access : { permission: access };
}

/** Route config for a DR console route. */
export function drRoute(access: Access, extra: Extra = {}): { roentgen: RoentgenRoute } {
  return { roentgen: { face: 'dr', access: toAccess(access), ...extra } };
}

/** Route config for a diagnosis-face route. */
export function diagnosisRoute(access: Access, extra: Extra = {}): { roentgen: RoentgenRoute } {
  return { roentgen: { face: 'diagnosis', access: toAccess(access), ...extra } };
}

export const DR_PREFIXES = ['/dr/api/v1', '/api/v1'] as const;

/** Registers DR routes under both prefixes (spec reading 1, docs/architecture.md); diagnosis routes use `/api/v1` only. */
export async function registerDrRoutes(app: App, plugin: (scope: App) => void | Promise<void>): Promise<void> {
  for (const prefix of DR_PREFIXES) {
    await app.register(async (scope) => plugin(scope as App), { prefix });
  }
}

export const BEARER = [{ bearerAuth: [] }];

/** For routes whose JSON body may be left out entirely: validate an absent body as `{}`. */
export function defaultEmptyBody(request: { body: unknown }): Promise<void> {
  if (request.body === undefined || request.body === null) request.body = {};
  return Promise.resolve();
}
