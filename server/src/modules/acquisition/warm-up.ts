import { writeDxParts } from '../../dicom/dx-writer.js';
import { readDicom } from '../../dicom/reader.js';
import type { PipelineRunner } from '../../imaging/pipeline/runner.js';
import { renderThumbnail } from '../archive/thumbnail.js';
import type { DetectorDriver } from '../devices/drivers.js';
import type { Equipment } from '../images/derived-service.js';

export type WarmUpState = 'off' | 'pending' | 'running' | 'done' | 'failed';

/** What system/health shows under `services.exposure`. */
export interface WarmUpReport {
  status: 'healthy' | 'degraded';
  warm_up: WarmUpState;
  /** From the start of the warm-up to its end. */
  warm_up_ms?: number;
  /** 'yielded' when an exposure came before the pipeline's warm-up run finished. */
  pipeline?: 'done' | 'yielded';
  error?: string;
}

/**
 * Readies the exposure path after the server listens, so the first exposure of the day is as
 * fast as the later ones (issue 16). Without it, the first trigger paid, in turn: the simulated
 * panel's calibration maps (~0.2 s on this thread), spawning the pipeline's two threads and
 * compiling their modules (~0.3–0.5 s), the calibration's shared form, first-touch page faults
 * on every working plane and unoptimised kernels (~0.3 s), before its own pipeline ran. Here:
 *   1. the pipeline's threads start; meanwhile the detector prepares its calibration a band of
 *      rows per turn of the event loop (the simulator also its phantoms);
 *   2. the pipeline threads run the pipeline once over a synthetic frame
 *      (imaging/pipeline/warm-up.ts), giving way at the next kernel to any real exposure;
 *   3. meanwhile this thread writes and reads back a small DX object and renders its thumbnail
 *      (dcmjs, the DICOM reader and sharp's WebP encoder on their first call).
 * Readiness does not wait for it; an exposure triggered meanwhile works as without it. A failure
 * (the pipeline's thread cannot start) is logged and shown in system/health: exposures would fail too.
 */
export class ExposureWarmUp {
  private state: WarmUpState;
  private startedAt = 0;
  private durationMs: number | undefined;
  private pipelineOutcome: 'done' | 'yielded' | undefined;
  private error: string | undefined;
  private closed = false;
  private running: Promise<void> = Promise.resolve();

  constructor(
    private readonly deps: {
      detector: DetectorDriver;
      pipeline: Pick<PipelineRunner, 'start' | 'warmUp'>;
      equipment: Equipment;
      log: (level: 'info' | 'warn', message: string) => void;
      enabled: boolean;
    },
  ) {
    this.state = deps.enabled ? 'pending' : 'off';
  }

  /** Starts the warm-up in the background (once; nothing when switched off). */
  start(): void {
    if (this.state !== 'pending' || this.closed) return;
    this.state = 'running';
    this.startedAt = performance.now();
    this.running = this.run();
  }

  /** Resolves when the warm-up has ended (done, failed or never started). */
  finished(): Promise<void> {
    return this.running;
  }

  report(): WarmUpReport {
    return {
      status: this.state === 'failed' ? 'degraded' : 'healthy',
      warm_up: this.state,
      ...(this.durationMs === undefined ? {} : { warm_up_ms: Math.round(this.durationMs) }),
      ...(this.pipelineOutcome ? { pipeline: this.pipelineOutcome } : {}),
      ...(this.error ? { error: this.error } : {}),
    };
  }

  /** Stops what has not started yet; what runs ends with the pipeline's threads (closed by the server). */
  close(): void {
    this.closed = true;
  }

  private async run(): Promise<void> {
    const { detector, pipeline } = this.deps;
    try {
      // The threads load their modules on the other core while this one makes the panel's maps.
      pipeline.start();
      await detector.prepare?.();
      if (this.closed) return;
      const pipelineRun = pipeline.warmUp(detector.calibration);
      // Not awaited before the pipeline starts: this thread's part runs while the threads start.
      pipelineRun.catch(() => undefined);
      await this.warmStoragePath();
      this.pipelineOutcome = await pipelineRun;
      this.durationMs = performance.now() - this.startedAt;
      this.state = 'done';
      this.deps.log(
        'info',
        `exposure path warmed up in ${Math.round(this.durationMs)} ms (pipeline ${this.pipelineOutcome === 'done' ? 'run once' : 'gave way to an exposure'})`,
      );
    } catch (error) {
      if (this.closed) return;
      this.durationMs = performance.now() - this.startedAt;
      this.state = 'failed';
      this.error = error instanceof Error ? error.message : String(error);
      this.deps.log('warn', `exposure path warm-up failed: ${this.error}`);
    }
  }

  /** A small DX For Presentation written, read back and made a thumbnail of, as a stored exposure is. */
  private async warmStoragePath(): Promise<void> {
    const size = 64;
    const data = new Uint16Array(size * size);
    for (let i = 0; i < data.length; i += 1) data[i] = (i * 37) & 0x3fff;
    const now = new Date();
    const parts = writeDxParts({
      patient: { id: 'WARMUP', name: 'Warm^Up', birthDate: null, sex: '', age: '' },
      study: { instanceUid: '2.25.1', id: 'WARMUP', accessionNumber: '', referringPhysician: '', date: now },
      series: { instanceUid: '2.25.2', number: 1, description: 'warm-up' },
      instance: { sopInstanceUid: '2.25.3', number: 1, acquired: now },
      view: { position: 'AP', laterality: 'U', bodyPart: '', orientation: ['L', 'F'], sidMm: 1000 },
      exposure: { kV: 70, mA: 100, ms: 10, mAs: 1, exposureIndex: 300, targetExposureIndex: 300 },
      detector: { pixelSpacingMm: [0.139, 0.139], type: 'SCINTILLATOR' },
      pixels: { rows: size, columns: size, bitsStored: 14, data },
      window: { center: 8192, width: 16384 },
      intent: 'FOR PRESENTATION',
      equipment: this.deps.equipment,
    });
    const parsed = readDicom(parts[0]);
    await renderThumbnail({ frame: { kind: 'grey', rows: size, columns: size, data }, meta: parsed.meta });
  }
}
