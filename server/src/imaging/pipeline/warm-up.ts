import type { DetectorCalibration } from '../calibration.js';
import type { RowExecutor } from './executor.js';

/**
 * What a pipeline thread does at start-up so that the first exposure runs like the tenth: the
 * same stages over a synthetic frame of the detector's size, with the detector's calibration.
 * That compiles and optimises every kernel, fills the working planes (a page fault per 4 KiB the
 * first time) and prepares the calibration's shared form. It gives way to a real exposure at the
 * next kernel, so an exposure arriving meanwhile waits for one kernel at most.
 */

/** The error text a warm-up run ends with when it gave way to an exposure. */
export const WARM_UP_YIELDED = 'the pipeline warm-up gave way to an exposure';

/** A kernel executor that stops (throws WARM_UP_YIELDED) before the next kernel once `yieldNow` says so. */
export function yieldingExecutor(executor: RowExecutor, yieldNow: () => boolean): RowExecutor {
  return {
    run(kernel, args, rows) {
      if (yieldNow()) return Promise.reject(new Error(WARM_UP_YIELDED));
      return executor.run(kernel, args, rows);
    },
  };
}

/**
 * A raw frame as the panel would read it out: a collimated field (86 % of the panel) of open
 * beam around an ellipse of attenuating "anatomy", little dose outside the field. Without noise:
 * only the work matters, not the picture.
 */
export function warmUpFrame(calibration: DetectorCalibration): Uint16Array {
  const { rows, columns, offset, gain, dnPerUGy } = calibration;
  const raw = new Uint16Array(rows * columns);
  const [top, bottom] = [rows * 0.07, rows * 0.93];
  const [left, right] = [columns * 0.07, columns * 0.93];
  for (let r = 0; r < rows; r += 1) {
    const dy = (r - rows / 2) / (rows * 0.3);
    const inRows = r >= top && r < bottom;
    for (let c = 0, i = r * columns; c < columns; c += 1, i += 1) {
      const dx = (c - columns / 2) / (columns * 0.25);
      // µGy at the panel: open beam 20, behind the anatomy 2, outside the field 0.05.
      const kerma = inRows && c >= left && c < right ? (dx * dx + dy * dy < 1 ? 2 : 20) : 0.05;
      raw[i] = Math.min(16383, offset[i] + kerma * dnPerUGy * gain[i]);
    }
  }
  return raw;
}
