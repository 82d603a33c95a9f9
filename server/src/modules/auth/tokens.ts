import { randomUUID } from 'node:crypto';
import { errors, jwtVerify, SignJWT } from 'jose';

export const ACCESS_TOKEN_SECONDS = 3600;
export const REFRESH_TOKEN_SECONDS = 7 * 24 * 3600;

export type TokenKind = 'access' | 'refresh';

/** Claims as in the spec's samples (`exp`, `id`, `name`) plus what revocation needs. */
export interface TokenClaims {
  id: number;
  name: string;
  typ: TokenKind;
  /** The user's token_version when issued; a bump voids the token. */
  ver: number;
  /** The session the token belongs to (auth_sessions.id); revoking the session voids the token. */
  sid: string;
  jti: string;
  exp: number;
  iat: number;
}

export type VerifyFailure = 'TOKEN_INVALID' | 'TOKEN_EXPIRED';

export class TokenService {
  private readonly key: Uint8Array;

  constructor(secret: string) {
    this.key = new TextEncoder().encode(secret);
  }

  async issue(
    user: { id: number; username: string; token_version: number },
    kind: TokenKind,
    sessionId: string,
  ): Promise<{ token: string; claims: TokenClaims }> {
    const iat = Math.floor(Date.now() / 1000);
    const claims: TokenClaims = {
      id: user.id,
      name: user.username,
      typ: kind,
      ver: user.token_version,
      sid: sessionId,
      jti: randomUUID(),
      iat,
      exp: iat + (kind === 'access' ? ACCESS_TOKEN_SECONDS : REFRESH_TOKEN_SECONDS),
    };
    const token = await new SignJWT({ id: claims.id, name: claims.name, typ: claims.typ, ver: claims.ver, sid: claims.sid })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setJti(claims.jti)
      .setIssuedAt(iat)
      .setExpirationTime(claims.exp)
      .sign(this.key);
    return { token, claims };
  }

  async verify(token: string, kind: TokenKind): Promise<TokenClaims | VerifyFailure> {
    try {
      const { payload } = await jwtVerify(token, this.key, { algorithms: ['HS256'] });
      const { id, name, typ, ver, sid, jti, exp, iat } = payload as Partial<TokenClaims>;
      if (
        typeof id !== 'number' ||
        typeof name !== 'string' ||
        typ !== kind ||
        typeof ver !== 'number' ||
        typeof sid !== 'string' ||
        typeof jti !== 'string' ||
        typeof exp !== 'number' ||
        typeof iat !== 'number'
      )
        return 'TOKEN_INVALID';
      return { id, name, typ, ver, sid, jti, exp, iat };
    } catch (error) {
      return error instanceof errors.JWTExpired ? 'TOKEN_EXPIRED' : 'TOKEN_INVALID';
    }
  }
}
