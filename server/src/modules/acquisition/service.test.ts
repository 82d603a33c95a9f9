import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Bus } from '../../bus/index.js';
import type { AuthUser } from '../auth/auth-user.js';
import type { DetectorCalibration } from '../../imaging/calibration.js';
import { STAGES, type PipelineResult, type Stage } from '../../imaging/pipeline/index.js';
import { DeviceError, type DeviceParams } from '../devices/driver.js';
import type { DetectorDriver, DetectorExposure, GeneratorDriver, RawFrame, Technique } from '../devices/drivers.js';
import type { ImageFilesService } from '../images/service.js';
import type { ProtocolRepository } from '../protocols/repository.js';
import type { ImageRow, StudiesRepository, StudyRow } from '../studies/repository.js';
import type { StudiesService } from '../studies/service.js';
import { AcquisitionService, TOPIC_PROGRESS } from './service.js';

/** A generator as a vendor driver would be: it keeps the programme it is given and reports what it delivered. */
class FakeGenerator implements GeneratorDriver {
  readonly uri = 'TEST/Generator';
  isOpen = false;
  technique: Technique = { kv: 50, ma: 100, ms: 10, mas: 1, focus: 1 };
  programmes: Partial<Technique>[] = [];
  refuse: DeviceError | undefined;
  async connect() {
    this.isOpen = true;
  }
  params(): DeviceParams {
    return {};
  }
  async action() {}
  currentStatus() {
    return 'VENDOR_IDLE';
  }
  ready() {
    return this.isOpen;
  }
  currentTechnique() {
    return { ...this.technique };
  }
  setTechnique(next: Partial<Technique>) {
    if (this.refuse) throw this.refuse;
    this.programmes.push(next);
    const t = { ...this.technique, ...next };
    this.technique = { ...t, mas: (t.ma * t.ms) / 1000 };
  }
  async expose() {
    if (this.refuse) throw this.refuse;
    return { ...this.technique };
  }
}

/** A panel that is not square and has coarse pixels, so pixel conversions show. */
class FakeDetector implements DetectorDriver {
  readonly uri = 'TEST/Detector';
  readonly rows = 2000;
  readonly columns = 1600;
  readonly pixelSpacingMm = 0.25;
  readonly calibration = { rows: 2000, columns: 1600, dnPerUGy: 1 } as DetectorCalibration; // the fake pipeline never reads its maps
  isOpen = false;
  exposures: DetectorExposure[] = [];
  frame = new Uint16Array(16);
  async connect() {
    this.isOpen = true;
  }
  params(): DeviceParams {
    return {};
  }
  async action() {}
  async acquire(exposure: DetectorExposure): Promise<RawFrame> {
    this.exposures.push(exposure);
    return { rows: this.rows, columns: this.columns, bitsStored: 14, data: this.frame };
  }
}

const STUDY = {
  id: 7,
  study_id: 'S7',
  deleted_at: null,
  study_status: 'Arrived',
  study_instance_uid: '1.2.3.7',
  accession_number: 'A7',
  study_start_datetime: '2024-05-01T10:00:00Z',
  patient_id: 'P7',
  patient_name: 'DOE^JANE',
  details: JSON.stringify({
    patient_size: 'Large',
    ref_physician: '',
    patient_dob: '',
    patient_sex: 'F',
    patient_age: '',
    weight: 0,
    patient_type: 'Human',
  }),
} as unknown as StudyRow; // the fields acquisition reads
const IMAGE = {
  id: 70,
  study_pk: 7,
  series_pk: 71,
  sort: 1,
  product: 'DX',
  view_id: 'V_CHEST',
  view_description: 'Chest PA',
  expose_status: 'NotExposed',
  sop_instance_uid: '1.2.3.7.1',
} as unknown as ImageRow;
const USER = {
  id: 1,
  username: 'admin',
  sessionId: 'test-session',
  roles: [],
  permissions: new Set<string>(),
  jti: 'j',
  tokenExpiresAt: 0,
  isGuest: false,
} as AuthUser;

function setup(view: { shape?: 'CIRCULAR'; size?: string } = {}) {
  const generator = new FakeGenerator();
  const detector = new FakeDetector();
  const published: { topic: string; payload: Record<string, string> }[] = [];
  const imageUpdates: Record<string, string>[] = [];
  const pipelineInputs: { raw: Uint16Array; calibration: DetectorCalibration; targetEi: number }[] = [];
  const result: PipelineResult = {
    rows: 4,
    columns: 4,
    presentation: new Uint16Array(16),
    processing: new Uint16Array(16),
    window: { center: 100, width: 200 },
    exposure: { ei: 290, targetEi: 250, di: -0.1, voiKermaUGy: 2.9 },
    field: { shape: 'circle', cx: 2, cy: 2, radius: 2 },
    timings: {},
  };
  const fakes = {
    studiesRepo: {
      image: async (uid: string) => (uid === IMAGE.sop_instance_uid ? IMAGE : undefined),
      studyByPk: async () => STUDY,
      seriesOf: async () => [{ id: 71, series_instance_uid: '1.2.3.7.2', sort: 1, body_part_id: 'Human_CHEST' }],
      updateStudy: async () => undefined,
      updateImage: async (_pk: number, values: Record<string, string>) => {
        imageUpdates.push(values);
      },
    },
    studies: { requireStudy: async () => STUDY },
    protocols: {
      view: async () => ({
        view_id: 'V_CHEST',
        work_station_id: 2,
        body_part_id: 'Human_CHEST',
        view_position: 'PA',
        laterality: 'U',
        config_object: JSON.stringify({
          DX: {
            TargetEXI: 250,
            CollimatorSize: view.size ?? '14IN(35)X17IN(43)',
            CollimatorShape: view.shape ?? 'RECTANGULAR',
            PatientOrientationRow: 'R',
          },
        }),
      }),
      exposure: async (_p: string, _v: string, _ws: number, size: string) =>
        size === 'Large' ? { config_object: JSON.stringify({ Common: { kV: 125, mA: 320, ms: 12.5, Focus: 0 } }) } : undefined,
      device: async () => ({ config_object: JSON.stringify({ Common: { SID: 180 } }) }),
    },
    files: {
      storeImage: async (uid: string) => ({ dcm: `${uid}.dcm`, thumbnail: `${uid}.webp` }),
      // The For Processing twin goes straight to the archive.
      archive: { storeInstance: async (_object: unknown, as: { role: string }) => ({ dcm: `${as.role}.dcm` }) },
    },
    bus: {
      publish: async (topic: string, payload: Record<string, string>) => {
        published.push({ topic, payload });
      },
    },
    pipeline: {
      run: async (
        input: { raw: Uint16Array; calibration: DetectorCalibration; targetEi: number },
        onStage: (s: Stage) => void | Promise<void>,
      ) => {
        pipelineInputs.push(input);
        for (const stage of STAGES) await onStage(stage);
        return result;
      },
    },
  };
  const service = new AcquisitionService({
    // Only the methods acquisition calls are faked; the casts say these objects stand in for the real ones.
    studiesRepo: fakes.studiesRepo as unknown as StudiesRepository,
    studies: fakes.studies as unknown as StudiesService,
    protocols: fakes.protocols as unknown as ProtocolRepository,
    files: fakes.files as unknown as ImageFilesService,
    bus: fakes.bus as unknown as Bus,
    pipeline: fakes.pipeline,
    generator,
    detector,
    equipment: { manufacturer: 'M', model: 'X', stationName: 'S', softwareVersion: '1' },
    uidRoot: undefined,
  });
  return { service, generator, detector, published, imageUpdates, pipelineInputs };
}

describe('AcquisitionService against driver interfaces (no simulator)', () => {
  test('start gives the generator the view programme for the patient size and opens both devices', async () => {
    const { service, generator, detector } = setup();
    await service.start(IMAGE.sop_instance_uid, USER);
    assert.deepEqual(generator.programmes, [{ kv: 125, ma: 320, ms: 12.5, focus: 0 }]);
    const status = service.globalStatus();
    assert.deepEqual([status.gen_status, status.insp_status, status.all_ready, detector.isOpen], ['VENDOR_IDLE', 'TASK_Ready', true, true]);
  });

  test('trigger reads the panel with the delivered technique and the view field in its pixels; stages reach MQTT under the console names', async () => {
    const { service, detector, published, imageUpdates, pipelineInputs } = setup();
    await service.start(IMAGE.sop_instance_uid, USER);
    await service.trigger(USER);
    await service.pending;
    // 35 × 43 cm at 0.25 mm: 1400 × 1720 pixels, centred on the 1600 × 2000 panel; SID 180 cm.
    assert.deepEqual(detector.exposures, [
      {
        kv: 125,
        mas: 4,
        sidMm: 1800,
        bodyPart: 'CHEST',
        collimation: { shape: 'rect', cx: 800, cy: 1000, width: 1400, height: 1720, angleDeg: 0 },
      },
    ]);
    assert.equal(pipelineInputs[0].raw, detector.frame, 'the readout goes to the pipeline as it is');
    assert.equal(pipelineInputs[0].calibration, detector.calibration);
    assert.equal(pipelineInputs[0].targetEi, 250);
    const progress = published.filter((p) => p.topic === TOPIC_PROGRESS).map((p) => p.payload);
    assert.deepEqual(
      progress.map((p) => p.status),
      ['TASK_RecvRaw', 'TASK_RecvMask', 'TASK_RecvEnhance', 'TASK_RecvForeground', 'TASK_RecvApply', 'TASK_Success'],
    );
    assert.ok(progress.every((p) => p.sop === IMAGE.sop_instance_uid));
    const exposed = imageUpdates.find((u) => u.expose_status === 'Exposed')!;
    assert.deepEqual(JSON.parse(exposed.acquisition_context), {
      expose_time: JSON.parse(exposed.acquisition_context).expose_time,
      kv: 125,
      ma: 320,
      ms: 12.5,
      mas: 4,
      focus: 0,
      sid_mm: 1800,
    });
    assert.equal(JSON.parse(exposed.img_proc_context).exposure_index.ei, 290);
  });

  test('a circular view asks the panel for an iris that fits the field', async () => {
    const { service, detector } = setup({ shape: 'CIRCULAR', size: '10IN(24)X12IN(30)' });
    await service.start(IMAGE.sop_instance_uid, USER);
    await service.trigger(USER);
    await service.pending;
    assert.deepEqual(detector.exposures[0].collimation, { shape: 'circle', cx: 800, cy: 1000, radius: 480 });
  });

  test('a driver refusal reaches the caller as the device error and leaves the room ready', async () => {
    const { service, generator, detector } = setup();
    generator.refuse = new DeviceError('DEVICE_PARAM_RANGE', 'kV 125 is outside 40–120');
    await assert.rejects(
      service.start(IMAGE.sop_instance_uid, USER),
      (e: unknown) => e instanceof DeviceError && e.errorName === 'DEVICE_PARAM_RANGE',
    );
    generator.refuse = undefined;
    await service.start(IMAGE.sop_instance_uid, USER);
    generator.refuse = new DeviceError('DEVICE_NOT_READY', 'tube too hot');
    await assert.rejects(service.trigger(USER), (e: unknown) => e instanceof DeviceError && e.errorName === 'DEVICE_NOT_READY');
    assert.equal(service.globalStatus().insp_status, 'TASK_Ready');
    assert.equal(detector.exposures.length, 0, 'nothing was read out');
  });
});
