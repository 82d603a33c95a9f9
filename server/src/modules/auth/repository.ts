import type { Db } from '../../db/index.js';
import { nowIso } from '../../util/time.js';

/** The revocation list: token ids refused until they would have expired anyway. */
export class RevokedTokensRepository {
  constructor(private readonly sql: Db) {}

  async revoke(jti: string, userId: number, expiresAtSeconds: number): Promise<void> {
    await this.sql.kysely
      .insertInto('revoked_tokens')
      .values({ jti, user_id: userId, expires_at: new Date(expiresAtSeconds * 1000).toISOString(), revoked_at: nowIso() })
      .onConflict((oc) => oc.column('jti').doNothing())
      .execute();
  }

  async isRevoked(jti: string): Promise<boolean> {
    const row = await this.sql.kysely.selectFrom('revoked_tokens').select('jti').where('jti', '=', jti).executeTakeFirst();
    return row !== undefined;
  }

  /** Drops entries whose tokens have expired; they can no longer be presented successfully. */
  async purgeExpired(): Promise<number> {
    const result = await this.sql.kysely.deleteFrom('revoked_tokens').where('expires_at', '<', nowIso()).executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
