import { periodStart } from '../../util/time.js';
import type { AuditRepository } from '../audit/repository.js';
import { diskFigures } from './health-service.js';
import type { StatsRepository } from './stats-repository.js';

export type Period = 'today' | 'week' | 'month' | 'year';

/** A feature's figures for the statistics page: totals and what is new since `since`. */
export type StatsContributor = (since: string) => Promise<Record<string, unknown>>;

/**
 * System statistics. Each feature contributes its own section (users and logins here; patients,
 * studies and reports register theirs when those features exist), so every figure is a real count.
 */
export class StatsService {
  private readonly contributors = new Map<string, StatsContributor>();

  constructor(repo: StatsRepository, audit: AuditRepository, dataDir: string) {
    this.register('users', (since) => repo.userCounts(since));
    this.register('logins', (since) => repo.loginOutcomes(since));
    this.register('audit', async (since) => ({ entries_in_period: await audit.countSince(since) }));
    this.register('storage', async () => {
      const disk = await diskFigures(dataDir);
      return {
        total_size: disk.total_bytes,
        used_size: disk.used_bytes,
        available_size: disk.available_bytes,
        usage_rate: disk.total_bytes > 0 ? Number((disk.used_bytes / disk.total_bytes).toFixed(4)) : 0,
      };
    });
  }

  register(name: string, contributor: StatsContributor): void {
    this.contributors.set(name, contributor);
  }

  async stats(period: Period) {
    const since = periodStart(period);
    const entries = await Promise.all(
      [...this.contributors].map(async ([name, fn]) => [name, withSpecFigures(await fn(since), period)] as const),
    );
    return { period, date: since.slice(0, 10), since, stats: Object.fromEntries(entries) };
  }
}

/**
 * The spec's names for a section's figures beside ours: `new_today` (for period=today) and
 * `growth_rate` (new in the period over what there was before it).
 */
function withSpecFigures(section: Record<string, unknown>, period: Period): Record<string, unknown> {
  const { total, new_in_period: fresh } = section;
  if (typeof total !== 'number' || typeof fresh !== 'number') return section;
  const before = total - fresh;
  return {
    ...section,
    ...(period === 'today' ? { new_today: fresh } : {}),
    growth_rate: before > 0 ? Number((fresh / before).toFixed(4)) : 0,
  };
}
