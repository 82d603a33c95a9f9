import { nowIso } from '../../util/time.js';
import { readDicom } from '../../dicom/reader.js';
import { renderFirstFrame } from '../../dicom/render.js';
import type { ImageFilesService } from '../images/service.js';

export interface ThumbnailJob {
  imagePk: number;
  studyPk: number;
  sopInstanceUid: string;
  blobKey: string;
}

/** Received images without a thumbnail picked up at start-up (an earlier run stopped first). */
const RECOVERY_LIMIT = 10_000;
/** How long to wait while the SCP is busy before looking again. */
const BUSY_WAIT_MS = 250;

/**
 * Thumbnails of received images, made while the SCP is not receiving: rendering one is several
 * times the cost of acknowledging an object (a 130 KB DX: ~3 ms against ~1 ms), and a modality
 * sending a study should not wait behind them. Until an image has one, thumbnail_file is empty
 * and clients ask for a preview, which renders on demand. Images still without one at start-up
 * (the process stopped first) are queued again.
 */
export class ThumbnailBacklog {
  private readonly jobs: ThumbnailJob[] = [];
  private running: Promise<void> | undefined;
  private stopped = false;
  private wake: (() => void) | undefined;

  constructor(private readonly files: ImageFilesService, private readonly busy: () => boolean) {}

  add(job: ThumbnailJob): void {
    if (this.stopped) return;
    this.jobs.push(job);
    this.running ??= this.work().finally(() => { this.running = undefined; });
  }

  /** Queues the images of received objects that have a file and no thumbnail. */
  async recover(): Promise<number> {
    const rows = await this.files.repo.db.selectFrom('images')
      .innerJoin('stored_files', (join) => join.onRef('stored_files.image_pk', '=', 'images.id').on('stored_files.kind', '=', 'dicom').on('stored_files.role', '=', 'image'))
      .select(['images.id as imagePk', 'images.study_pk as studyPk', 'images.sop_instance_uid as sopInstanceUid', 'stored_files.blob_key as blobKey'])
      .where('images.thumbnail_file', '=', '').where('images.storage_status', '=', 'Saved')
      .orderBy('images.id').limit(RECOVERY_LIMIT).execute();
    for (const row of rows) this.add(row);
    return rows.length;
  }

  private async work(): Promise<void> {
    while (this.jobs.length > 0 && !this.stopped) {
      if (this.busy()) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, BUSY_WAIT_MS);
          this.wake = () => { clearTimeout(timer); resolve(); };
        });
        this.wake = undefined;
        continue;
      }
      // Not rendered (not an image, or a syntax we cannot decode): previews say why on request.
      await this.make(this.jobs.shift()!).catch(() => undefined);
    }
  }

  private async make(job: ThumbnailJob): Promise<void> {
    const rendered = await renderFirstFrame(readDicom(await this.files.blobs.read(job.blobKey)), { size: 'thumbnail', format: 'webp' });
    const name = `${job.sopInstanceUid}.webp`;
    const info = await this.files.blobs.put(`thumbnail/${name}`, rendered.data);
    const registered = await this.files.repo.db.transaction().execute(async (trx) => {
      // The image may have been deleted meanwhile: then the new blob goes too.
      if (!(await trx.selectFrom('images').select('id').where('id', '=', job.imagePk).executeTakeFirst())) return false;
      await this.files.repo.register([{
        name, kind: 'thumbnail', role: 'image', blob_key: info.key, content_type: 'image/webp', size: info.size, sha256: info.sha256 ?? '',
        study_pk: job.studyPk, image_pk: job.imagePk, sop_instance_uid: null, created_at: nowIso(),
      }], trx);
      await this.files.repo.setImageFiles(job.imagePk, { thumbnail_file: name }, trx);
      return true;
    });
    if (!registered) await this.files.blobs.delete(info.key).catch(() => undefined);
  }

  /** Waits until every queued thumbnail is made (tests). */
  async drain(): Promise<void> {
    while (this.running) await this.running;
  }

  /** Stops after the thumbnail in hand; the rest are found again at the next start. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.running;
  }
}
