import type { ConfigService } from '../system/config-service.js';
import type { LoginBackoffRepository } from './backoff-repository.js';

/** First wait once a threshold is reached; each further failure doubles it up to the cap. */
const BASE_DELAY_MS = 1000;
/** Failures older than this are forgotten: a source starts again from zero. */
const FORGET_AFTER_MS = 24 * 3600_000;

/** What to do with a login attempt before its password is checked. */
export type AttemptVerdict =
  /** Check the password now. */
  | { kind: 'check' }
  /** Check it after waiting `ms` (a clean address while the account as a whole backs off). */
  | { kind: 'delay'; ms: number }
  /** Do not check it: answer exactly like a wrong password. */
  | { kind: 'refuse' };

/** The wait after `failures` failures, with back-off starting at `threshold`; 0 below it. */
export function backoffMs(failures: number, threshold: number, capMs: number): number {
  if (failures < threshold) return 0;
  // 2^30 s is far above any cap; the clamp keeps the exponent finite.
  return Math.min(BASE_DELAY_MS * 2 ** Math.min(failures - threshold, 30), capMs);
}

const later = (iso: string | null, now: number) => iso !== null && Date.parse(iso) > now;

/**
 * Login back-off that slows the guesser, not the account's owner:
 *
 * - per (account, source address): after `security.max_failed_logins` failures that address
 *   waits 1 s, doubling with every further failure up to `security.lockout_minutes`;
 * - per account: after `security.account_failed_logins` failures from all addresses together
 *   the account backs off the same way, but only for addresses that have failed on it; a
 *   clean address (no failure on this account) still gets its password checked, after
 *   `security.login_backoff_delay_ms`.
 *
 * A refused attempt counts as a failure too (hammering lengthens the wait) and is answered
 * exactly like a wrong password (the caller runs a hash check
 * against a decoy so it takes as long), so the answer tells nothing about the account.
 */
export class LoginThrottle {
  /** The attempt running or queued last per `<account>|<address>` (this process). */
  private readonly inFlight = new Map<string, Promise<unknown>>();

  constructor(
    private readonly repo: LoginBackoffRepository,
    private readonly configs: ConfigService,
  ) {}

  /** Runs `attempt` after the earlier attempts on the same account from the same address. */
  oneAtATime<T>(accountId: number, source: string, attempt: () => Promise<T>): Promise<T> {
    const key = `${accountId}|${source}`;
    const previous = this.inFlight.get(key) ?? Promise.resolve();
    const run = previous.catch(() => undefined).then(attempt);
    const settled = run.catch(() => undefined);
    this.inFlight.set(key, settled);
    void settled.then(() => {
      if (this.inFlight.get(key) === settled) this.inFlight.delete(key);
    });
    return run;
  }

  async verdict(account: { id: number; locked_until: string | null }, source: string): Promise<AttemptVerdict> {
    const now = Date.now();
    const mine = await this.repo.ofSource(account.id, source);
    const remembered = mine !== undefined && Date.parse(mine.lastFailureAt) > now - FORGET_AFTER_MS;
    if (remembered && later(mine.blockedUntil, now)) return { kind: 'refuse' };
    if (!later(account.locked_until, now)) return { kind: 'check' };
    if (remembered) return { kind: 'refuse' };
    return { kind: 'delay', ms: await this.configs.getNumber('security.login_backoff_delay_ms') };
  }

  async recordFailure(accountId: number, source: string): Promise<void> {
    const now = Date.now();
    const [sourceThreshold, accountThreshold, capMinutes] = await Promise.all([
      this.configs.getNumber('security.max_failed_logins'),
      this.configs.getNumber('security.account_failed_logins'),
      this.configs.getNumber('security.lockout_minutes'),
    ]);
    const capMs = capMinutes * 60_000;
    const forgetBefore = new Date(now - FORGET_AFTER_MS).toISOString();
    const fromSource = await this.repo.countSourceFailure(accountId, source, new Date(now).toISOString(), forgetBefore);
    const sourceWait = backoffMs(fromSource, sourceThreshold, capMs);
    if (sourceWait > 0) await this.repo.blockSource(accountId, source, new Date(now + sourceWait).toISOString());
    const fromAll = await this.repo.countAccountFailure(accountId);
    const accountWait = backoffMs(fromAll, accountThreshold, capMs);
    if (accountWait > 0) await this.repo.blockAccount(accountId, new Date(now + accountWait).toISOString());
  }

  /**
   * A successful login forgets its address's failures. The account-wide count is kept while
   * the account backs off (an attack from elsewhere may still be going on) and reset after.
   */
  async recordSuccess(account: { id: number; locked_until: string | null }, source: string): Promise<void> {
    await this.repo.clearSource(account.id, source);
    if (!later(account.locked_until, Date.now())) await this.repo.resetAccount(account.id);
  }

  /** Forgets failures too old to count (run at start). */
  async purge(): Promise<void> {
    await this.repo.purgeOlderThan(new Date(Date.now() - FORGET_AFTER_MS).toISOString());
  }
}
