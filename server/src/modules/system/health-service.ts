import fs from 'node:fs/promises';
import { sql as rawSql } from 'kysely';
import type { Bus } from '../../bus/index.js';
import type { JobState } from '../../db/schema.js';
import type { Db } from '../../db/index.js';
import type { JobsRepository } from '../jobs/repository.js';
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

/** A figure another module reports under `services.storage` (orphan blobs). */
export type StorageFigure = () => object;

export class HealthService {
  private readonly startedAt = Date.now();
  private readonly storageFigures = new Map<string, StorageFigure>();
  private readonly services = new Map<string, () => { status: Status }>();

  constructor(
    private readonly sql: Db,
    private readonly bus: Bus,
    private readonly configs: ConfigService,
    private readonly dataDir: string,
    private readonly version: string,
    private readonly jobs: JobsRepository,
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

  /** Adds a section under `services` (the exposure warm-up); `degraded` there makes the whole report degraded. */
  addService(name: string, report: () => { status: Status }): void {
    this.services.set(name, report);
  }

  /** Adds `name` to the storage section (the images module's orphan blobs), without this module knowing that module. */
  addStorageFigure(name: string, figure: StorageFigure): void {
    this.storageFigures.set(name, figure);
  }

  private async storage() {
    try {
      const disk = await diskFigures(this.dataDir);
      const minimum = await this.configs.getNumber('storage.min_free_bytes');
      // Writability matters more than space: a read-only mount fails every store.
      await fs.access(this.dataDir, fs.constants.W_OK);
      return {
        status: (disk.available_bytes < minimum ? 'degraded' : 'healthy') as Status,
        available_space: humanBytes(disk.available_bytes),
        available_bytes: disk.available_bytes,
        total_bytes: disk.total_bytes,
        ...Object.fromEntries([...this.storageFigures].map(([name, figure]) => [name, figure()])),
      };
    } catch (error) {
      return { status: 'unhealthy' as Status, error: (error as Error).message };
    }
  }

  /** The job runner's queue: totals, and per kind its jobs by state and how long the oldest due one has waited. */
  private async jobQueue() {
    try {
      const now = Date.now();
      const figures = await this.jobs.figures(new Date(now).toISOString());
      const waited = (runAt: string | undefined) => (runAt ? Math.max(0, Math.round((now - Date.parse(runAt)) / 1000)) : 0);
      const total = (state: JobState) => figures.counts.filter((c) => c.state === state).reduce((sum, c) => sum + c.n, 0);
      const kinds: Partial<Record<string, Record<JobState, number> & { oldest_waiting_seconds: number }>> = {};
      for (const c of figures.counts) {
        const entry = (kinds[c.kind] ??= { queued: 0, running: 0, done: 0, failed: 0, cancelled: 0, oldest_waiting_seconds: 0 });
        entry[c.state] = c.n;
      }
      for (const o of figures.oldestDue) {
        const entry = kinds[o.kind];
        if (entry) entry.oldest_waiting_seconds = waited(o.run_at);
      }
      const oldest = figures.oldestDue.map((o) => o.run_at).sort()[0];
      return {
        status: (figures.staleRunning > 0 ? 'degraded' : 'healthy') as Status,
        queue_size: total('queued'),
        running: total('running'),
        failed: total('failed'),
        stale_running: figures.staleRunning,
        oldest_waiting_seconds: waited(oldest),
        kinds,
      };
    } catch (error) {
      return { status: 'unhealthy' as Status, error: (error as Error).message };
    }
  }

  /** Our DICOM service: degraded while any calling AE may associate and store (`dicom.scp_accept_any_aet`). */
  private async dicom() {
    try {
      if (!(await this.configs.getBoolean('dicom.scp_accept_any_aet')))
        return { status: 'healthy' as Status, accept_any_calling_ae: false };
      return {
        status: 'degraded' as Status,
        accept_any_calling_ae: true,
        warning: 'dicom.scp_accept_any_aet is on: anyone who reaches the DICOM port may store objects',
      };
    } catch (error) {
      return { status: 'unhealthy' as Status, error: (error as Error).message };
    }
  }

  async check() {
    const [database, storage, mqtt, jobQueue, dicom] = await Promise.all([
      this.database(),
      this.storage(),
      this.bus.probe(),
      this.jobQueue(),
      this.dicom(),
    ]);
    const others = Object.fromEntries([...this.services].map(([name, report]) => [name, report()]));
    const statuses: Status[] = [database.status, storage.status, mqtt.status, jobQueue.status, dicom.status];
    statuses.push(...Object.values(others).map((s) => s.status));
    const status: Status =
      database.status === 'unhealthy' || storage.status === 'unhealthy'
        ? 'unhealthy'
        : statuses.every((s) => s === 'healthy')
          ? 'healthy'
          : 'degraded';
    return {
      status,
      timestamp: nowIso(),
      version: this.version,
      uptime: Math.round((Date.now() - this.startedAt) / 1000),
      services: { database, storage, mqtt, job_queue: jobQueue, dicom, ...others },
    };
  }
}
