import type { BlobStore, FileBlobStore } from '../../storage/blob-store.js';
import { nowIso } from '../../util/time.js';
import type { ConfigService } from '../system/config-service.js';
import type { FilesRepository } from './repository.js';

/** What the last reconciliation found; `system/health` shows it under storage. */
export interface OrphanReport {
  state: 'pending' | 'done' | 'failed';
  checked_at: string | null;
  /** Blobs with no stored_files row, still within the grace period (kept for now). */
  count: number;
  bytes: number;
  /** The first few such keys, for an operator to look at. */
  examples: string[];
  /** Orphans older than the grace period, removed. */
  removed: number;
  removed_bytes: number;
  grace_hours: number;
  /** Temporary files of dead writes, removed at start. */
  temporary_swept: { files: number; bytes: number };
  error?: string;
}

const BATCH = 500;
const EXAMPLES = 10;

/**
 * Blobs whose registration never committed: a crash between writing a file and the transaction
 * that names it in stored_files (every file is written first, registered after), or a purge that
 * died between deleting rows and blobs. Run once at start, under the data-directory lock; a blob
 * younger than the grace period is only listed, since a write in progress looks the same.
 */
export class OrphanBlobs {
  private report: OrphanReport = {
    state: 'pending',
    checked_at: null,
    count: 0,
    bytes: 0,
    examples: [],
    removed: 0,
    removed_bytes: 0,
    grace_hours: 0,
    temporary_swept: { files: 0, bytes: 0 },
  };

  constructor(
    private readonly blobs: Pick<FileBlobStore, 'list'> & Pick<BlobStore, 'delete'>,
    private readonly files: FilesRepository,
    private readonly configs: ConfigService,
  ) {}

  last(): OrphanReport {
    return this.report;
  }

  /** Records what the start-up sweep of temporary files removed. */
  sweptTemporary(swept: { files: number; bytes: number }): void {
    this.report = { ...this.report, temporary_swept: swept };
  }

  async reconcile(now = Date.now()): Promise<OrphanReport> {
    const graceHours = await this.configs.getNumber('storage.orphan_grace_hours');
    const cutoff = now - graceHours * 3_600_000;
    const found: OrphanReport = {
      ...this.report,
      state: 'done',
      count: 0,
      bytes: 0,
      examples: [],
      removed: 0,
      removed_bytes: 0,
      grace_hours: graceHours,
    };
    try {
      let batch: { key: string; size: number; mtimeMs: number }[] = [];
      const settle = async () => {
        const registered = await this.files.registeredBlobKeys(batch.map((b) => b.key));
        for (const blob of batch) {
          if (registered.has(blob.key)) continue;
          if (blob.mtimeMs < cutoff) {
            await this.blobs.delete(blob.key);
            found.removed += 1;
            found.removed_bytes += blob.size;
          } else {
            found.count += 1;
            found.bytes += blob.size;
            if (found.examples.length < EXAMPLES) found.examples.push(blob.key);
          }
        }
        batch = [];
      };
      for await (const blob of this.blobs.list()) {
        batch.push(blob);
        if (batch.length >= BATCH) await settle();
      }
      await settle();
      this.report = { ...found, checked_at: nowIso() };
    } catch (error) {
      this.report = { ...found, state: 'failed', checked_at: nowIso(), error: (error as Error).message };
    }
    return this.report;
  }
}
