/** The detector's calibration, as a real panel's offset/gain/defect calibration provides. */
export interface DetectorCalibration {
  rows: number;
  columns: number;
  offset: Float32Array;
  gain: Float32Array;
  /** 1 where the pixel is defective (dead, hot, a bad column). */
  defects: Uint8Array;
  /** Digital numbers per µGy of air kerma at unit gain. */
  dnPerUGy: number;
  pixelSpacingMm: number;
}
