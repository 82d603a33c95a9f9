import { readDicom } from '../../dicom/reader.js';
import { renderFirstFrame } from '../../dicom/render.js';
import { nowIso } from '../../util/time.js';
import type { ImageFilesService } from '../images/service.js';
import { defineJobKind, type JobKind } from '../jobs/kinds.js';
import type { JobRunner } from '../jobs/runner.js';
import type { ThumbnailPayload, ThumbnailRepository } from './thumbnail-repository.js';

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
export function thumbnailJobKind(files: ImageFilesService, repo: ThumbnailRepository, runner: JobRunner, receiving: () => boolean): JobKind<ThumbnailPayload> {
  const kind: JobKind<ThumbnailPayload> = defineJobKind<ThumbnailPayload>({
    name: THUMBNAIL_KIND,
    concurrency: 1,
    maxAttempts: 5,
    backoff: { baseMs: 1_000, maxMs: 60_000 },
    leaseMs: 60_000,
    removeWhenDone: true,
    ready: () => !receiving(),
    async recover() {
      const rows = await repo.withoutThumbnail(RECOVERY_LIMIT);
      await runner.enqueue(kind, rows, { keys: rows.map((r) => String(r.imagePk)) });
    },
    async run(jobs) {
      for (const job of jobs) {
        const p = job.payload;
        if (await repo.thumbnailOf(p.imagePk)) continue; // made already, or the image is gone
        const bytes = await files.blobs.read(p.blobKey);
        let rendered;
        try {
          rendered = await renderFirstFrame(readDicom(bytes), { size: 'thumbnail', format: 'webp' });
        } catch (error) {
          // Not an image, or a syntax we cannot decode: previews say why on request.
          await job.complete(`not rendered: ${(error as Error).message}`);
          continue;
        }
        const name = `${p.sopInstanceUid}.webp`;
        const info = await files.blobs.put(`thumbnail/${name}`, rendered.data);
        const registered = await repo.register(p.imagePk, {
          name, kind: 'thumbnail', role: 'image', blob_key: info.key, content_type: 'image/webp', size: info.size, sha256: info.sha256 ?? '',
          study_pk: p.studyPk, image_pk: p.imagePk, sop_instance_uid: null, created_at: nowIso(),
        });
        // The image was deleted meanwhile: the new blob goes too.
        if (!registered) await files.blobs.delete(info.key).catch(() => undefined);
      }
    },
  });
  return kind;
}

/** What the ingest needs of thumbnails: queue them for indexed objects, and wait for them (tests, benches). */
export class ThumbnailQueue {
  constructor(private readonly runner: JobRunner, private readonly kind: JobKind<ThumbnailPayload>, private readonly log: (message: string) => void = () => undefined) {}

  /** Queues thumbnails; a failure is logged, not raised: the next start finds the images again. */
  async add(items: ThumbnailPayload[]): Promise<void> {
    if (items.length === 0) return;
    await this.runner.enqueue(this.kind, items, { keys: items.map((i) => String(i.imagePk)) })
      .catch((error: Error) => this.log(`thumbnails: queueing ${items.length} failed (${error.message}); they are queued at the next start`));
  }

  drain(): Promise<void> {
    return this.runner.drain(this.kind.name);
  }
}
