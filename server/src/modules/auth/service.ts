import type { AuthUser } from './auth-user.js';
import { AppError } from '../../util/errors.js';
import { nowIso } from '../../util/time.js';
import type { UserRow, UsersRepository } from '../users/repository.js';
import { assertStrongPassword, decoyPasswordHash, hashPassword, verifyPassword } from './passwords.js';
import type { RevokedTokensRepository } from './repository.js';
import type { TokenClaims, TokenService } from './tokens.js';
import type { LoginThrottle } from './login-backoff.js';
import { setTimeout as sleep } from 'node:timers/promises';

export const GUEST_USERNAME = 'guest';

export interface IssuedSession {
  user: UserRow;
  roles: string[];
  permissions: string[];
  accessToken: string;
  accessClaims: TokenClaims;
  refreshToken: string;
}

export type AuthOutcome = AuthUser | 'TOKEN_INVALID' | 'TOKEN_EXPIRED' | 'TOKEN_REVOKED' | 'ACCOUNT_DISABLED';

export class AuthService {
  constructor(
    private readonly users: UsersRepository,
    private readonly revoked: RevokedTokensRepository,
    private readonly tokens: TokenService,
    private readonly throttle: LoginThrottle,
  ) {}

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
      return this.issueSession(fresh ?? user);
    });
  }

  /** The wrong-password answer, after the same hash work a real check costs. */
  private async refuse(password: string): Promise<never> {
    await verifyPassword(await decoyPasswordHash(), password);
    throw new AppError('INVALID_CREDENTIALS');
  }

  async issueSession(user: UserRow): Promise<IssuedSession> {
    const [access, refresh, { roles, permissions }] = await Promise.all([
      this.tokens.issue(user, 'access'),
      this.tokens.issue(user, 'refresh'),
      this.users.accessOf(user.id),
    ]);
    return { user, roles, permissions, accessToken: access.token, accessClaims: access.claims, refreshToken: refresh.token };
  }

  /** Exchanges a refresh token for a new pair; the old refresh token is revoked (rotation). */
  async refresh(refreshToken: string): Promise<IssuedSession> {
    const claims = await this.tokens.verify(refreshToken, 'refresh');
    if (typeof claims === 'string') throw new AppError(claims);
    if (await this.revoked.isRevoked(claims.jti)) throw new AppError('TOKEN_REVOKED');
    const user = await this.users.findLiveById(claims.id);
    if (!user || user.token_version !== claims.ver) throw new AppError('TOKEN_REVOKED');
    if (!user.is_active) throw new AppError('ACCOUNT_DISABLED');
    await this.revoked.revoke(claims.jti, user.id, claims.exp);
    return this.issueSession(user);
  }

  /** Revokes the presented access token and, when given, the caller's refresh token. */
  async logout(auth: AuthUser, refreshToken: string | undefined): Promise<void> {
    await this.revoked.revoke(auth.jti, auth.id, auth.tokenExpiresAt);
    if (refreshToken) {
      const claims = await this.tokens.verify(refreshToken, 'refresh');
      if (typeof claims !== 'string' && claims.id === auth.id) await this.revoked.revoke(claims.jti, auth.id, claims.exp);
    }
  }

  /** Resolves a bearer token to the user and permissions it carries right now. */
  async authenticate(token: string): Promise<AuthOutcome> {
    const claims = await this.tokens.verify(token, 'access');
    if (typeof claims === 'string') return claims;
    const [revoked, user] = await Promise.all([this.revoked.isRevoked(claims.jti), this.users.findLiveById(claims.id)]);
    if (revoked || !user || user.token_version !== claims.ver) return 'TOKEN_REVOKED';
    if (!user.is_active) return 'ACCOUNT_DISABLED';
    const { roles, permissions } = await this.users.accessOf(user.id);
    return {
      id: user.id,
      username: user.username,
      roles,
      permissions: new Set(permissions),
      jti: claims.jti,
      tokenExpiresAt: claims.exp,
      isGuest: user.username === GUEST_USERNAME,
    };
  }

  /** The token `software_info` hands out for the emergency workflow. */
  async guestToken(): Promise<{ token: string; expiresAt: number }> {
    const guest = await this.users.findLiveByUsername(GUEST_USERNAME);
    if (!guest || !guest.is_active) return { token: '', expiresAt: 0 };
    const { token, claims } = await this.tokens.issue(guest, 'access');
    return { token, expiresAt: claims.exp };
  }

  /** Changing one's own password voids every token issued before, on every device. */
  async changeOwnPassword(userId: number, oldPassword: string, newPassword: string, confirm: string): Promise<void> {
    const user = await this.users.findLiveById(userId);
    if (!user) throw new AppError('USER_NOT_FOUND');
    if (user.username === GUEST_USERNAME) throw new AppError('GUEST_SCOPE');
    if (newPassword !== confirm) {
      throw new AppError('PASSWORD_CONFIRM_MISMATCH', [{ field: 'confirm_new_password', message: 'does not match new_password' }]);
    }
    if (!(await verifyPassword(user.password_hash, oldPassword))) {
      throw new AppError('OLD_PASSWORD_WRONG', [{ field: 'old_password', message: 'wrong password' }]);
    }
    assertStrongPassword(newPassword, 'new_password', [user.username, user.full_name]);
    await this.users.update(user.id, {
      password_hash: await hashPassword(newPassword),
      token_version: user.token_version + 1,
      updated_at: nowIso(),
    });
  }
}
