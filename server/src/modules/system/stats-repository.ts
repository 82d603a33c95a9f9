import type { Db } from '../../db/index.js';

/** Counts for the statistics page that belong to no feature's own repository (accounts, logins). */
export class StatsRepository {
  constructor(private readonly db: Db) {}

  /** Live accounts (the built-in guest aside): all, active, and created since `since`. */
  async userCounts(since: string): Promise<{ total: number; active: number; new_in_period: number }> {
    const row = await this.db.kysely
      .selectFrom('users')
      .select([
        (eb) => eb.fn.countAll<number>().as('total'),
        // SUM is NULL over no rows, and PostgreSQL's numeric comes back as a string.
        (eb) => eb.fn.sum<number | string | null>(eb.case().when('is_active', '=', 1).then(1).else(0).end()).as('active'),
        (eb) => eb.fn.sum<number | string | null>(eb.case().when('created_at', '>=', since).then(1).else(0).end()).as('new_in_period'),
      ])
      .where('deleted_at', 'is', null)
      .where('username', '!=', 'guest')
      .executeTakeFirstOrThrow();
    return { total: row.total, active: Number(row.active ?? 0), new_in_period: Number(row.new_in_period ?? 0) };
  }

  /** Login attempts since `since`, by outcome. */
  async loginOutcomes(since: string): Promise<{ successful: number; failed: number }> {
    const rows = await this.db.kysely
      .selectFrom('audit_logs')
      .select(['outcome', (eb) => eb.fn.countAll<number>().as('n')])
      .where('action', '=', 'auth.login')
      .where('created_at', '>=', since)
      .groupBy('outcome')
      .execute();
    const of = (outcome: string) => rows.find((r) => r.outcome === outcome)?.n ?? 0;
    return { successful: of('success'), failed: of('failure') };
  }
}
