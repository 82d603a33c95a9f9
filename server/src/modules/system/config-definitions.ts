import { isIPv6 } from 'node:net';
import type { Config } from '../../config.js';

export type ConfigType = 'string' | 'number' | 'boolean' | 'json';

export interface ConfigDefinition {
  key: string;
  type: ConfigType;
  category: string;
  description: string;
  isPublic: boolean;
  defaultValue: string;
  /** Allowed values (string configs). */
  allowed?: readonly string[];
  min?: number;
  max?: number;
  integer?: boolean;
  /** Changing it needs `system:security` (see isSensitiveConfig; some keys are sensitive by prefix). */
  sensitive?: boolean;
  /** Its value is shown only to holders of `system:security` (server paths, secrets). */
  secret?: boolean;
  /** A string that must be a host name or an IP address (empty allowed: not configured). */
  host?: boolean;
}

/**
 * Keys that decide who sees patient data or where it goes, or how the server defends itself:
 * public file kinds, the export folder, the DICOM calling-AE allow-list and its accept-any switch,
 * security, auth, guest-session and audit settings, and the limits that protect the server (upload, storage,
 * DICOM object size) — a `service` or `mgr` account must not be able to switch a defence off. Matched by prefix as well, so a key added later under these names is
 * covered without anyone remembering to mark it.
 */
const SENSITIVE_PREFIXES = [
  'files.public_',
  'export.',
  'security.',
  'auth.',
  'guest.',
  'audit.',
  'dicom.scp_allowed',
  'dicom.scp_accept',
  'dicom.scp_check_node',
  'dicom.accept',
  'dicom.allow',
  // The limits that keep the server up (upload sizes and budgets, free-space floor, incoming DICOM object size).
  'upload.',
  'storage.',
  'dicom.max_',
];
const SECRET_NAME = /(secret|password|token|private_key)/;

/** The permission that guards sensitive configuration keys (admin only). */
export const SECURITY_PERMISSION = 'system:security';

export function isSensitiveConfig(key: string, definition?: ConfigDefinition): boolean {
  return definition?.sensitive === true || SENSITIVE_PREFIXES.some((prefix) => key.startsWith(prefix));
}

export function isSecretConfig(key: string, definition?: ConfigDefinition): boolean {
  return definition?.secret === true || (isSensitiveConfig(key, definition) && SECRET_NAME.test(key));
}

/** The configuration keys the system reads, seeded on first start with these defaults. */
export function configDefinitions(config: Config): ConfigDefinition[] {
  return [
    { key: 'system.name', type: 'string', category: 'general', description: 'System name', isPublic: true, defaultValue: 'Roentgen' },
    {
      key: 'system.language',
      type: 'string',
      category: 'general',
      description: 'Console language',
      isPublic: true,
      defaultValue: 'zh_CN',
      allowed: ['zh_CN', 'en_US'],
    },
    {
      key: 'system.default_locale',
      type: 'string',
      category: 'general',
      description: 'Default language for new clients',
      isPublic: true,
      defaultValue: 'zh_CN',
      allowed: ['zh_CN', 'en_US'],
    },
    {
      key: 'system.product',
      type: 'string',
      category: 'general',
      description: 'Product this console runs (DROS or VETDROS)',
      isPublic: true,
      defaultValue: config.defaultProduct,
      allowed: ['DROS', 'VETDROS'],
    },
    {
      key: 'upload.max_file_size',
      type: 'number',
      category: 'upload',
      description: 'Largest uploaded file (bytes)',
      isPublic: true,
      defaultValue: String(100 * 1024 * 1024),
      min: 1024,
      max: 4 * 1024 ** 3,
      integer: true,
    },
    // Decoded sizes of client pictures and what one user may store (modules/images/upload-limiter.ts).
    {
      key: 'upload.max_pixels',
      type: 'number',
      category: 'upload',
      description: 'Largest picture a client may send, in pixels (width × height), checked before decoding',
      isPublic: true,
      defaultValue: String(25_000_000),
      min: 1,
      max: 1_000_000_000,
      integer: true,
    },
    {
      key: 'upload.max_decoded_bytes',
      type: 'number',
      category: 'upload',
      description: 'Largest decoded size of a picture a client sends (width × height × channels × bytes per sample)',
      isPublic: true,
      defaultValue: String(64 * 1024 ** 2),
      min: 1024,
      max: 16 * 1024 ** 3,
      integer: true,
    },
    {
      key: 'upload.max_object_bytes',
      type: 'number',
      category: 'upload',
      description: 'Largest object stored from one picture a client sends (bytes)',
      isPublic: false,
      defaultValue: String(96 * 1024 ** 2),
      min: 1024,
      max: 16 * 1024 ** 3,
      integer: true,
    },
    {
      key: 'upload.max_concurrent_per_user',
      type: 'number',
      category: 'upload',
      description: 'Uploads of pictures one user (one guest session) may have in progress at once',
      isPublic: false,
      defaultValue: String(2),
      min: 1,
      max: 1000,
      integer: true,
    },
    {
      key: 'upload.user_bytes_per_hour',
      type: 'number',
      category: 'upload',
      description: 'Bytes one user may store from pictures per hour',
      isPublic: false,
      defaultValue: String(4 * 1024 ** 3),
      min: 0,
      max: Number.MAX_SAFE_INTEGER,
      integer: true,
    },
    {
      key: 'upload.guest_bytes_per_hour',
      type: 'number',
      category: 'upload',
      description: 'Bytes one guest session may store from pictures per hour',
      isPublic: false,
      defaultValue: String(256 * 1024 ** 2),
      min: 0,
      max: Number.MAX_SAFE_INTEGER,
      integer: true,
    },
    // Guest tokens cost nothing to mint, so per-token limits alone bound nothing: these bound the
    // process and all guests together (and per client address). Sensitive: they are defences.
    {
      key: 'upload.max_concurrent_total',
      type: 'number',
      category: 'upload',
      description: 'Uploads of pictures this process runs at once, all users together',
      isPublic: false,
      defaultValue: String(6),
      min: 1,
      max: 1000,
      integer: true,
      sensitive: true,
    },
    {
      key: 'upload.guest_max_concurrent',
      type: 'number',
      category: 'upload',
      description: 'Uploads of pictures all guest sessions together may have in progress at once',
      isPublic: false,
      defaultValue: String(3),
      min: 1,
      max: 1000,
      integer: true,
      sensitive: true,
    },
    {
      key: 'upload.guest_max_concurrent_per_address',
      type: 'number',
      category: 'upload',
      description: 'Uploads of pictures the guest sessions of one client address may have in progress at once',
      isPublic: false,
      defaultValue: String(2),
      min: 1,
      max: 1000,
      integer: true,
      sensitive: true,
    },
    {
      key: 'upload.guest_bytes_per_hour_total',
      type: 'number',
      category: 'upload',
      description: 'Bytes all guest sessions together may store from pictures per hour',
      isPublic: false,
      defaultValue: String(1024 ** 3),
      min: 0,
      max: Number.MAX_SAFE_INTEGER,
      integer: true,
      sensitive: true,
    },
    {
      key: 'upload.guest_bytes_per_hour_per_address',
      type: 'number',
      category: 'upload',
      description: 'Bytes the guest sessions of one client address may store from pictures per hour',
      isPublic: false,
      defaultValue: String(512 * 1024 ** 2),
      min: 0,
      max: Number.MAX_SAFE_INTEGER,
      integer: true,
      sensitive: true,
    },
    {
      key: 'security.rate_limit_per_minute',
      type: 'number',
      category: 'security',
      description: 'API requests per minute per user',
      isPublic: false,
      defaultValue: String(config.rateLimitPerMinute),
      min: 1,
      max: 1_000_000,
      integer: true,
      sensitive: true,
    },
    // Login back-off (auth/login-backoff.ts): slows a guessing address, never locks the account's owner out.
    {
      key: 'security.max_failed_logins',
      type: 'number',
      category: 'security',
      description: 'Failed logins from one address on one account before that address must wait (1 s, doubling)',
      isPublic: false,
      defaultValue: '3',
      min: 1,
      max: 100,
      integer: true,
      sensitive: true,
    },
    {
      key: 'security.lockout_minutes',
      type: 'number',
      category: 'security',
      description: 'Longest wait the login back-off imposes (minutes)',
      isPublic: false,
      defaultValue: '15',
      min: 1,
      max: 1440,
      integer: true,
      sensitive: true,
    },
    {
      key: 'security.account_failed_logins',
      type: 'number',
      category: 'security',
      description: 'Failed logins on one account from all addresses before the whole account backs off',
      isPublic: false,
      defaultValue: '10',
      min: 1,
      max: 10_000,
      integer: true,
    },
    {
      key: 'security.login_backoff_delay_ms',
      type: 'number',
      category: 'security',
      description: 'Delay before checking a password from a clean address while the account backs off (milliseconds)',
      isPublic: false,
      defaultValue: '1000',
      min: 0,
      max: 10_000,
      integer: true,
    },
    {
      key: 'auth.public_user_list',
      type: 'boolean',
      category: 'security',
      description: 'Show account names on the console login screen (pub/users); off, it answers an empty list',
      isPublic: false,
      defaultValue: 'true',
    },
    {
      key: 'privacy.mask_personal_data',
      type: 'boolean',
      category: 'privacy',
      description: 'Mask phone, ID card and address in lists for users without patient:pii',
      isPublic: false,
      defaultValue: 'true',
    },
    {
      key: 'storage.orphan_grace_hours',
      type: 'number',
      category: 'storage',
      description: 'Blobs with no database row (a crash between writing a file and registering it) older than this are removed at start',
      isPublic: false,
      defaultValue: '24',
      min: 0,
      max: 8760,
    },
    {
      key: 'storage.min_free_bytes',
      type: 'number',
      category: 'storage',
      description: 'Free space below which health reports storage as degraded',
      isPublic: false,
      defaultValue: String(2 * 1024 ** 3),
      min: 0,
      max: Number.MAX_SAFE_INTEGER,
      integer: true,
    },
    // Spec reading 9 (docs/architecture.md): /pub file routes serve without a token only what the deployment marks public.
    {
      key: 'dicom.max_object_bytes',
      type: 'number',
      category: 'pacs',
      description: 'Largest object our DICOM service takes (bytes); a larger one is refused (A700) while it arrives, not buffered whole',
      isPublic: false,
      // A DX is ~18 MB; multi-frame objects reach a few hundred MB.
      defaultValue: String(512 * 1024 ** 2),
      min: 1024 * 1024,
      max: 4 * 1024 ** 3,
      integer: true,
    },
    {
      key: 'dicom.scp_allowed_aets',
      type: 'string',
      category: 'pacs',
      description:
        'Calling AE titles our DICOM service accepts besides the enabled PACS nodes (comma-separated, AET or AET@IPv4; they may store)',
      isPublic: false,
      defaultValue: '',
      sensitive: true,
    },
    {
      key: 'dicom.scp_accept_any_aet',
      type: 'boolean',
      category: 'pacs',
      description: 'Accept any calling AE title (unsafe: anyone who reaches the DICOM port may store; health warns while on)',
      isPublic: false,
      defaultValue: 'false',
    },
    {
      key: 'dicom.scp_check_node_address',
      type: 'boolean',
      category: 'pacs',
      description: "A calling AE title that is a PACS node's is accepted only from that node's address",
      isPublic: false,
      defaultValue: 'true',
    },
    {
      key: 'ris.address',
      type: 'string',
      category: 'pacs',
      description: 'RIS worklist (MWL C-FIND) node: host name or IP address; empty: no RIS',
      isPublic: false,
      defaultValue: '',
      host: true,
    },
    {
      key: 'ris.port',
      type: 'number',
      category: 'pacs',
      description: 'RIS worklist node: port',
      isPublic: false,
      defaultValue: '104',
      min: 1,
      max: 65535,
      integer: true,
    },
    { key: 'ris.aet', type: 'string', category: 'pacs', description: 'RIS worklist node: its AE title', isPublic: false, defaultValue: '' },
    {
      key: 'ris.aec',
      type: 'string',
      category: 'pacs',
      description: 'RIS worklist node: our calling AE title (empty: DICOM_AET)',
      isPublic: false,
      defaultValue: '',
    },
    {
      key: 'pacs.auto_send',
      type: 'boolean',
      category: 'pacs',
      description: 'Queue an image for the default PACS node as soon as it is accepted',
      isPublic: false,
      defaultValue: 'false',
    },
    {
      key: 'files.public_thumbnails',
      type: 'boolean',
      category: 'files',
      description: 'Serve thumbnails on /pub/thumbnail without a token or session cookie',
      isPublic: false,
      defaultValue: 'false',
    },
    {
      key: 'auth.guest_enabled',
      type: 'boolean',
      category: 'security',
      description: 'Hand out guest (emergency workflow) tokens in pub/software_info',
      isPublic: false,
      defaultValue: 'true',
      sensitive: true,
    },
    {
      key: 'auth.guest_allowed_addresses',
      type: 'string',
      category: 'security',
      description: 'Console addresses (IPs or CIDR blocks, comma-separated) that may get a guest token; empty: any',
      isPublic: false,
      defaultValue: '',
    },
    {
      key: 'auth.guest_tokens_per_minute',
      type: 'number',
      category: 'security',
      description: 'Guest tokens pub/software_info hands out per client address per minute; beyond it the guest field is empty',
      isPublic: false,
      defaultValue: String(config.guestTokensPerMinute),
      min: 1,
      max: 1_000_000,
      integer: true,
      sensitive: true,
    },
    {
      key: 'files.public_dicom',
      type: 'boolean',
      category: 'files',
      description: 'Serve DICOM files on /pub/dcm without a token',
      isPublic: false,
      defaultValue: 'false',
      sensitive: true,
    },
    {
      key: 'files.public_captures',
      type: 'boolean',
      category: 'files',
      description: 'Serve captures on /pub/capture without a token',
      isPublic: false,
      defaultValue: 'false',
      sensitive: true,
    },
    {
      key: 'export.directory',
      type: 'string',
      category: 'files',
      description: 'Where "save as" writes DICOM copies; must lie inside ROENTGEN_EXPORT_ROOTS (empty: the first root)',
      isPublic: false,
      defaultValue: '',
      sensitive: true,
      // A server path: shown to administrators only.
      secret: true,
    },
    {
      key: 'quota.total',
      type: 'number',
      category: 'quota',
      description: 'Cloud service quota granted to this console',
      isPublic: false,
      defaultValue: '0',
      min: 0,
      max: 1_000_000_000,
      integer: true,
    },
    {
      key: 'quota.used',
      type: 'number',
      category: 'quota',
      description: 'Cloud service quota used',
      isPublic: false,
      defaultValue: '0',
      min: 0,
      max: 1_000_000_000,
      integer: true,
    },
    {
      key: 'quota.cloud_url',
      type: 'string',
      category: 'quota',
      description: 'Cloud service address (empty: none configured)',
      isPublic: false,
      defaultValue: '',
    },
    {
      key: 'quota.last_online_at',
      type: 'string',
      category: 'quota',
      description: 'Last time the cloud service was reached (RFC 3339)',
      isPublic: false,
      defaultValue: '',
    },
  ];
}

/** Checks `value` against the definition; returns an English reason when it does not fit. */
export function checkConfigValue(type: ConfigType, value: string, definition?: ConfigDefinition): string | undefined {
  switch (type) {
    case 'number': {
      if (value.trim() === '' || !Number.isFinite(Number(value))) return 'must be a number';
      const n = Number(value);
      if (definition?.integer && !Number.isInteger(n)) return 'must be a whole number';
      if (definition?.min !== undefined && n < definition.min) return `must be at least ${definition.min}`;
      if (definition?.max !== undefined && n > definition.max) return `must be at most ${definition.max}`;
      return undefined;
    }
    case 'boolean':
      return value === 'true' || value === 'false' ? undefined : 'must be true or false';
    case 'json':
      try {
        JSON.parse(value);
        return undefined;
      } catch {
        return 'must be valid JSON';
      }
    case 'string':
      if (definition?.host && value !== '' && !isHostOrIp(value)) return 'must be a host name or an IP address';
      if (definition?.allowed && !definition.allowed.includes(value)) return `must be one of ${definition.allowed.join(', ')}`;
      return value.length > 4096 ? 'must be at most 4096 characters' : undefined;
  }
}

const IPV4 = /^((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;
/** RFC 1123 labels; the last one not all digits (that would be a malformed IPv4 address). */
const HOST_NAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i;

/** An IPv4 or IPv6 address, or a DNS host name with at least one dot or a name that is not a word like "true". */
export function isHostOrIp(value: string): boolean {
  if (IPV4.test(value)) return true;
  if (value.includes(':')) return isIPv6(value);
  if (!HOST_NAME.test(value) || /^[\d.]+$/.test(value)) return false;
  // A single label is a host name on a LAN, but not the words a mistyped boolean or placeholder leaves.
  return !['true', 'false', 'null', 'undefined', 'none', 'localhost.'].includes(value.toLowerCase());
}
