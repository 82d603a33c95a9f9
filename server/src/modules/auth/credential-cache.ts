import type { SessionCredentials } from './repository.js';

/**
 * How long a process answers a token from memory. Revocations made in this process clear the
 * cache before their request answers (see `invalidate`); this bounds how late another process
 * sharing the database sees one (logout, replayed refresh token, password change, account
 * disabled or deleted, roles changed).
 */
export const CREDENTIAL_CACHE_MS = 1000;
/** Sessions remembered at once; past this the cache starts over (a flood of tokens cannot grow it). */
const MAX_ENTRIES = 10_000;

interface Entry {
  credentials: SessionCredentials;
  until: number;
}

/**
 * The auth hook's memory of what a token's session stands for, keyed by (session, user, token
 * version), so a request costs no query while the entry is fresh. `invalidate` forgets everything
 * and makes lookups that were running when it was called store nothing: a read that started
 * before a revocation committed cannot put the old state back. Concurrent misses of one key share
 * one lookup (a console's parallel requests after expiry cost one query), unless an invalidation
 * came in between.
 */
export class CredentialCache {
  private readonly entries = new Map<string, Entry>();
  private readonly running = new Map<string, Promise<SessionCredentials | undefined>>();
  private generation = 0;

  constructor(
    private readonly ttlMs = CREDENTIAL_CACHE_MS,
    private readonly now: () => number = Date.now,
  ) {}

  static key(sessionId: string, userId: number, tokenVersion: number): string {
    return `${sessionId}|${userId}|${tokenVersion}`;
  }

  /** The cached credentials of `key`, or those `load` reads (cached when nothing was invalidated meanwhile). */
  async get(key: string, load: () => Promise<SessionCredentials | undefined>): Promise<SessionCredentials | undefined> {
    const entry = this.entries.get(key);
    if (entry && entry.until > this.now()) return entry.credentials;
    const running = this.running.get(key);
    if (running) return running;
    const generation = this.generation;
    const lookup = load().then(
      (credentials) => {
        if (this.running.get(key) === lookup) this.running.delete(key);
        if (credentials && generation === this.generation) {
          if (this.entries.size >= MAX_ENTRIES) this.entries.clear();
          this.entries.set(key, { credentials, until: this.now() + this.ttlMs });
        }
        return credentials;
      },
      (error: unknown) => {
        if (this.running.get(key) === lookup) this.running.delete(key);
        throw error;
      },
    );
    this.running.set(key, lookup);
    return lookup;
  }

  /** Forgets every entry and every lookup under way: a credential table changed in this process. */
  invalidate(): void {
    this.generation += 1;
    this.entries.clear();
    this.running.clear();
  }
}
