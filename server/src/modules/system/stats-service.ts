import type { Db } from '../../db/index.js';
import { periodStart } from '../../util/time.js';
import type { AuditRepository } from '../audit/repository.js';
import { diskFigures } from './health-service.js';

export type Period = 'today' | 'week' | 'month' | 'year';

/** A feature's figures for the statistics page: totals and what is new since `since`. */
export type StatsContributor = (since: string) => Promise<Record<string, unknown>>;

/**
 * System statistics. Each feature contributes its own section (users and logins here; patients,
 * studies and reports register theirs when those features exist), so every figure is a real count.
 */
export class StatsService {
  private readonly contributors = new Map<string, StatsContributor>();

  constructor(private readonly sql: Db, audit: AuditRepository, dataDir: string) {
    this.register('users', async (since) => {
      const db = this.sql.kysely;
      const row = await db.selectFrom('users').select([
        (eb) => eb.fn.countAll<number>().as('total'),
        (eb) => eb.fn.sum<number>(eb.case().when('is_active', '=', 1).then(1).else(0).end()).as('active'),
        (eb) => eb.fn.sum<number>(eb.case().when('created_at', '>=', since).then(1).else(0).end()).as('new_in_period'),
      ]).where('deleted_at', 'is', null).where('username', '!=', 'guest').executeTakeFirstOrThrow();
      return { total: Number(row.total), active: Number(row.active ?? 0), new_in_period: Number(row.new_in_period ?? 0) };
    });
    this.register('logins', async (since) => {
      const rows = await this.sql.kysely.selectFrom('audit_logs').select(['outcome', (eb) => eb.fn.countAll<number>().as('n')])
        .where('action', '=', 'auth.login').where('created_at', '>=', since).groupBy('outcome').execute();
      const of = (o: string) => Number(rows.find((r) => r.outcome === o)?.n ?? 0);
      return { successful: of('success'), failed: of('failure') };
    });
    this.register('audit', async (since) => ({ entries_in_period: await audit.countSince(since) }));
    this.register('storage', async () => {
      const disk = await diskFigures(dataDir);
      return { total_size: disk.total_bytes, used_size: disk.used_bytes, available_size: disk.available_bytes,
        usage_rate: disk.total_bytes > 0 ? Number((disk.used_bytes / disk.total_bytes).toFixed(4)) : 0 };
    });
  }

  register(name: string, contributor: StatsContributor): void {
    this.contributors.set(name, contributor);
  }

  async stats(period: Period) {
    const since = periodStart(period);
    const entries = await Promise.all([...this.contributors].map(async ([name, fn]) => [name, await fn(since)] as const));
    return { period, date: since.slice(0, 10), since, stats: Object.fromEntries(entries) };
  }
}
