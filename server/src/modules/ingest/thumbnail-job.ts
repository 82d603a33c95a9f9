import { DicomReadError } from '../../dicom/reader.js';
import type { Archive } from '../archive/service.js';
import type { ThumbnailTarget } from '../archive/thumbnail.js';
import { defineJobKind, type JobKind } from '../jobs/kinds.js';
import type { JobRunner } from '../jobs/runner.js';

export const THUMBNAIL_KIND = 'image.thumbnail';

/** Received images without a thumbnail queued at start-up (an earlier run stopped first). */
const RECOVERY_LIMIT = 10_000;

/**
 * Thumbnails of received images as a job kind, made while the SCP is not receiving: rendering
 * one is several times the cost of acknowledging an object (a 130 KB DX: ~3 ms against ~1 ms),
 * and a modality sending a study should not wait behind them. Until an image has one,
 * thumbnail_file is empty and clients ask for a preview, which renders on demand. A job is
 * queued for each object the ingest indexes; images still without one at start-up (the process
 * stopped between indexing and queueing) are queued again. Running a job twice is harmless: an
 * image that has its thumbnail is skipped, and a thumbnail made again replaces the same file.
 */
export function thumbnailJobKind(archive: Archive, runner: JobRunner, receiving: () => boolean): JobKind<ThumbnailTarget> {
  const kind: JobKind<ThumbnailTarget> = defineJobKind<ThumbnailTarget>({
    name: THUMBNAIL_KIND,
    concurrency: 1,
    maxAttempts: 5,
    backoff: { baseMs: 1_000, maxMs: 60_000 },
    leaseMs: 60_000,
    removeWhenDone: true,
    ready: () => !receiving(),
    async recover() {
      const targets = await archive.thumbnailsMissing(RECOVERY_LIMIT);
      await runner.enqueue(kind, targets, { keys: targets.map((t) => String(t.imagePk)) });
    },
    async run(jobs) {
      for (const job of jobs) {
        if (!(await archive.thumbnailWanted(job.payload))) continue; // made already, or the image is gone
        try {
          await archive.makeThumbnail(job.payload);
        } catch (error) {
          // Not an image, or a syntax we cannot decode: previews say why on request. Anything
          // else (the blob store away) is retried.
          if (!(error instanceof DicomReadError)) throw error;
          await job.complete(`not rendered: ${error.message}`);
        }
      }
    },
  });
  return kind;
}

/** What the ingest needs of thumbnails: queue them for indexed objects, and wait for them (tests, benches). */
export class ThumbnailQueue {
  constructor(
    private readonly runner: JobRunner,
    private readonly kind: JobKind<ThumbnailTarget>,
    private readonly log: (message: string) => void = () => undefined,
  ) {}

  /** Queues thumbnails; a failure is logged, not raised: the next start finds the images again. */
  async add(items: ThumbnailTarget[]): Promise<void> {
    if (items.length === 0) return;
    await this.runner
      .enqueue(this.kind, items, { keys: items.map((i) => String(i.imagePk)) })
      .catch((error: unknown) =>
        this.log(`thumbnails: queueing ${items.length} failed (${(error as Error).message}); they are queued at the next start`),
      );
  }

  drain(): Promise<void> {
    return this.runner.drain(this.kind.name);
  }
}
