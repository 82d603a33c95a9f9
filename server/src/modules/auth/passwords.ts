import { hash, verify } from '@node-rs/argon2';

// Algorithm.Argon2id; the package's const enum cannot be imported under verbatimModuleSyntax.
const ARGON2ID = 2;
import { AppError } from '../../util/errors.js';

// argon2id with the library's defaults (19 MiB, t=2), the OWASP baseline; ~25 ms a hash here.
export function hashPassword(password: string): Promise<string> {
  // eslint-disable-next-line @typescript-eslint/no-unsafe-enum-assignment -- Algorithm.Argon2id, which cannot be imported (see above)
  return hash(password, { algorithm: ARGON2ID });
}

export async function verifyPassword(passwordHash: string, password: string): Promise<boolean> {
  try {
    return await verify(passwordHash, password);
  } catch {
    return false;
  }
}

/** A hash of a random string, verified against when the username does not exist so timing does not tell. */
let decoyHash: Promise<string> | undefined;
export function decoyPasswordHash(): Promise<string> {
  decoyHash ??= hashPassword(`decoy-${Math.random()}`);
  return decoyHash;
}

/** Minimum policy for passwords people choose: 8–128 characters with a letter and a digit. */
export function assertStrongPassword(password: string, field = 'password'): void {
  if (password.length < 8 || password.length > 128 || !/[A-Za-z]/.test(password) || !/\d/.test(password)) {
    throw new AppError('WEAK_PASSWORD', [{ field, message: 'at least 8 characters with letters and digits' }]);
  }
}

/** A random password that satisfies the policy (seeded accounts, admin resets). */
export function generatePassword(): string {
  const alphabet = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789';
  for (;;) {
    // 256 % 56 leaves a slight bias towards the first 32 symbols; at 16 symbols that is still ~92 bits.
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    const candidate = Array.from(bytes, (b) => alphabet[b % alphabet.length]).join('');
    if (/[A-Za-z]/.test(candidate) && /\d/.test(candidate)) return candidate;
  }
}
