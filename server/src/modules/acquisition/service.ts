import type { Bus } from '../../bus/index.js';
import { REGION_CODES } from '../../dicom/codes.js';
import { writeDxParts } from '../../dicom/dx-writer.js';
import type { AuthUser } from '../auth/auth-user.js';
import { AppError } from '../../util/errors.js';
import { thicknessForSize } from '../../imaging/exposure-model.js';
import type { Collimation } from '../../imaging/geometry.js';
import type { PipelineResult, Stage } from '../../imaging/pipeline/index.js';
import type { PipelineRunner } from '../../imaging/pipeline/runner.js';
import { nowIso } from '../../util/time.js';
import { generateUid } from '../../util/uid.js';
import type { DeviceControlGuard } from '../devices/service.js';
import type { DetectorDriver, DetectorExposure, GeneratorDriver, Technique } from '../devices/drivers.js';
import type { Equipment } from '../images/derived-service.js';
import { dicomPatientOf } from '../images/identity.js';
import { ownObject } from '../archive/service.js';
import type { ImageFilesService } from '../images/service.js';
import type { ProtocolRepository } from '../protocols/repository.js';
import { parseViewExposureConfig, type ViewExposureConfig } from '../protocols/view-config.js';
import { parseDetails } from '../studies/dto.js';
import type { ImageRow, StudiesRepository, StudyRow } from '../studies/repository.js';
import type { StudiesService } from '../studies/service.js';

export const TOPIC_STATUS = 'MODULE/TASK/STATUS/GLOBAL';
export const TOPIC_PROGRESS = 'MODULE/TASK/IMGPROC/PROGRESS';

/** Each pipeline stage as the status of a TOPIC_PROGRESS event (the console's names for them). */
export const STAGE_STATUS: Record<Stage, string> = {
  correction: 'TASK_RecvRaw',
  collimation: 'TASK_RecvMask',
  enhancement: 'TASK_RecvEnhance',
  segmentation: 'TASK_RecvForeground',
  apply: 'TASK_RecvApply',
};

type InspectionStatus = 'TASK_Idle' | 'TASK_Ready' | 'TASK_Exposing' | 'TASK_Processing';

interface Inspection {
  uid: string;
  /**
   * The session that started it and owns it: only it may trigger, judge or leave it, or change the
   * devices' parameters while it holds the room; its events go to that session's MQTT clients (and
   * to readers of every study).
   */
  sessionId: string;
  /** The account of that session: a new login of the same (non-guest) account may take the inspection over. */
  owner: { userId: number; isGuest: boolean };
  /** Its image has been exposed and stored: nothing of this patient is left to protect, so it no longer holds the room. */
  exposed: boolean;
  imagePk: number;
  /** Instance Number: the image's place in the study. */
  imageNumber: number;
  studyPk: number;
  /** The series the image belongs to, as the DX objects name it. */
  series: { instanceUid: string; number: number; description: string };
  technique: Technique;
  sidMm: number;
  /** The simulated patient: its part thickness (cm) and whether the grid is in; undefined leaves the panel's defaults. */
  thicknessCm: number | undefined;
  grid: boolean | undefined;
  /** The view's technique family, which the simulated anatomy follows ('' for a view without one). */
  anatomy: string;
  targetEi: number;
  collimation: Collimation;
  bodyPart: string;
  position: string;
  laterality: 'R' | 'L' | 'U' | 'B';
  orientation: [string, string];
}

/**
 * The part thickness in front of the panel: the one measured at registration (the study's
 * `thickness`, cm) when given, otherwise the programme's medium thickness scaled for the patient
 * size, as the library charted the size's programme.
 */
function patientThickness(registered: number | undefined, programme: number | undefined, size: string): number | undefined {
  if (registered !== undefined && registered > 0) return registered;
  return programme === undefined ? undefined : thicknessForSize(programme, size);
}

/** What the detector is asked to read out for an inspection exposed with `technique`. */
function readoutOf(inspection: Inspection, technique: Technique): DetectorExposure {
  return {
    kv: technique.kv,
    mas: technique.mas,
    sidMm: inspection.sidMm,
    bodyPart: inspection.bodyPart,
    ...(inspection.anatomy ? { anatomy: inspection.anatomy } : {}),
    ...(inspection.thicknessCm !== undefined ? { thicknessCm: inspection.thicknessCm } : {}),
    ...(inspection.grid !== undefined ? { grid: inspection.grid } : {}),
    collimation: inspection.collimation,
  };
}

/**
 * The exposure workflow of one X-ray room: start an inspection (the view's programme goes to the
 * generator), trigger (generator exposes, detector reads out), then the image-processing
 * pipeline runs after the response, publishing its stages on MQTT, and stores the DX objects.
 *
 * The room has one generator and one detector, so an inspection belongs to the session that
 * started it: while it holds the room (ready and not yet exposed, exposing, processing) another
 * session's start is TASK_BUSY and its device actions TASK_OTHER_SESSION; trigger, judge and leave of
 * the inspection are its session's alone (TASK_OTHER_SESSION), so an exposure cannot land in another
 * console's study nor run with another console's technique. An inspection stops holding the room
 * when it is left, when its image has been exposed, when its session has ended (logout, expiry) or
 * when a new login of the same staff account starts another (a reloaded console).
 * The status route stays readable by every console: it shows the shared devices, no patient data.
 */
export class AcquisitionService implements DeviceControlGuard {
  private inspection: Inspection | undefined;
  private status: InspectionStatus = 'TASK_Idle';
  /** The running pipeline, so tests and shutdown can wait for it. */
  pending: Promise<void> = Promise.resolve();

  constructor(
    private readonly deps: {
      studies: StudiesService;
      studiesRepo: StudiesRepository;
      protocols: ProtocolRepository;
      files: ImageFilesService;
      generator: GeneratorDriver;
      detector: DetectorDriver;
      bus: Bus;
      equipment: Equipment;
      uidRoot: string | undefined;
      pipeline: Pick<PipelineRunner, 'run'>;
      /** Called after an image is accepted (auto-send to the default PACS node). */
      onAccepted?: (image: ImageRow) => Promise<void>;
      /** Whether a session is still live (not logged out, revoked or expired); none: every session is. */
      sessionLive?: (sessionId: string) => Promise<boolean>;
    },
  ) {}

  globalStatus() {
    const { generator, detector } = this.deps;
    const genReady = generator.ready();
    const fpdReady = detector.isOpen;
    const inspReady = this.status === 'TASK_Ready';
    return {
      gen_status: generator.currentStatus(),
      gen_ready: genReady,
      fpd_status: detector.isOpen ? 'DETECTOR_STATUS_STANDBY' : 'DETECTOR_STATUS_INIT',
      fpd_ready: fpdReady,
      insp_status: this.status,
      insp_ready: inspReady,
      all_ready: genReady && fpdReady && inspReady,
    };
  }

  /** Publishes the device and task status; `sessionId` is the session whose action changed it. */
  private async announce(sessionId: string): Promise<void> {
    const s = this.globalStatus();
    await this.deps.bus
      .publish(
        TOPIC_STATUS,
        {
          GENStatus: s.gen_status,
          GENReady: s.gen_ready,
          FPDStatus: s.fpd_status,
          FPDReady: s.fpd_ready,
          InspStatus: s.insp_status,
          InspReady: s.insp_ready,
          AllReady: s.all_ready,
        },
        { sessionId },
      )
      .catch(() => undefined);
  }

  private async imageAndStudy(uid: string, user: AuthUser): Promise<{ image: ImageRow; study: StudyRow }> {
    const image = await this.deps.studiesRepo.image(uid);
    if (!image) throw new AppError('IMAGE_NOT_FOUND', [], uid);
    const study = await this.deps.studiesRepo.studyByPk(image.study_pk);
    if (study.deleted_at !== null) throw new AppError('IMAGE_NOT_FOUND', [], uid);
    await this.deps.studies.requireStudy(study.study_id, user, true);
    return { image, study };
  }

  private busy(): boolean {
    return this.status === 'TASK_Exposing' || this.status === 'TASK_Processing';
  }

  /** Another session's inspection `user` must not displace, synchronously decidable (see holdsRoomAgainst). */
  private blocks(held: Inspection | undefined, user: AuthUser): held is Inspection {
    if (!held || held.sessionId === user.sessionId) return false;
    if (this.busy()) return true;
    return !held.exposed;
  }

  /**
   * The inspection of another session that holds the room against `user`: ready and not exposed
   * yet, or exposing or processing, with its session still live.
   */
  private async holdsRoomAgainst(user: AuthUser): Promise<Inspection | undefined> {
    const held = this.inspection;
    if (!this.blocks(held, user)) return undefined;
    if (this.busy()) return held;
    return (await this.ownerLive(held)) ? held : undefined;
  }

  private async ownerLive(inspection: Inspection): Promise<boolean> {
    return this.deps.sessionLive ? this.deps.sessionLive(inspection.sessionId) : true;
  }

  /** A new login of the inspection's (staff) account: the same person on a reloaded console. */
  private sameAccount(inspection: Inspection, user: AuthUser): boolean {
    return !user.isGuest && !inspection.owner.isGuest && inspection.owner.userId === user.id;
  }

  /**
   * Refuses `user` acting on the current inspection (trigger, judge, leave) unless its session
   * started it; an inspection whose session has ended is anyone's to finish.
   */
  private async requireOwnInspection(inspection: Inspection, user: AuthUser): Promise<void> {
    if (inspection.sessionId === user.sessionId) return;
    if (!(await this.ownerLive(inspection))) return;
    throw new AppError('TASK_OTHER_SESSION', [], `inspection of ${inspection.uid}`);
  }

  /** DeviceControlGuard: device actions while another session's inspection holds the room are refused. */
  async assertMayControlDevices(user: AuthUser): Promise<void> {
    const held = await this.holdsRoomAgainst(user);
    if (held) {
      throw new AppError('TASK_OTHER_SESSION', [
        { field: 'deviceUri', message: "the devices are loaded with another console session's inspection" },
      ]);
    }
  }

  /** Opens the devices and loads the view's exposure programme for the patient size and work station. */
  async start(uid: string, user: AuthUser): Promise<void> {
    if (this.busy()) throw new AppError('TASK_BUSY');
    const seen = this.inspection;
    const displaced = await this.holdsRoomAgainst(user);
    if (displaced && !this.sameAccount(displaced, user))
      throw new AppError('TASK_BUSY', [], "another console session's inspection is ready");
    const { image, study } = await this.imageAndStudy(uid, user);
    if (image.expose_status === 'Exposed') throw new AppError('IMAGE_ALREADY_EXPOSED', [], uid);
    const { generator, detector, protocols, studiesRepo } = this.deps;
    const view = await protocols.view(image.product, image.view_id);
    if (!view) throw new AppError('IMAGE_NOT_FOUND', [{ field: 'view_id', message: `view ${image.view_id} is not in the library` }], uid);
    const details = parseDetails(study);
    const size = details.patient_size || 'Medium';
    const ws = view.work_station_id;
    const exposure =
      (await protocols.exposure(image.product, view.view_id, ws, size)) ??
      (await protocols.exposure(image.product, view.view_id, ws, 'Medium'));
    const device = await protocols.device(image.product, view.view_id, ws);
    const config = parseViewExposureConfig({ view: view.config_object, exposure: exposure?.config_object, device: device?.config_object });
    await generator.connect();
    await detector.connect();
    const series = (await studiesRepo.seriesOf([study.id])).find((s) => s.id === image.series_pk);
    // Checked again with no await up to the assignment: another start or a trigger may have run meanwhile.
    if (this.busy()) throw new AppError('TASK_BUSY');
    if (this.inspection !== seen && this.blocks(this.inspection, user) && !this.sameAccount(this.inspection, user)) {
      throw new AppError('TASK_BUSY', [], "another console session's inspection is ready");
    }
    generator.setTechnique(config.programme);
    this.inspection = {
      uid,
      sessionId: user.sessionId,
      owner: { userId: user.id, isGuest: user.isGuest },
      exposed: false,
      imagePk: image.id,
      imageNumber: image.sort,
      studyPk: study.id,
      technique: generator.currentTechnique(),
      series: {
        instanceUid: series?.series_instance_uid ?? generateUid(this.deps.uidRoot),
        number: series?.sort ?? 1,
        description: image.view_description.slice(0, 64),
      },
      sidMm: config.sidMm,
      thicknessCm: patientThickness(details.thickness, config.thicknessCm, size),
      grid: config.grid,
      anatomy: view.apr_category,
      targetEi: config.targetEi,
      collimation: this.collimationOf(config.field),
      bodyPart: (series?.body_part ?? view.body_part_id).replace(/^[A-Za-z]+_/, '').toUpperCase(),
      position: view.view_position,
      laterality: (['R', 'L', 'B'].includes(view.laterality) ? view.laterality : 'U') as Inspection['laterality'],
      orientation: config.orientation,
    };
    this.status = 'TASK_Ready';
    // The panel readies this readout (the simulator: its patient model, ~0.2 s at 3072²) while
    // the radiographer positions the patient, not after the exposure button is pressed.
    const readout = readoutOf(this.inspection, this.inspection.technique);
    setImmediate(() => void detector.prepare?.(readout).catch(() => undefined));
    if (study.study_status === 'Arrived') await studiesRepo.updateStudy(study.id, { study_status: 'InProgress', updated_at: nowIso() });
    await this.announce(user.sessionId);
  }

  /** The view's field on the detector in pixels, centred; an iris when the view says circular. */
  private collimationOf(field: ViewExposureConfig['field']): Collimation {
    const { detector } = this.deps;
    const toPixels = (cm: number, limit: number) => Math.min(limit, (cm * 10) / detector.pixelSpacingMm);
    const width = field.size ? toPixels(field.size.widthCm, detector.columns * 0.96) : detector.columns * 0.86;
    const height = field.size ? toPixels(field.size.heightCm, detector.rows * 0.96) : detector.rows * 0.86;
    if (field.shape === 'circle')
      return { shape: 'circle', cx: detector.columns / 2, cy: detector.rows / 2, radius: Math.min(width, height) / 2 };
    return { shape: 'rect', cx: detector.columns / 2, cy: detector.rows / 2, width, height, angleDeg: 0 };
  }

  /** Exposes and reads out; processing continues after the response. */
  async trigger(user: AuthUser): Promise<void> {
    const inspection = this.inspection;
    if (!inspection) throw new AppError('TASK_NOT_STARTED');
    // Only the starting session may expose: another console would put its patient's dose into this study.
    if (inspection.sessionId !== user.sessionId) throw new AppError('TASK_OTHER_SESSION', [], `inspection of ${inspection.uid}`);
    if (this.status !== 'TASK_Ready') throw new AppError('TASK_BUSY', [], this.status);
    const { study } = await this.imageAndStudy(inspection.uid, user);
    // Looked at again after the await: a start, leave or trigger may have run meanwhile.
    if (this.inspection !== inspection || this.busy()) throw new AppError('TASK_BUSY', [], 'the inspection changed meanwhile');
    const { generator, detector } = this.deps;
    if (!detector.isOpen || !generator.ready())
      throw new AppError(
        'DEVICE_NOT_READY',
        [],
        `generator ${generator.currentStatus()}, detector ${detector.isOpen ? 'ready' : 'not open'}`,
      );
    this.status = 'TASK_Exposing';
    const triggeredAt = new Date();
    let raw;
    let delivered;
    try {
      delivered = await generator.expose();
      raw = await detector.acquire(readoutOf(inspection, delivered));
    } catch (error) {
      this.status = 'TASK_Ready';
      throw error;
    }
    this.status = 'TASK_Processing';
    await this.announce(inspection.sessionId);
    const technique = delivered;
    this.pending = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => this.process(inspection, study, raw.data, technique, triggeredAt))
      .finally(async () => {
        this.status = this.inspection ? 'TASK_Ready' : 'TASK_Idle';
        await this.announce(inspection.sessionId);
      });
  }

  private async progress(inspection: Inspection, status: string, extra: Partial<Record<string, string>> = {}): Promise<void> {
    await this.deps.bus
      .publish(TOPIC_PROGRESS, { ...extra, message: extra.message ?? '', sop: inspection.uid, status }, { sessionId: inspection.sessionId })
      .catch(() => undefined);
  }

  private async process(inspection: Inspection, study: StudyRow, raw: Uint16Array, technique: Technique, triggeredAt: Date): Promise<void> {
    const { detector, studiesRepo } = this.deps;
    try {
      const result = await this.deps.pipeline.run(
        { rows: detector.rows, columns: detector.columns, raw, calibration: detector.calibration, targetEi: inspection.targetEi },
        (stage) => this.progress(inspection, STAGE_STATUS[stage]),
      );
      const storing = performance.now();
      const stored = await this.store(inspection, study, result, technique, triggeredAt);
      const timings = { ...result.timings, storage: performance.now() - storing };
      await studiesRepo.updateImage(inspection.imagePk, {
        expose_status: 'Exposed',
        judged_status: 'NotJudged',
        acquisition_context: JSON.stringify({
          expose_time: triggeredAt.toISOString(),
          kv: technique.kv,
          ma: technique.ma,
          ms: technique.ms,
          mas: technique.mas,
          focus: technique.focus,
          sid_mm: inspection.sidMm,
          ...(inspection.thicknessCm !== undefined ? { thickness_cm: inspection.thicknessCm } : {}),
        }),
        img_proc_context: JSON.stringify({
          exposure_index: result.exposure,
          window: result.window,
          field: result.field,
          timings_ms: timings,
          processing_sop: stored.processingUid,
        }),
      });
      inspection.exposed = true;
      await this.progress(inspection, 'TASK_Success', { dcm: stored.dcm, thumbnail: stored.thumbnail });
      // The For Processing twin is kept, but the radiographer need not wait for it.
      await stored.keepProcessing();
    } catch (error) {
      await this.progress(inspection, 'TASK_Failure', { message: error instanceof Error ? error.message : String(error) });
    }
  }

  /** Writes the For Presentation object (with its thumbnail) and keeps the For Processing one. */
  private async store(inspection: Inspection, study: StudyRow, result: PipelineResult, technique: Technique, acquired: Date) {
    const { detector, files, equipment, uidRoot } = this.deps;
    const common = {
      patient: dicomPatientOf(study),
      study: {
        instanceUid: study.study_instance_uid,
        id: study.study_id.slice(0, 16),
        accessionNumber: study.accession_number.slice(0, 16),
        referringPhysician: parseDetails(study).ref_physician,
        date: new Date(study.study_start_datetime),
      },
      series: inspection.series,
      view: {
        position: inspection.position,
        laterality: inspection.laterality,
        bodyPart: REGION_CODES[inspection.bodyPart] ? inspection.bodyPart : '',
        orientation: inspection.orientation,
        sidMm: inspection.sidMm,
      },
      exposure: {
        kV: technique.kv,
        mA: technique.ma,
        ms: technique.ms,
        mAs: technique.mas,
        exposureIndex: result.exposure.ei,
        targetExposureIndex: result.exposure.targetEi,
        ...(inspection.thicknessCm !== undefined ? { bodyPartThicknessMm: inspection.thicknessCm * 10 } : {}),
      },
      detector: { pixelSpacingMm: [detector.pixelSpacingMm, detector.pixelSpacingMm] as [number, number], type: 'SCINTILLATOR' as const },
      equipment,
    };
    const presentation = writeDxParts({
      ...common,
      instance: { sopInstanceUid: inspection.uid, number: inspection.imageNumber, acquired },
      pixels: { rows: result.rows, columns: result.columns, bitsStored: 14, data: result.presentation },
      window: result.window,
      intent: 'FOR PRESENTATION',
    });
    const processingUid = generateUid(uidRoot);
    const frame = { kind: 'grey', rows: result.rows, columns: result.columns, data: result.presentation } as const;
    const { dcm, thumbnail } = await files.storeImage(inspection.uid, { parts: presentation, frame });
    const keepProcessing = async () => {
      const processing = writeDxParts({
        ...common,
        instance: { sopInstanceUid: processingUid, number: inspection.imageNumber, acquired },
        pixels: { rows: result.rows, columns: result.columns, bitsStored: 14, data: result.processing },
        intent: 'FOR PROCESSING',
      });
      await files.archive.storeInstance(ownObject(processing), {
        origin: 'derived',
        role: 'processing',
        studyPk: study.id,
        imagePk: inspection.imagePk,
      });
    };
    return { dcm, thumbnail, processingUid, keepProcessing };
  }

  async judge(uid: string, accept: boolean, user: AuthUser): Promise<void> {
    const { image } = await this.imageAndStudy(uid, user);
    if (this.inspection?.uid === uid) await this.requireOwnInspection(this.inspection, user);
    if (image.expose_status !== 'Exposed') throw new AppError('IMAGE_NOT_EXPOSED', [], uid);
    await this.deps.studiesRepo.updateImage(image.id, { judged_status: accept ? 'Accept' : 'Reject' });
    // Sending is the queue's business: a PACS problem must not fail the radiographer's judgement.
    if (accept) await this.deps.onAccepted?.({ ...image, judged_status: 'Accept' }).catch(() => undefined);
  }

  /** Leaves the exposure page: the study is suspended (InProgress) or finished (Completed). */
  async leave(studyId: string, status: 'InProgress' | 'Completed', user: AuthUser): Promise<void> {
    const study = await this.deps.studies.requireStudy(studyId, user, true);
    const checked = this.inspection?.studyPk === study.id ? this.inspection : undefined;
    if (checked) await this.requireOwnInspection(checked, user);
    if (this.busy()) await this.pending;
    await this.deps.studiesRepo.updateStudy(study.id, {
      study_status: status,
      updated_at: nowIso(),
      ...(status === 'Completed' ? { study_end_datetime: nowIso() } : {}),
    });
    const current = this.inspection;
    if (current?.studyPk === study.id && (current === checked || current.sessionId === user.sessionId)) {
      this.inspection = undefined;
      this.status = 'TASK_Idle';
    }
    await this.announce(user.sessionId);
  }
}
