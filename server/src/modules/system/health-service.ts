import fs from 'node:fs/promises';
import { sql as rawSql } from 'kysely';
import type { Bus, BusProbe } from '../../bus/index.js';
import type { Db } from '../../db/index.js';
import { nowIso } from '../../util/time.js';
import type { ConfigService } from './config-service.js';

type Status = 'healthy' | 'degraded' | 'unhealthy';

export interface DiskFigures {
  total_bytes: number;
  available_bytes: number;
  used_bytes: number;
}

export async function diskFigures(dir: string): Promise<DiskFigures> {
  const s = await fs.statfs(dir);
  const total = s.blocks * s.bsize;
  const available = s.bavail * s.bsize;
  return { total_bytes: total, available_bytes: available, used_bytes: total - s.bfree * s.bsize };
}

export function humanBytes(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB', 'PB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value >= 100 || unit === 0 ? Math.round(value) : value.toFixed(1)}${units[unit]}`;
}

export class HealthService {
  private readonly startedAt = Date.now();

  constructor(
    private readonly sql: Db,
    private readonly bus: Bus,
    private readonly configs: ConfigService,
    private readonly dataDir: string,
    private readonly version: string,
  ) {}

  private async database() {
    const started = performance.now();
    try {
      await rawSql`select 1`.execute(this.sql.kysely);
      return { status: 'healthy' as Status, dialect: this.sql.dialect, response_time: Math.round(performance.now() - started) };
    } catch (error) {
      return { status: 'unhealthy' as Status, dialect: this.sql.dialect, error: (error as Error).message };
    }
  }

  private async storage() {
    try {
      const disk = await diskFigures(this.dataDir);
      const minimum = await this.configs.getNumber('storage.min_free_bytes');
      // Writability matters more than space: a read-only mount fails every store.
      await fs.access(this.dataDir, fs.constants.W_OK);
      return {
        status: (disk.available_bytes < minimum ? 'degraded' : 'healthy') as Status,
        available_space: humanBytes(disk.available_bytes), available_bytes: disk.available_bytes, total_bytes: disk.total_bytes,
      };
    } catch (error) {
      return { status: 'unhealthy' as Status, error: (error as Error).message };
    }
  }

  private async jobQueue() {
    try {
      const rows = await this.sql.kysely.selectFrom('jobs').select(['state', (eb) => eb.fn.countAll<number>().as('n')]).groupBy('state').execute();
      const count = (state: string) => Number(rows.find((r) => r.state === state)?.n ?? 0);
      const oldest = await this.sql.kysely.selectFrom('jobs').select((eb) => eb.fn.min('run_at').as('run_at'))
        .where('state', '=', 'queued').where('run_at', '<=', nowIso()).executeTakeFirst();
      const stale = await this.sql.kysely.selectFrom('jobs').select((eb) => eb.fn.countAll<number>().as('n'))
        .where('state', '=', 'running').where('locked_until', '<', nowIso()).executeTakeFirstOrThrow();
      const waitingSeconds = oldest?.run_at ? Math.max(0, Math.round((Date.now() - Date.parse(String(oldest.run_at))) / 1000)) : 0;
      return {
        status: (Number(stale.n) > 0 ? 'degraded' : 'healthy') as Status,
        queue_size: count('queued'), running: count('running'), failed: count('failed'),
        stale_running: Number(stale.n), oldest_waiting_seconds: waitingSeconds,
      };
    } catch (error) {
      return { status: 'unhealthy' as Status, error: (error as Error).message };
    }
  }

  async check() {
    const [database, storage, mqtt, jobQueue] = await Promise.all([this.database(), this.storage(), this.bus.probe(), this.jobQueue()]);
    const statuses: Status[] = [database.status, storage.status, (mqtt as BusProbe).status, jobQueue.status];
    const status: Status = database.status === 'unhealthy' || storage.status === 'unhealthy' ? 'unhealthy'
      : statuses.every((s) => s === 'healthy') ? 'healthy' : 'degraded';
    return {
      status, timestamp: nowIso(), version: this.version, uptime: Math.round((Date.now() - this.startedAt) / 1000),
      services: { database, storage, mqtt, job_queue: jobQueue },
    };
  }
}
