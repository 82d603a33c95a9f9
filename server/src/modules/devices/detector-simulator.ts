import type { DetectorCalibration } from '../../imaging/calibration.js';
import { fieldColumns, type Collimation } from '../../imaging/geometry.js';
import { openBeamKerma, scatterFraction, voiWater, waterMu } from '../../imaging/exposure-model.js';
import { DEFAULT_THICKNESS_CM, pathMap, phantomKindOf, voiFraction, type PhantomKind } from '../../imaging/phantom.js';
import { DeviceError, type DeviceParams } from './driver.js';
import type { DetectorDriver, DetectorExposure, RawFrame } from './drivers.js';
import { mulberry32 } from '../../util/random.js';

/** What the simulator knows and the pipeline must find out: for tests against ground truth. */
export interface GroundTruth {
  collimation: Collimation;
  phantom: PhantomKind;
  /** The part thickness simulated, cm, and its value-of-interest path in water-equivalent cm. */
  thicknessCm: number;
  voiWaterCm: number;
  /** Air kerma at the detector in the open (raw) beam, µGy, at the field centre. */
  rawBeamKermaUGy: number;
  /** Median air kerma behind the anatomy inside the field (no noise), µGy: the ideal value of interest. */
  anatomyKermaUGy: number;
}

/** A readout with the simulator's ground truth beside it. */
export interface RawImage extends RawFrame {
  truth: GroundTruth;
}

/** Detected quanta per µGy per pixel (≈ 139 µm pixel, DQE ~0.6): sets the quantum noise. */
const QUANTA_PER_UGY = 350;
const MAX_DN = 16383;
/**
 * Outside the field: off-focus radiation (a fraction of the open beam) plus a share of the
 * scatter the patient makes under the field.
 */
const OFF_FOCUS = 0.0003;
const SCATTER_OUTSIDE = 0.1;

/** 64 K standard normal deviates, drawn once: a table lookup per pixel instead of Box–Muller. */
const NORMALS = (() => {
  const random = mulberry32(7);
  const table = new Float32Array(65536);
  for (let i = 0; i < table.length; i += 2) {
    const u = Math.max(1e-12, random());
    const v = random();
    const m = Math.sqrt(-2 * Math.log(u));
    table[i] = m * Math.cos(2 * Math.PI * v);
    table[i + 1] = m * Math.sin(2 * Math.PI * v);
  }
  return table;
})();

function histogramMedian(histogram: Uint32Array, binWidth: number): number {
  const total = histogram.reduce((a, b) => a + b, 0);
  if (total === 0) return 1;
  let seen = 0;
  for (let b = 0; b < histogram.length; b += 1) {
    seen += histogram[b];
    if (seen * 2 >= total) return (b + 0.5) * binWidth;
  }
  return 1;
}

/**
 * A simulated flat-panel detector: a 14-bit image of a phantom of the stated part thickness whose
 * signal follows the shared exposure model (imaging/exposure-model.ts: kerma ∝ mAs·kV²/SID²,
 * water attenuation falling with kV, scatter, grid), quantum noise ∝ √dose, collimation,
 * raw beam beside the anatomy, a heel effect along the anode–cathode (vertical) axis, a fixed
 * offset and gain pattern, and defective pixels and one dead column.
 */
export class DetectorSimulator implements DetectorDriver {
  readonly uri = 'DIOS/DEVICE/Detector';
  private open = false;
  private calibrationCache: DetectorCalibration | undefined;
  /** A calibration being made a band of rows at a time (prepare), finished at once if needed sooner. */
  private calibrationBuild: CalibrationBuild | undefined;
  private readonly anatomy = new Map<PhantomKind, QuantizedPath>();
  /** Transmission per path level for the last kind, kV, thickness and grid (the same technique repeats). */
  private transmission: { key: string; levels: Uint16Array; table: Float32Array } | undefined;
  private sequence = 0;

  constructor(
    readonly rows = 3072,
    readonly columns = 3072,
    readonly pixelSpacingMm = 0.139,
    private readonly seed = 1,
  ) {}

  /**
   * Made by `prepare` (the start-up warm-up) or on first use. The maps (~85 MB at 3072²) are in
   * shared memory: handing them to the pipeline's threads then shares them instead of copying
   * (a structured clone of 85 MB cost ~0.1 s on the first exposure).
   */
  get calibration(): DetectorCalibration {
    if (!this.calibrationCache) {
      const build = (this.calibrationBuild ??= new CalibrationBuild(this.rows, this.columns, this.pixelSpacingMm, this.seed));
      while (!build.step(this.rows)) {
        // the rest of the rows, now: an exposure is waiting for them
      }
      this.calibrationCache = build.result();
      this.calibrationBuild = undefined;
    }
    return this.calibrationCache;
  }

  /**
   * Makes the calibration ahead of the first exposure, a band of rows per turn of the event loop
   * (~0.2 s of work at 3072², which would otherwise hold up requests), then the patient model of
   * `upcoming`, or without one every phantom's (one per turn, ~0.1 s each at 3072²). The same
   * maps as on first use, bit for bit.
   */
  async prepare(upcoming?: DetectorExposure): Promise<void> {
    while (!this.calibrationCache) {
      const build = (this.calibrationBuild ??= new CalibrationBuild(this.rows, this.columns, this.pixelSpacingMm, this.seed));
      if (build.step(CALIBRATION_BAND_ROWS)) {
        this.calibrationCache = build.result();
        this.calibrationBuild = undefined;
      }
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    if (upcoming) {
      const { kind, thicknessCm, grid } = this.patientOf(upcoming);
      this.transmissionOf(kind, upcoming.kv, thicknessCm, grid);
      return;
    }
    for (const kind of PHANTOM_KINDS) {
      this.anatomyOf(kind);
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  get isOpen(): boolean {
    return this.open;
  }

  connect(): Promise<void> {
    this.open = true;
    return Promise.resolve();
  }

  action(name: string): Promise<void> {
    return Promise.reject(new DeviceError('DEVICE_ACTION_UNKNOWN', `${this.uri} has no action ${JSON.stringify(name)}`));
  }

  params(): DeviceParams {
    const pub = (key: string, value: string) => ({ Level: 'Public', DescKey: key, Value: value });
    return {
      IsDemo: pub('IsDemo', '1'),
      DETECTORSTATUS: pub('DETECTORSTATUS', this.open ? 'DETECTOR_STATUS_STANDBY' : 'DETECTOR_STATUS_INIT'),
      Rows: pub('Rows', String(this.rows)),
      Columns: pub('Columns', String(this.columns)),
      PixelSpacing: pub('PixelSpacing', String(this.pixelSpacingMm)),
      BitsStored: pub('BitsStored', '14'),
      Manufacturer: pub('Manufacturer', 'Roentgen'),
      Model: pub('Model', 'Detector simulator'),
    };
  }

  private anatomyOf(kind: PhantomKind): QuantizedPath {
    let quantized = this.anatomy.get(kind);
    if (!quantized) {
      quantized = quantize(pathMap(kind, this.rows, this.columns));
      this.anatomy.set(kind, quantized);
    }
    return quantized;
  }

  /**
   * Fraction of the open beam per path level: primary through the level's water-equivalent path
   * plus the scatter of the patient (uniform under the anatomy), 1 where there is no patient.
   * A table of 65,536 levels instead of a map of every pixel: exp per pixel cost ~0.1 s at 3072²
   * whenever the patient or the technique changed, and the map 37 MB.
   */
  private transmissionOf(kind: PhantomKind, kv: number, thicknessCm: number, grid: boolean): { levels: Uint16Array; table: Float32Array } {
    const key = `${kind}@${kv}@${thicknessCm}@${grid}`;
    if (this.transmission?.key === key) return this.transmission;
    const { levels, step } = this.anatomyOf(kind);
    // The map is in fractions of the part: scaled so its VOI has the model's (floored) water path.
    const voi = voiWater(thicknessCm, voiFraction(kind));
    const mu = (waterMu(kv) * voi) / voiFraction(kind);
    const scatter = scatterFraction(kv, voi, grid);
    const table = new Float32Array(PATH_LEVELS);
    table[0] = 1;
    for (let q = 1; q < PATH_LEVELS; q += 1) table[q] = Math.min(1, Math.exp(-mu * q * step) + scatter);
    this.transmission = { key, levels, table };
    return this.transmission;
  }

  /** The simulated patient of an exposure: phantom, part thickness and whether the grid is in. */
  private patientOf(exposure: DetectorExposure): { kind: PhantomKind; thicknessCm: number; grid: boolean } {
    const kind = phantomKindOf(exposure.anatomy || exposure.bodyPart);
    const thicknessCm = exposure.thicknessCm ?? DEFAULT_THICKNESS_CM[kind];
    return { kind, thicknessCm, grid: exposure.grid ?? thicknessCm > 10 };
  }

  defaultCollimation(): Collimation {
    return { shape: 'rect', cx: this.columns / 2, cy: this.rows / 2, width: this.columns * 0.86, height: this.rows * 0.86, angleDeg: 0 };
  }

  /** Reads out one exposure; the field defaults to a rectangle covering ~85 % of the panel. */
  acquire(exposure: DetectorExposure): RawImage {
    if (!this.open) throw new DeviceError('DEVICE_NOT_READY', `${this.uri} is not open`);
    const { rows, columns, calibration: cal } = this;
    const { kind, thicknessCm, grid } = this.patientOf(exposure);
    const { levels, table: transmission } = this.transmissionOf(kind, exposure.kv, thicknessCm, grid);
    const collimation = exposure.collimation ?? this.defaultCollimation();
    const kermaOpen = openBeamKerma({ kv: exposure.kv, mas: exposure.mas, sidCm: exposure.sidMm / 10, grid });
    const scatterUnder = scatterFraction(exposure.kv, voiWater(thicknessCm, voiFraction(kind)), grid);
    const data = new Uint16Array(rows * columns);
    const random = mulberry32(this.seed + (this.sequence += 1) * 104729);
    let noiseIndex = Math.floor(random() * 65536);
    const noiseStride = 1 + 2 * Math.floor(random() * 1000);
    // Noise-free kerma behind the anatomy, as a fine histogram of the fraction of the open beam.
    // Bins over 0–0.81 (transmission below 0.75 times the heel factor ≤ 1.08), fine enough for a 22 cm trunk's 0.4 %.
    const BINS = 65536;
    const RANGE = 0.81;
    const histogram = new Uint32Array(BINS);
    const { offset, gain, dnPerUGy } = cal;
    // Per pixel: quanta q = kerma·QUANTA_PER_UGY, noisy kerma (q + √q·n)/QUANTA_PER_UGY, DN =
    // offset + kerma·dnPerUGy·gain. The constants are folded so the loop does one sqrt.
    const quantaPerKerma = QUANTA_PER_UGY;
    const dnPerQuantum = dnPerUGy / QUANTA_PER_UGY;
    const outsideQuanta = kermaOpen * (OFF_FOCUS + SCATTER_OUTSIDE * scatterUnder) * quantaPerKerma;
    const outsideNoise = Math.sqrt(outsideQuanta);
    const heelAt = (r: number) => 1.08 - 0.16 * (r / rows); // brighter on the cathode side
    // The truth's median from every 2nd row and column: as exact, and a quarter of the work.
    for (let r = 0; r < rows; r += 2) {
      const [from, to] = fieldColumns(collimation, r + 0.5, columns);
      const rowHistogram = heelAt(r) * (BINS / RANGE);
      for (let i = r * columns + from, end = r * columns + to; i <= end; i += 2) {
        const t = transmission[levels[i]];
        if (t < 0.75) histogram[Math.min(BINS - 1, Math.floor(t * rowHistogram))] += 1;
      }
    }
    for (let r = 0; r < rows; r += 1) {
      const [from, to] = fieldColumns(collimation, r + 0.5, columns);
      const rowQuanta = kermaOpen * heelAt(r) * quantaPerKerma;
      for (let c = 0, i = r * columns; c < columns; c += 1, i += 1) {
        noiseIndex = (noiseIndex + noiseStride) & 0xffff;
        let noisy: number;
        if (c >= from && c <= to) {
          const quanta = rowQuanta * transmission[levels[i]];
          noisy = quanta + Math.sqrt(quanta) * NORMALS[noiseIndex];
        } else {
          noisy = outsideQuanta + outsideNoise * NORMALS[noiseIndex];
        }
        const dn = offset[i] + (noisy > 0 ? noisy : 0) * dnPerQuantum * gain[i];
        data[i] = dn >= MAX_DN ? MAX_DN : dn;
      }
    }
    // Defective pixels: dead ones read the offset only, a few hot ones saturate.
    for (let i = 0; i < data.length; i += 1) if (cal.defects[i]) data[i] = i % 3 === 0 ? MAX_DN : Math.round(cal.offset[i]);
    return {
      rows,
      columns,
      bitsStored: 14,
      data,
      truth: {
        collimation,
        phantom: kind,
        thicknessCm,
        voiWaterCm: voiWater(thicknessCm, voiFraction(kind)),
        rawBeamKermaUGy: kermaOpen,
        anatomyKermaUGy: histogramMedian(histogram, RANGE / BINS) * kermaOpen,
      },
    };
  }
}

const PHANTOM_KINDS = Object.keys(DEFAULT_THICKNESS_CM) as PhantomKind[];

/** Levels of the quantized path: 0 is no patient, 65,535 the phantom's longest path. */
const PATH_LEVELS = 65536;

/** A phantom's water path per pixel as a level (path ≈ level × step): 18 MB at 3072² instead of 37. */
interface QuantizedPath {
  levels: Uint16Array;
  step: number;
}

/**
 * Quantizes a path map to PATH_LEVELS levels. A step is ~2·10⁻⁵ of the part thickness, so the
 * transmission it gives differs from the exact one by ~10⁻⁴ (relative), far below the noise.
 * Every pixel with a path keeps a level ≥ 1: the patient's outline does not move.
 */
function quantize(path: Float32Array): QuantizedPath {
  let longest = 0;
  for (let i = 0; i < path.length; i += 1) if (path[i] > longest) longest = path[i];
  const step = longest > 0 ? longest / (PATH_LEVELS - 1) : 1;
  const levels = new Uint16Array(path.length);
  for (let i = 0; i < path.length; i += 1) if (path[i] > 0) levels[i] = Math.max(1, Math.round(path[i] / step));
  return { levels, step };
}

/** Rows of calibration made per turn of the event loop by `prepare`: ~10 ms of work at 3072 columns. */
const CALIBRATION_BAND_ROWS = 128;

/**
 * The simulated panel's offset, gain and defect maps, made row by row from one seeded generator
 * so that making them in bands gives the same maps as making them at once.
 */
class CalibrationBuild {
  private readonly random: () => number;
  private readonly offset: Float32Array;
  private readonly gain: Float32Array;
  private readonly defects: Uint8Array;
  private readonly columnOffset: Float32Array;
  /** sin(πc / columns): the gain's roll-off across the columns, the same for every row. */
  private readonly across: Float64Array;
  private row = 0;

  constructor(
    private readonly rows: number,
    private readonly columns: number,
    private readonly pixelSpacingMm: number,
    seed: number,
  ) {
    this.random = mulberry32(seed * 7919);
    const pixels = rows * columns;
    this.offset = new Float32Array(new SharedArrayBuffer(pixels * 4));
    this.gain = new Float32Array(new SharedArrayBuffer(pixels * 4));
    this.defects = new Uint8Array(new SharedArrayBuffer(pixels));
    this.columnOffset = Float32Array.from({ length: columns }, () => 90 + 30 * this.random());
    this.across = Float64Array.from({ length: columns }, (_, c) => Math.sin((c / columns) * Math.PI));
  }

  /** Makes up to `band` more rows; true once every row is made. */
  step(band: number): boolean {
    const { columns, offset, gain, random, columnOffset, across } = this;
    const end = Math.min(this.rows, this.row + band);
    for (let r = this.row; r < end; r += 1) {
      const gy = Math.sin((r / this.rows) * Math.PI);
      for (let c = 0, i = r * columns; c < columns; c += 1, i += 1) {
        offset[i] = columnOffset[c] + 4 * random();
        // Smooth sensitivity roll-off towards the edges plus 1 % pixel-to-pixel spread.
        gain[i] = (0.93 + 0.07 * gy * across[c]) * (0.99 + 0.02 * random());
      }
    }
    this.row = end;
    return end === this.rows;
  }

  /** The finished calibration, with its dead column and scattered defective pixels. */
  result(): DetectorCalibration {
    const { rows, columns, defects, random } = this;
    const deadColumn = Math.floor(columns * 0.61);
    for (let r = 0; r < rows; r += 1) defects[r * columns + deadColumn] = 1;
    for (let k = 0; k < Math.round(rows * columns * 5e-5); k += 1) defects[Math.floor(random() * rows * columns)] = 1;
    return { rows, columns, offset: this.offset, gain: this.gain, defects, dnPerUGy: 300, pixelSpacingMm: this.pixelSpacingMm };
  }
}
