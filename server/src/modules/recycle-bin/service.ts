import type { FieldError } from '../../util/errors.js';
import type { BlobStore } from '../../storage/blob-store.js';
import { nowIso } from '../../util/time.js';
import type { StudiesRepository } from '../studies/repository.js';
import { diskFigures } from '../system/health-service.js';

/** "226.36 GB", "0.00 KB": the console's disk figures (binary units, two decimals, KB at least). */
export function diskString(bytes: number): string {
  const units = ['KB', 'MB', 'GB', 'TB', 'PB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(2)} ${units[unit]}`;
}

export class RecycleBinService {
  constructor(
    private readonly repo: StudiesRepository,
    private readonly blobs: BlobStore,
    private readonly dataDir: string,
  ) {}

  async diskInfo() {
    const disk = await diskFigures(this.dataDir);
    const bin = await this.repo.fileBytes(await this.repo.binnedPks());
    return {
      total: disk.total_bytes,
      total_str: diskString(disk.total_bytes),
      free: disk.available_bytes,
      free_str: diskString(disk.available_bytes),
      recycle_bin: bin,
      recycle_bin_str: diskString(bin),
    };
  }

  private async binned(studyIds: string[]): Promise<{ pks: number[]; missing: FieldError[] }> {
    const unique = [...new Set(studyIds)];
    const rows = (await this.repo.studies(unique)).filter((r) => r.deleted_at !== null);
    const missing = unique
      .filter((id) => !rows.some((r) => r.study_id === id))
      .map((id) => ({ field: id, message: 'not in the recycle bin' }));
    return { pks: rows.map((r) => r.id), missing };
  }

  async restore(studyIds: string[]): Promise<{ missing: FieldError[] }> {
    const { pks, missing } = await this.binned(studyIds);
    await this.repo.transaction((trx) => this.repo.restore(pks, nowIso(), trx));
    return { missing };
  }

  /** Irreversible: rows go first in one transaction, then their files (a sweeper would catch any left). */
  async purge(studyIds: string[] | 'all'): Promise<{ purged: number; missing: FieldError[] }> {
    const { pks, missing } = studyIds === 'all' ? { pks: await this.repo.binnedPks(), missing: [] } : await this.binned(studyIds);
    const files = await this.repo.transaction((trx) => this.repo.purge(pks, trx));
    for (const key of files) await this.blobs.delete(key);
    return { purged: pks.length, missing };
  }
}
