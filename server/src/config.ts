import fs from 'node:fs';
import path from 'node:path';
import { DEFAULT_CHARSET_TERMS } from './dicom/charsets.js';
import { passwordWeakness } from './modules/auth/passwords.js';

/** Every setting of one server process, read once from the environment (README lists the variables). */
export interface Config {
  host: string;
  port: number;
  dataDir: string;
  /** `postgres://…` selects PostgreSQL; undefined means SQLite in the data dir. */
  databaseUrl: string | undefined;
  /** PostgreSQL schema to use (tests isolate themselves with one schema each). */
  databaseSchema: string | undefined;
  /** Connections to PostgreSQL per process (DATABASE_POOL_MAX). */
  databasePoolMax: number;
  mqttUrl: string | undefined;
  /** The embedded broker's optional plain MQTT listener (MQTT_TCP_PORT); WebSocket is always on /mqtt. */
  mqttTcpPort: number | undefined;
  /** How often the embedded broker re-checks every connection's token and session (MQTT_RECHECK_MS). */
  mqttRecheckMs: number;
  /** Simulated detector matrix (DETECTOR_ROWS / DETECTOR_COLUMNS). */
  detector: { rows: number; columns: number };
  /** Ready the exposure path in the background once listening (EXPOSURE_WARM_UP, default 1; 0 turns it off). */
  exposureWarmUp: boolean;
  adminPassword: string | undefined;
  /** Initial password of the seeded mgr, tech and service accounts; generated when absent. */
  seedUserPassword: string | undefined;
  dicomAet: string;
  dicomPort: number;
  /** Connect, association and response timeout towards DICOM nodes. */
  dicomTimeoutMs: number;
  /**
   * The character set of DICOM text that declares none (DICOM_DEFAULT_CHARSET: ISO_IR 192, GB18030,
   * GBK or ISO_IR 100); undefined: UTF-8 when the bytes are valid UTF-8, else GB18030.
   */
  dicomDefaultCharset: string | undefined;
  /** The send queue: lease of a claimed task, retry backoff (base doubling up to max), attempts before FAILED. */
  storeQueue: { leaseMs: number; retryBaseMs: number; retryMaxMs: number; maxAttempts: number; pollMs: number };
  uidRoot: string | undefined;
  jwtSecret: string | undefined;
  /** The key sealing server secrets at rest (ROENTGEN_SECRET_KEY: 32 bytes, hex or base64). */
  secretKey: string | undefined;
  /** Where that key is kept when not in the environment (ROENTGEN_SECRET_KEY_FILE; default <dataDir>/secret.key). */
  secretKeyFile: string | undefined;
  /** Requests per minute per user (or per address before login). */
  rateLimitPerMinute: number;
  /** Initial value of auth.guest_tokens_per_minute: guest tokens per client address per minute (GUEST_TOKENS_PER_MINUTE). */
  guestTokensPerMinute: number;
  /** Largest JSON/form body accepted, in bytes. */
  bodyLimitBytes: number;
  /** Memory for rendered previews kept per process (RENDER_CACHE_MB). */
  renderCacheBytes: number;
  /** Memory for decoded frames kept per process, so previews of one image read and decode it once (FRAME_CACHE_MB). */
  frameCacheBytes: number;
  requestTimeoutMs: number;
  logLevel: string;
  /** Product assumed when a request carries no `Product` header. */
  defaultProduct: 'DROS' | 'VETDROS';
  /** Certificate and key (PEM, read from TLS_CERT / TLS_KEY) to serve HTTPS and MQTT over WSS directly. */
  tls: { cert: Buffer; key: Buffer } | undefined;
  /** Folders "save as" may write into (ROENTGEN_EXPORT_ROOTS, path-delimiter separated; default <data dir>/exports). */
  exportRoots: string[];
}

/** Measured with bench/load.ts (PostgreSQL on the same two cores as the server). */
export const DEFAULT_POOL_MAX = 10;

function intFromEnv(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${name} must be an integer between ${min} and ${max}, got "${raw}"`);
  }
  return value;
}

/** TLS_CERT and TLS_KEY go together; both are paths to PEM files read once at start. */
function tlsFromEnv(env: NodeJS.ProcessEnv): Config['tls'] {
  const certPath = optional(env, 'TLS_CERT');
  const keyPath = optional(env, 'TLS_KEY');
  if (certPath === undefined && keyPath === undefined) return undefined;
  if (certPath === undefined || keyPath === undefined) throw new Error('TLS_CERT and TLS_KEY must be set together (paths to PEM files)');
  const read = (name: string, file: string) => {
    try {
      return fs.readFileSync(file);
    } catch (error) {
      throw new Error(`${name}: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? 'error'})`, { cause: error });
    }
  };
  return { cert: read('TLS_CERT', certPath), key: read('TLS_KEY', keyPath) };
}

function defaultCharsetFrom(env: NodeJS.ProcessEnv): string | undefined {
  const term = optional(env, 'DICOM_DEFAULT_CHARSET')?.trim();
  if (term !== undefined && !(DEFAULT_CHARSET_TERMS as readonly string[]).includes(term))
    throw new Error(`DICOM_DEFAULT_CHARSET must be one of ${DEFAULT_CHARSET_TERMS.join(', ')}, got "${term}"`);
  return term;
}

function optional(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const raw = env[name];
  return raw === undefined || raw === '' ? undefined : raw;
}

/**
 * An initial password from the environment is held to the same strength rule as one a person
 * chooses in the console: a weak one would otherwise stay in place on every fresh install.
 */
function initialPassword(env: NodeJS.ProcessEnv, name: string, accounts: readonly string[]): string | undefined {
  const password = optional(env, name);
  if (password === undefined) return undefined;
  const weakness = passwordWeakness(password, accounts);
  if (weakness !== undefined) {
    throw new Error(
      `${name} is too weak for the ${accounts.join('/')} account (${weakness}). ` +
        'Choose a longer, unguessable password, or leave it unset to have a strong one generated and printed once.',
    );
  }
  return password;
}

/**
 * A JWT signing key from the environment must not be guessable: HS256 with a short or patterned
 * key lets anyone with one token brute-force it offline and forge tokens for any account.
 */
export function jwtSecretProblem(secret: string): string | undefined {
  if (secret.length < 32) return `must be at least 32 characters (got ${secret.length}); e.g. openssl rand -hex 32`;
  if (new Set(secret).size < 10) return 'uses too few different characters';
  // The same short piece repeated ("abcabcabc…") is as weak as the piece.
  for (let unit = 1; unit <= 16; unit += 1) {
    if (secret.length % unit === 0 && secret.slice(0, unit).repeat(secret.length / unit) === secret) return 'is a repeated pattern';
  }
  return undefined;
}

function jwtSecretFrom(env: NodeJS.ProcessEnv): string | undefined {
  const secret = optional(env, 'JWT_SECRET');
  const problem = secret === undefined ? undefined : jwtSecretProblem(secret);
  if (problem) throw new Error(`JWT_SECRET ${problem} (leave it unset to have one generated and kept sealed in the database)`);
  return secret;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const databaseUrl = optional(env, 'DATABASE_URL');
  if (databaseUrl && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new Error('DATABASE_URL must start with postgres:// (leave it unset for the embedded SQLite database)');
  }
  const schema = optional(env, 'DATABASE_SCHEMA');
  if (schema && !/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) {
    throw new Error('DATABASE_SCHEMA must be a lower-case SQL identifier');
  }
  const product = optional(env, 'ROENTGEN_PRODUCT') ?? 'DROS';
  if (product !== 'DROS' && product !== 'VETDROS') throw new Error('ROENTGEN_PRODUCT must be DROS or VETDROS');
  const dataDir = path.resolve(optional(env, 'ROENTGEN_DATA_DIR') ?? './data');
  const exportRoots = (optional(env, 'ROENTGEN_EXPORT_ROOTS') ?? path.join(dataDir, 'exports'))
    .split(path.delimiter)
    .filter(Boolean)
    .map((root) => path.resolve(root));
  return {
    host: optional(env, 'HOST') ?? '127.0.0.1',
    port: intFromEnv(env, 'PORT', 8000, 0, 65535),
    dataDir,
    databaseUrl,
    databaseSchema: schema,
    databasePoolMax: intFromEnv(env, 'DATABASE_POOL_MAX', DEFAULT_POOL_MAX, 1, 1000),
    mqttUrl: optional(env, 'MQTT_URL'),
    detector: { rows: intFromEnv(env, 'DETECTOR_ROWS', 3072, 64, 8192), columns: intFromEnv(env, 'DETECTOR_COLUMNS', 3072, 64, 8192) },
    exposureWarmUp: intFromEnv(env, 'EXPOSURE_WARM_UP', 1, 0, 1) === 1,
    mqttTcpPort: optional(env, 'MQTT_TCP_PORT') === undefined ? undefined : intFromEnv(env, 'MQTT_TCP_PORT', 1883, 1, 65535),
    mqttRecheckMs: intFromEnv(env, 'MQTT_RECHECK_MS', 2000, 100, 600_000),
    adminPassword: initialPassword(env, 'ROENTGEN_ADMIN_PASSWORD', ['admin']),
    seedUserPassword: initialPassword(env, 'ROENTGEN_SEED_USER_PASSWORD', ['mgr', 'tech', 'service']),
    dicomAet: optional(env, 'DICOM_AET') ?? 'ROENTGEN',
    dicomPort: intFromEnv(env, 'DICOM_PORT', 11112, 0, 65535),
    dicomTimeoutMs: intFromEnv(env, 'DICOM_TIMEOUT_MS', 10_000, 100, 600_000),
    dicomDefaultCharset: defaultCharsetFrom(env),
    storeQueue: {
      leaseMs: intFromEnv(env, 'STORE_LEASE_MS', 60_000, 500, 3_600_000),
      retryBaseMs: intFromEnv(env, 'STORE_RETRY_BASE_MS', 10_000, 10, 3_600_000),
      retryMaxMs: intFromEnv(env, 'STORE_RETRY_MAX_MS', 600_000, 10, 86_400_000),
      maxAttempts: intFromEnv(env, 'STORE_MAX_ATTEMPTS', 10, 1, 1000),
      pollMs: intFromEnv(env, 'STORE_POLL_MS', 2_000, 10, 600_000),
    },
    uidRoot: optional(env, 'ROENTGEN_UID_ROOT'),
    jwtSecret: jwtSecretFrom(env),
    secretKey: optional(env, 'ROENTGEN_SECRET_KEY'),
    secretKeyFile:
      optional(env, 'ROENTGEN_SECRET_KEY_FILE') === undefined ? undefined : path.resolve(optional(env, 'ROENTGEN_SECRET_KEY_FILE')!),
    rateLimitPerMinute: intFromEnv(env, 'RATE_LIMIT_PER_MINUTE', 100, 1, 1_000_000),
    guestTokensPerMinute: intFromEnv(env, 'GUEST_TOKENS_PER_MINUTE', 5, 1, 1_000_000),
    bodyLimitBytes: intFromEnv(env, 'BODY_LIMIT_BYTES', 1024 * 1024, 1024, 1024 * 1024 * 1024),
    renderCacheBytes: intFromEnv(env, 'RENDER_CACHE_MB', 128, 0, 65_536) * 1024 * 1024,
    frameCacheBytes: intFromEnv(env, 'FRAME_CACHE_MB', 256, 0, 65_536) * 1024 * 1024,
    requestTimeoutMs: intFromEnv(env, 'REQUEST_TIMEOUT_MS', 30_000, 100, 600_000),
    logLevel: optional(env, 'LOG_LEVEL') ?? 'info',
    defaultProduct: product,
    tls: tlsFromEnv(env),
    exportRoots,
  };
}
