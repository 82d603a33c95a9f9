/** The user a request acts for, as its token and the role tables say; services check access with it. */
export interface AuthUser {
  id: number;
  username: string;
  roles: string[];
  permissions: Set<string>;
  /** Token id, so logout can revoke exactly this token. */
  jti: string;
  tokenExpiresAt: number;
  isGuest: boolean;
}
