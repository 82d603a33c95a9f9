import type { Db } from '../../db/index.js';

export interface SourceFailures {
  failures: number;
  lastFailureAt: string;
  blockedUntil: string | null;
}

/** Failed logins per (account, source address) and per account (`users.failed_login_count`). */
export class LoginBackoffRepository {
  constructor(private readonly sql: Db) {}

  async ofSource(userId: number, source: string): Promise<SourceFailures | undefined> {
    const row = await this.sql.kysely
      .selectFrom('login_backoff')
      .select(['failures', 'last_failure_at', 'blocked_until'])
      .where('user_id', '=', userId)
      .where('source', '=', source)
      .executeTakeFirst();
    return row && { failures: row.failures, lastFailureAt: row.last_failure_at, blockedUntil: row.blocked_until };
  }

  /**
   * Counts one failure from `source` (starting again from one when the last is older than
   * `forgetBefore`) and returns the new count. One statement, so parallel guesses all count.
   */
  async countSourceFailure(userId: number, source: string, now: string, forgetBefore: string): Promise<number> {
    const row = await this.sql.kysely
      .insertInto('login_backoff')
      .values({ user_id: userId, source, failures: 1, last_failure_at: now, blocked_until: null })
      .onConflict((oc) =>
        oc.columns(['user_id', 'source']).doUpdateSet((eb) => ({
          failures: eb
            .case()
            .when('login_backoff.last_failure_at', '<', forgetBefore)
            .then(1)
            .else(eb('login_backoff.failures', '+', 1))
            .end(),
          last_failure_at: now,
        })),
      )
      .returning('failures')
      .executeTakeFirstOrThrow();
    return row.failures;
  }

  async blockSource(userId: number, source: string, until: string): Promise<void> {
    await this.sql.kysely
      .updateTable('login_backoff')
      .set({ blocked_until: until })
      .where('user_id', '=', userId)
      .where('source', '=', source)
      .execute();
  }

  async clearSource(userId: number, source: string): Promise<void> {
    await this.sql.kysely.deleteFrom('login_backoff').where('user_id', '=', userId).where('source', '=', source).execute();
  }

  /** Counts one failure against the whole account and returns the new count. */
  async countAccountFailure(userId: number): Promise<number> {
    const row = await this.sql.kysely
      .updateTable('users')
      .set((eb) => ({ failed_login_count: eb('failed_login_count', '+', 1) }))
      .where('id', '=', userId)
      .returning('failed_login_count')
      .executeTakeFirstOrThrow();
    return row.failed_login_count;
  }

  async blockAccount(userId: number, until: string): Promise<void> {
    await this.sql.kysely.updateTable('users').set({ locked_until: until }).where('id', '=', userId).execute();
  }

  async resetAccount(userId: number): Promise<void> {
    await this.sql.kysely.updateTable('users').set({ failed_login_count: 0, locked_until: null }).where('id', '=', userId).execute();
  }

  /** Drops rows nobody has failed from since `before`; they no longer slow anyone. */
  async purgeOlderThan(before: string): Promise<void> {
    await this.sql.kysely.deleteFrom('login_backoff').where('last_failure_at', '<', before).execute();
  }
}
