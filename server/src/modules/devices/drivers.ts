import type { DetectorCalibration } from '../../imaging/calibration.js';
import type { Collimation } from '../../imaging/geometry.js';
import type { DeviceDriver } from './driver.js';

/**
 * What the exposure workflow needs from an X-ray room's two devices, beyond the console's
 * parameter map and actions (DeviceDriver). The simulators implement these; a vendor's
 * generator or panel driver implements the same and acquisition does not change.
 */

/** An exposure programme: kV, tube current, time, their product and the focal spot (0 small, 1 large). */
export interface Technique {
  kv: number;
  ma: number;
  ms: number;
  mas: number;
  focus: 0 | 1;
}

export interface GeneratorDriver extends DeviceDriver {
  /** The vendor status name (GENERATOR_STATUS_STANDBY …), as the console shows it. */
  currentStatus(): string;
  /** Open and able to prepare an exposure now. */
  ready(): boolean;
  currentTechnique(): Technique;
  /** Applies a programme after checking the generator's limits; throws a DeviceError and changes nothing when one fails. */
  setTechnique(next: Partial<Technique>): void;
  /** Runs one exposure and returns the technique actually delivered. */
  expose(): Promise<Technique>;
}

/** Geometry of one readout as the panel is asked for it. */
export interface DetectorExposure {
  kv: number;
  mas: number;
  sidMm: number;
  bodyPart: string;
  /** What the simulated patient looks like: the view's technique family (CHESTPA, HAND …); the body part when absent. */
  anatomy?: string;
  /** The simulated patient's part thickness, cm (a hardware panel ignores it); the part's typical adult thickness when absent. */
  thicknessCm?: number;
  /** Whether the exposure is through the grid; by default when the part is thicker than 10 cm. */
  grid?: boolean;
  /** In pixels of the full detector; the driver's default field when absent. */
  collimation?: Collimation;
}

/** One raw readout: uncorrected 14-bit digital numbers, row by row. */
export interface RawFrame {
  rows: number;
  columns: number;
  bitsStored: 14;
  data: Uint16Array;
}

export interface DetectorDriver extends DeviceDriver {
  readonly rows: number;
  readonly columns: number;
  readonly pixelSpacingMm: number;
  /** The panel's offset/gain/defect calibration the pipeline corrects each frame with. */
  readonly calibration: DetectorCalibration;
  /**
   * Readies the panel ahead of exposures (loads or makes its calibration) and, given the next
   * exposure, whatever its readout needs; optional, and `acquire` works without it.
   */
  prepare?(upcoming?: DetectorExposure): Promise<void>;
  /** Reads out one exposure (a hardware panel answers asynchronously, a simulator at once). */
  acquire(exposure: DetectorExposure): RawFrame | Promise<RawFrame>;
}
