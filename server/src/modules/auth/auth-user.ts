/** The user a request acts for, as its token and the role tables say; services check access with it. */
export interface AuthUser {
  id: number;
  username: string;
  roles: string[];
  permissions: Set<string>;
  /** Token id of the presented access token. */
  jti: string;
  /** The session (auth_sessions.id) the token belongs to: logout revokes it, a guest's data is scoped to it. */
  sessionId: string;
  tokenExpiresAt: number;
  isGuest: boolean;
}
