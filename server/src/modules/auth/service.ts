import { randomUUID } from 'node:crypto';
import type { AuthUser } from './auth-user.js';
import { AppError } from '../../util/errors.js';
import { nowIso } from '../../util/time.js';
import type { ConfigService } from '../system/config-service.js';
import type { UserRow, UsersRepository } from '../users/repository.js';
import { assertStrongPassword, decoyPasswordHash, hashPassword, verifyPassword } from './passwords.js';
import { addressAllowed } from './addresses.js';
import type { SessionCredentials, SessionRow, SessionsRepository } from './repository.js';
import { CredentialCache } from './credential-cache.js';
import type { TokenClaims, TokenService } from './tokens.js';
import type { LoginThrottle } from './login-backoff.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { GuestIssuance } from './guest-issuance.js';

export const GUEST_USERNAME = 'guest';

export interface IssuedSession {
  user: UserRow;
  roles: string[];
  permissions: string[];
  accessToken: string;
  accessClaims: TokenClaims;
  refreshToken: string;
  sessionId: string;
}

/** Told when sessions end before their time (logout, replayed refresh token), so live connections can be closed. */
export type SessionsEndedListener = (sessionIds: readonly string[]) => void;

export type AuthOutcome = AuthUser | 'TOKEN_INVALID' | 'TOKEN_EXPIRED' | 'TOKEN_REVOKED' | 'ACCOUNT_DISABLED';

export class AuthService {
  constructor(
    private readonly users: UsersRepository,
    private readonly sessions: SessionsRepository,
    private readonly tokens: TokenService,
    private readonly throttle: LoginThrottle,
    private readonly configs: ConfigService,
    private readonly credentials = new CredentialCache(),
  ) {
    // Every revocation (logout, replayed refresh, password change or reset, account disabled or
    // deleted, roles changed) is a write to these tables: once it commits here, no cached answer survives it.
    sessions.onCredentialsWritten(() => credentials.invalidate());
  }

  private readonly endedListeners: SessionsEndedListener[] = [];
  /** Guest tokens handed out per client address in the last minute (each is a session with its own shares). */
  private readonly guestIssuance = new GuestIssuance();

  onSessionsEnded(listener: SessionsEndedListener): void {
    this.endedListeners.push(listener);
  }

  private async endSessions(ids: readonly string[], reason: string): Promise<void> {
    for (const id of ids) await this.sessions.revoke(id, reason);
    if (ids.length === 0) return;
    for (const listener of this.endedListeners) listener(ids);
  }

  /**
   * Checks a username and password from `source` (the client address). Unknown accounts, wrong
   * passwords and attempts the back-off refuses all get the same INVALID_CREDENTIALS after
   * one password-hash check, so neither the answer nor its timing tells them apart.
   */
  async login(username: string, password: string, source: string): Promise<IssuedSession> {
    const found = await this.users.findLiveByUsername(username);
    if (!found || found.username === GUEST_USERNAME) return this.refuse(password);
    // One attempt per (account, address) at a time, so a burst of parallel guesses cannot all
    // be checked before the first failure is counted.
    return this.throttle.oneAtATime(found.id, source, async () => {
      const user = (await this.users.findLiveById(found.id)) ?? found;
      const verdict = await this.throttle.verdict(user, source);
      if (verdict.kind === 'refuse') {
        // Hammering during the back-off lengthens it, and costs the same writes a wrong password does.
        await this.throttle.recordFailure(user.id, source);
        return this.refuse(password);
      }
      if (verdict.kind === 'delay') await sleep(verdict.ms);
      if (!(await verifyPassword(user.password_hash, password))) {
        await this.throttle.recordFailure(user.id, source);
        throw new AppError('INVALID_CREDENTIALS');
      }
      if (!user.is_active) throw new AppError('ACCOUNT_DISABLED');
      await this.throttle.recordSuccess(user, source);
      await this.users.update(user.id, { last_login_at: nowIso() });
      const fresh = await this.users.findLiveById(user.id);
      return this.issueSession(fresh ?? user, source);
    });
  }

  /** The wrong-password answer, after the same hash work a real check costs. */
  private async refuse(password: string): Promise<never> {
    await verifyPassword(await decoyPasswordHash(), password);
    throw new AppError('INVALID_CREDENTIALS');
  }

  /** A new session for the user (one login): its access and refresh tokens carry the session's id. */
  async issueSession(user: UserRow, sourceIp = ''): Promise<IssuedSession> {
    const sessionId = randomUUID();
    const { issued, refreshClaims } = await this.tokenPair(user, sessionId);
    await this.sessions.create({
      id: sessionId,
      user_id: user.id,
      kind: 'user',
      created_at: nowIso(),
      expires_at: new Date(refreshClaims.exp * 1000).toISOString(),
      source_ip: sourceIp.slice(0, 64),
      refresh_jti: refreshClaims.jti,
    });
    return issued;
  }

  /** A fresh access and refresh token of one session, with the user's current roles and permissions. */
  private async tokenPair(user: UserRow, sessionId: string): Promise<{ issued: IssuedSession; refreshClaims: TokenClaims }> {
    const [access, refresh, { roles, permissions }] = await Promise.all([
      this.tokens.issue(user, 'access', sessionId),
      this.tokens.issue(user, 'refresh', sessionId),
      this.users.accessOf(user.id),
    ]);
    return {
      issued: {
        user,
        roles,
        permissions,
        accessToken: access.token,
        accessClaims: access.claims,
        refreshToken: refresh.token,
        sessionId,
      },
      refreshClaims: refresh.claims,
    };
  }

  private live(session: SessionRow | undefined): session is SessionRow {
    return session !== undefined && session.revoked_at === null && Date.parse(session.expires_at) > Date.now();
  }

  /**
   * Exchanges a refresh token for a new pair in the same session (rotation). Only the session's
   * newest refresh token is accepted; an older one presented again means it was copied, so the
   * whole session (the thief's tokens and the owner's) is revoked.
   */
  async refresh(refreshToken: string): Promise<IssuedSession> {
    const claims = await this.tokens.verify(refreshToken, 'refresh');
    if (typeof claims === 'string') throw new AppError(claims);
    const session = await this.sessions.get(claims.sid);
    if (!this.live(session) || session.user_id !== claims.id || session.kind !== 'user') throw new AppError('TOKEN_REVOKED');
    if (session.refresh_jti !== claims.jti) {
      await this.endSessions([session.id], 'refresh_replayed');
      throw new AppError('TOKEN_REVOKED');
    }
    const user = await this.users.findLiveById(claims.id);
    if (!user || user.token_version !== claims.ver) throw new AppError('TOKEN_REVOKED');
    if (!user.is_active) throw new AppError('ACCOUNT_DISABLED');
    const { issued, refreshClaims } = await this.tokenPair(user, session.id);
    const expiresAt = new Date(refreshClaims.exp * 1000).toISOString();
    if (!(await this.sessions.rotateRefresh(session.id, claims.jti, refreshClaims.jti, expiresAt))) {
      // Two exchanges of one token raced: the loser is a replay.
      await this.endSessions([session.id], 'refresh_replayed');
      throw new AppError('TOKEN_REVOKED');
    }
    return issued;
  }

  /**
   * Ends the caller's session: every token of it, access and refresh, stops working, whether or
   * not the client names its refresh token (the spec's logout has no body). A refresh token of
   * another session of the same user, when given, ends that session too.
   */
  async logout(auth: AuthUser, refreshToken: string | undefined): Promise<void> {
    const ended = [auth.sessionId];
    if (refreshToken) {
      const claims = await this.tokens.verify(refreshToken, 'refresh');
      if (typeof claims !== 'string' && claims.id === auth.id && claims.sid !== auth.sessionId) ended.push(claims.sid);
    }
    await this.endSessions(ended, 'logout');
  }

  /** Ends every session of a user (account deleted, disabled, password reset). */
  async endSessionsOf(userId: number, reason: string): Promise<void> {
    const ids = await this.sessions.revokeAllOf(userId, reason);
    if (ids.length > 0) for (const listener of this.endedListeners) listener(ids);
  }

  /**
   * Resolves a bearer token to the user and permissions it carries right now: one query, or none
   * while this process's cache holds the session (cleared by every local revocation, at most
   * `CREDENTIAL_CACHE_MS` old for revocations made by another process).
   */
  async authenticate(token: string): Promise<AuthOutcome> {
    const claims = await this.tokens.verify(token, 'access');
    if (typeof claims === 'string') return claims;
    const found = await this.credentials.get(CredentialCache.key(claims.sid, claims.id, claims.ver), () =>
      this.sessions.credentials(claims.sid, claims.id),
    );
    if (!this.valid(found, claims)) return 'TOKEN_REVOKED';
    if (!found.user.isActive) return 'ACCOUNT_DISABLED';
    return {
      id: found.user.id,
      username: found.user.username,
      roles: found.roles,
      permissions: new Set(found.permissions),
      jti: claims.jti,
      sessionId: found.sessionId,
      tokenExpiresAt: claims.exp,
      isGuest: found.user.username === GUEST_USERNAME,
    };
  }

  /** The session is live, belongs to the token's user, and the account's token version is the token's. */
  private valid(
    found: SessionCredentials | undefined,
    claims: TokenClaims,
  ): found is SessionCredentials & { user: NonNullable<SessionCredentials['user']> } {
    return (
      found !== undefined &&
      found.revokedAt === null &&
      Date.parse(found.expiresAt) > Date.now() &&
      found.sessionUserId === claims.id &&
      found.user !== undefined &&
      found.user.id === claims.id &&
      found.user.tokenVersion === claims.ver
    );
  }

  /**
   * The token `software_info` hands out for the emergency workflow: each one is a session of its
   * own (own id, own rate-limit bucket, only the studies it registered). Empty when the site
   * switched guests off (`auth.guest_enabled`) or the caller is not a configured console address
   * (`auth.guest_allowed_addresses`, IPs and CIDRs; empty allows any), and, with `refused` saying
   * so, when the address already got `auth.guest_tokens_per_minute` tokens in the last minute.
   */
  async guestToken(sourceIp: string): Promise<{ token: string; expiresAt: number; refused?: string }> {
    const none = { token: '', expiresAt: 0 };
    if (!(await this.configs.getBoolean('auth.guest_enabled'))) return none;
    if (!addressAllowed(sourceIp, await this.configs.getString('auth.guest_allowed_addresses'))) return none;
    const guest = await this.users.findLiveByUsername(GUEST_USERNAME);
    if (!guest || !guest.is_active) return none;
    const perMinute = await this.configs.getNumber('auth.guest_tokens_per_minute');
    if (!this.guestIssuance.tryTake(sourceIp, perMinute)) return { ...none, refused: `over ${perMinute} guest tokens a minute` };
    const sessionId = randomUUID();
    const { token, claims } = await this.tokens.issue(guest, 'access', sessionId);
    await this.sessions.create({
      id: sessionId,
      user_id: guest.id,
      kind: 'guest',
      created_at: nowIso(),
      expires_at: new Date(claims.exp * 1000).toISOString(),
      source_ip: sourceIp.slice(0, 64),
      refresh_jti: '',
    });
    return { token, expiresAt: claims.exp };
  }

  /**
   * Changing one's own password voids every token issued before, on every device. The old
   * password is checked through the login back-off (same account, same address): a stolen token
   * must not become an unthrottled password oracle. A refused or wrong attempt is answered alike.
   */
  async changeOwnPassword(userId: number, oldPassword: string, newPassword: string, confirm: string, source: string): Promise<void> {
    const found = await this.users.findLiveById(userId);
    if (!found) throw new AppError('USER_NOT_FOUND');
    if (found.username === GUEST_USERNAME) throw new AppError('GUEST_SCOPE');
    if (newPassword !== confirm) {
      throw new AppError('PASSWORD_CONFIRM_MISMATCH', [{ field: 'confirm_new_password', message: 'does not match new_password' }]);
    }
    const wrong = () => new AppError('OLD_PASSWORD_WRONG', [{ field: 'old_password', message: 'wrong password' }]);
    await this.throttle.oneAtATime(found.id, source, async () => {
      const user = (await this.users.findLiveById(found.id)) ?? found;
      const verdict = await this.throttle.verdict(user, source);
      if (verdict.kind === 'refuse') {
        await this.throttle.recordFailure(user.id, source);
        await verifyPassword(await decoyPasswordHash(), oldPassword);
        throw wrong();
      }
      if (verdict.kind === 'delay') await sleep(verdict.ms);
      if (!(await verifyPassword(user.password_hash, oldPassword))) {
        await this.throttle.recordFailure(user.id, source);
        throw wrong();
      }
      assertStrongPassword(newPassword, 'new_password', [user.username, user.full_name]);
      await this.throttle.recordSuccess(user, source);
      await this.users.update(user.id, {
        password_hash: await hashPassword(newPassword),
        token_version: user.token_version + 1,
        updated_at: nowIso(),
      });
    });
  }

  /**
   * Ends every live guest session (the guest switches changed: tokens minted under the old
   * settings must not outlive them). Returns how many ended.
   */
  async endGuestSessions(reason: string): Promise<number> {
    const guest = await this.users.findLiveByUsername(GUEST_USERNAME);
    if (!guest) return 0;
    const ids = await this.sessions.revokeAllOf(guest.id, reason);
    if (ids.length > 0) for (const listener of this.endedListeners) listener(ids);
    return ids.length;
  }
}
