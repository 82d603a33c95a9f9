import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/** The key that encrypts server secrets at rest (`server_secrets`), and where it came from. */
export interface SecretKey {
  key: Buffer;
  /** For messages: which setting supplied it (never the key itself). */
  origin: string;
}

export const DEFAULT_KEY_FILE = 'secret.key';
const KEY_BYTES = 32;

/** 64 hex digits or base64 (standard or URL-safe) of exactly 32 bytes. */
export function parseSecretKey(text: string, what: string): Buffer {
  const value = text.trim();
  const key = /^[0-9a-fA-F]{64}$/.test(value)
    ? Buffer.from(value, 'hex')
    : /^[A-Za-z0-9+/_-]+={0,2}$/.test(value)
      ? Buffer.from(value, 'base64')
      : Buffer.alloc(0);
  if (key.length !== KEY_BYTES)
    throw new Error(`${what} must hold a 32-byte key as 64 hex digits or base64 (e.g. openssl rand -base64 32)`);
  return key;
}

/**
 * The secret key, from (in order) ROENTGEN_SECRET_KEY, the file ROENTGEN_SECRET_KEY_FILE names,
 * or `<dataDir>/secret.key`. A key file that does not exist yet is created with a random key,
 * readable by this user only (0600); one readable by others is tightened. Keeping the file
 * outside the data directory (or the key in the environment) means a copy of the database, or
 * of the data directory without it, does not reveal the secrets.
 */
export function loadSecretKey(settings: { secretKey: string | undefined; secretKeyFile: string | undefined; dataDir: string }): SecretKey {
  if (settings.secretKey !== undefined)
    return { key: parseSecretKey(settings.secretKey, 'ROENTGEN_SECRET_KEY'), origin: 'ROENTGEN_SECRET_KEY' };
  const file = settings.secretKeyFile ?? path.join(settings.dataDir, DEFAULT_KEY_FILE);
  const what = settings.secretKeyFile ? `ROENTGEN_SECRET_KEY_FILE (${file})` : file;
  if (!fs.existsSync(file)) {
    // Written whole under another name, then linked into place: two processes creating it at once
    // agree on the one that got there first, and nobody reads a half-written key.
    const temp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    try {
      fs.writeFileSync(temp, `${randomBytes(KEY_BYTES).toString('base64')}\n`, { flag: 'wx', mode: 0o600 });
      fs.linkSync(temp, file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST')
        throw new Error(`cannot create the secret key file ${file}: ${(error as Error).message}`, { cause: error });
    } finally {
      fs.rmSync(temp, { force: true });
    }
  }
  const stat = fs.statSync(file);
  if ((stat.mode & 0o077) !== 0) fs.chmodSync(file, 0o600);
  return { key: parseSecretKey(fs.readFileSync(file, 'utf8'), what), origin: what };
}
