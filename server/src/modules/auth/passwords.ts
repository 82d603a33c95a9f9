import { hash, verify } from '@node-rs/argon2';
import { ZxcvbnFactory } from '@zxcvbn-ts/core';
import { adjacencyGraphs, dictionary as commonDictionary } from '@zxcvbn-ts/language-common';
import { dictionary as englishDictionary, translations as englishTranslations } from '@zxcvbn-ts/language-en';
import { AppError } from '../../util/errors.js';

// Algorithm.Argon2id; the package's const enum cannot be imported under verbatimModuleSyntax.
const ARGON2ID = 2;

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

/** Shortest password accepted; zxcvbn alone rates some 8-character strings 3. */
export const MIN_PASSWORD_LENGTH = 10;
const MAX_PASSWORD_LENGTH = 128;
/** zxcvbn's scale: 3 is "safely unguessable: moderate protection from offline slow-hash scenario". */
export const MIN_PASSWORD_SCORE = 3;
/**
 * zxcvbn's cost grows steeply with length (a 128-character repeated pattern took ~4 s of event
 * loop here), so only this many leading characters are rated (worst case ~0.1 s): a password
 * whose first 32 characters are hard to guess is hard to guess.
 */
const RATED_PREFIX = 32;
/** Words of this product a guesser tries first, penalised like the username. */
const PRODUCT_WORDS = ['roentgen', 'dros', 'vetdros', 'xray', 'radiology', 'hospital'];

let estimator: ZxcvbnFactory | undefined;
function strengthEstimator(): ZxcvbnFactory {
  // Built on first use: loading the dictionaries takes ~100 ms.
  estimator ??= new ZxcvbnFactory({
    dictionary: { ...commonDictionary, ...englishDictionary },
    graphs: adjacencyGraphs,
    translations: englishTranslations,
    // The default (100) let 'ab1!ab1!…' cost ~0.6 s of event loop; 8 still sees p@ssw0rd and P4$$w0rd.
    l33tMaxSubstitutions: 8,
  });
  return estimator;
}

/**
 * Why `password` is too weak, or undefined when it is acceptable: at least
 * MIN_PASSWORD_LENGTH characters and a zxcvbn score of MIN_PASSWORD_SCORE or more, with the
 * username (and other personal words given) counted as known to the attacker.
 */
export function passwordWeakness(password: string, personalWords: readonly string[] = []): string | undefined {
  if (password.length < MIN_PASSWORD_LENGTH) return `at least ${MIN_PASSWORD_LENGTH} characters`;
  if (password.length > MAX_PASSWORD_LENGTH) return `at most ${MAX_PASSWORD_LENGTH} characters`;
  const words = personalWords.filter((w) => w.length > 0).map((w) => w.toLowerCase());
  const result = strengthEstimator().check(password.slice(0, RATED_PREFIX), [...words, ...PRODUCT_WORDS]);
  if (result.score >= MIN_PASSWORD_SCORE) return undefined;
  const hints = [result.feedback.warning, ...result.feedback.suggestions].filter((h): h is string => typeof h === 'string' && h !== '');
  return ['too easy to guess', ...hints].join('. ');
}

/** Refuses a password people chose that passwordWeakness rejects, naming the field. */
export function assertStrongPassword(password: string, field = 'password', personalWords: readonly string[] = []): void {
  const weakness = passwordWeakness(password, personalWords);
  if (weakness !== undefined) throw new AppError('WEAK_PASSWORD', [{ field, message: weakness }]);
}

/** A random password that satisfies the policy (seeded accounts, admin resets). */
export function generatePassword(): string {
  const alphabet = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789';
  for (;;) {
    // 256 % 56 leaves a slight bias towards the first 32 symbols; at 16 symbols that is still ~92 bits.
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    const candidate = Array.from(bytes, (b) => alphabet[b % alphabet.length]).join('');
    if (/[A-Za-z]/.test(candidate) && /\d/.test(candidate) && passwordWeakness(candidate) === undefined) return candidate;
  }
}
