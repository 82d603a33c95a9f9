import { Type } from 'typebox';
import { requireUser } from '../../http/auth-hooks.js';
import { drTyped, ok } from '../../http/envelope.js';
import { setSessionCookie } from '../../http/session-cookie.js';
import { AppError } from '../../util/errors.js';
import { BEARER, drRoute, type App } from '../../http/routing.js';
import type { AuthService } from '../auth/service.js';
import { CONSOLE_ROLES } from '../rbac/permissions.js';
import type { ConfigService } from '../system/config-service.js';
import type { UsersRepository } from '../users/repository.js';
import type { ComponentInfo } from './build-info.js';
import { OPTION_GROUPS, optionsOf } from './options.js';
import en from './translations/en_US.json' with { type: 'json' };
import zh from './translations/zh_CN.json' with { type: 'json' };

const TRANSLATIONS: Partial<Record<string, { file: string; module: string }>> = {
  zh_CN: { file: 'zh.js', module: `export default ${JSON.stringify(zh, null, 1)};\n` },
  en_US: { file: 'en.js', module: `export default ${JSON.stringify(en, null, 1)};\n` },
};

export interface ResourceDeps {
  auth: AuthService;
  configs: ConfigService;
  users: UsersRepository;
  build: { version: string; server: Record<string, ComponentInfo> };
  serial: string;
  /** Names of the detector and generator drivers; "None" until device drivers exist. */
  drivers: { fpd: string; gen: string };
}

/** Public and settings endpoints of the DR face. */
export function resourceRoutes(app: App, d: ResourceDeps): void {
  app.get(
    '/pub/software_info',
    {
      schema: { tags: ['dr-resource'], summary: 'Server versions, locales, product and the guest (emergency) token' },
      config: drRoute('public'),
    },
    async (request, reply) => {
      const [current, fallback, product, guest] = await Promise.all([
        d.configs.getString('system.language'),
        d.configs.getString('system.default_locale'),
        d.configs.getString('system.product'),
        d.auth.guestToken(request.ip || ''),
      ]);
      // The field stays (empty) when guests are switched off, this console may not have one or it asked too often.
      if (guest.refused) request.log.warn({ address: request.ip, reason: guest.refused }, 'guest token refused');
      if (guest.token) setSessionCookie(request, reply, guest.token, guest.expiresAt, true);
      return ok(request, reply, {
        FPD: d.drivers.fpd,
        GEN: d.drivers.gen,
        current_locale: current,
        default_locale: fallback,
        guest: guest.token,
        language: ['en', 'zh'],
        product,
        server: d.build.server,
        sn: d.serial,
      });
    },
  );

  app.get(
    '/pub/trans/:locale/:file',
    {
      schema: {
        tags: ['dr-resource'],
        summary: 'Translation module (zh_CN/zh.js, en_US/en.js)',
        params: Type.Object({ locale: Type.String({ maxLength: 16 }), file: Type.String({ maxLength: 32 }) }),
      },
      config: drRoute('public'),
    },
    async (request, reply) => {
      const entry = TRANSLATIONS[request.params.locale];
      if (!entry || entry.file !== request.params.file)
        throw new AppError('TRANSLATION_NOT_FOUND', [], `${request.params.locale}/${request.params.file}`);
      return reply.type('application/javascript; charset=utf-8').header('Cache-Control', 'public, max-age=300').send(entry.module);
    },
  );

  app.get(
    '/pub/language',
    {
      schema: { tags: ['dr-resource'], summary: 'Languages the console offers' },
      config: drRoute('public'),
    },
    async (request, reply) =>
      ok(request, reply, [
        { language: 'en_US', display: 'English' },
        { language: 'zh_CN', display: '简体中文' },
      ]),
  );

  app.get(
    '/pub/users',
    {
      schema: { tags: ['dr-resource'], summary: 'Accounts offered on the console login screen' },
      config: drRoute('public'),
    },
    // Switched off, the list is empty (not 403) so the console falls back to typing the name.
    async (request, reply) =>
      ok(request, reply, (await d.configs.getBoolean('auth.public_user_list')) ? await d.users.consoleUsernames(CONSOLE_ROLES) : []),
  );

  app.get(
    '/pub/quota',
    {
      schema: { tags: ['dr-resource'], summary: 'Cloud service quota' },
      config: drRoute('public'),
    },
    async (request, reply) => {
      const [total, used, cloudUrl, lastOnline] = await Promise.all([
        d.configs.getNumber('quota.total'),
        d.configs.getNumber('quota.used'),
        d.configs.getString('quota.cloud_url'),
        d.configs.getString('quota.last_online_at'),
      ]);
      const lastSeen = lastOnline ? Date.parse(lastOnline) : Number.NaN;
      const MONTH_MS = 30 * 24 * 3600 * 1000;
      return ok(request, reply, {
        total,
        available: Math.max(0, total - used),
        // No cloud client exists yet: online only counts a contact reported within five minutes.
        online: cloudUrl !== '' && Number.isFinite(lastSeen) && Date.now() - lastSeen < 5 * 60_000,
        overdue: cloudUrl !== '' && (!Number.isFinite(lastSeen) || Date.now() - lastSeen > MONTH_MS),
      });
    },
  );

  app.get(
    '/auth/resource/options',
    {
      schema: {
        tags: ['dr-resource'],
        summary: `Option lists by group (${OPTION_GROUPS.join(', ')})`,
        security: BEARER,
        querystring: Type.Object({ group: Type.Optional(Type.String({ maxLength: 64 })) }),
      },
      config: drRoute('authenticated', { guest: true }),
    },
    async (request, reply) => {
      const group = request.query.group || 'basic';
      const option = optionsOf(group, request.language);
      if (!option) throw new AppError('OPTION_GROUP_NOT_FOUND', [{ field: 'group', message: `one of ${OPTION_GROUPS.join(', ')}` }], group);
      return ok(request, reply, drTyped('dr.resource.OptionReply', { option }));
    },
  );

  app.get(
    '/auth/resource/config',
    {
      schema: {
        tags: ['dr-resource'],
        summary: 'Global configuration entries under a key prefix (uri)',
        security: BEARER,
        querystring: Type.Object({ uri: Type.Optional(Type.String({ maxLength: 128 })) }),
      },
      config: drRoute('authenticated', { guest: true }),
    },
    async (request, reply) => {
      const user = requireUser(request);
      const prefix = request.query.uri ?? '';
      const rows = await d.configs.list({ isPublic: user.permissions.has('system:read') ? undefined : true }, user);
      const config = rows
        .filter((r) => r.config_key.startsWith(prefix))
        .map((r) => ({ uri: r.config_key, value: r.config_value, type: r.config_type, description: r.description }));
      // `option` is the spec sample's shape for this route (text/value pairs), beside our `config`.
      const option = config.map((c) => ({ text: c.uri, value: c.value }));
      return ok(request, reply, drTyped('dr.resource.ConfigReply', { config, option }));
    },
  );

  app.post(
    '/auth/manage/language',
    {
      schema: {
        tags: ['dr-resource'],
        summary: 'Change the console language',
        security: BEARER,
        body: Type.Object({ lang: Type.Union([Type.Literal('en_US'), Type.Literal('zh_CN')]) }),
      },
      config: drRoute('system:write', { audit: 'system.language' }),
    },
    async (request, reply) => {
      const user = requireUser(request);
      request.auditInfo = { resourceType: 'config', resourceId: 'system.language', detail: { lang: request.body.lang } };
      await d.configs.update('system.language', request.body.lang, user);
      return ok(request, reply, {});
    },
  );
}
