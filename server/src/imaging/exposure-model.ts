/**
 * The radiographic exposure model shared by the detector simulator (the physics it renders) and
 * the protocol library (the programmes it charts): air kerma at the detector for a kV, mAs, SID,
 * a water-equivalent patient path and a grid. One model on both sides is what a site's APR
 * calibration does on a real room: the programme for the standard patient is set so the panel
 * receives its target exposure index. See docs/architecture.md ("Default exposures").
 *
 * Constants are textbook values for a tungsten tube with ~3 mm Al plus the 0.1 mm Cu added filter
 * usual in DR rooms, and a CsI panel behind a 12:1 grid, rounded (they are ±30 % between rooms):
 * - tube output in air at 1 m: 30 µGy/mAs at 80 kV, ∝ kV² (60 kV 17, 115 kV 62);
 * - effective attenuation of soft tissue (water) for the hardened primary beam: 0.245 /cm at
 *   80 kV, ∝ kV^-0.5 (0.283 at 60 kV, 0.204 at 115 kV): a half-value layer of 2.8–3.4 cm;
 * - scatter-to-primary ratio behind the patient 0.2·w·w/(w + 8) for w cm of water (22 cm: 3.2,
 *   10 cm: 1.1, 3 cm: 0.16: thin parts under small fields make little scatter);
 * - a grid passes 65 % of the primary and 8 % of the scatter; table and detector cover 80 %.
 * EI = 100 × K (µGy), the IEC 62494-1 relation for an RQA5-calibrated panel; the simulated panel's
 * response per µGy is taken as independent of beam quality.
 */

export const OUTPUT_UGY_PER_MAS_80KV = 30;
export const WATER_MU_80KV = 0.245;
export const SCATTER_PER_CM = 0.2;
export const GRID_PRIMARY = 0.65;
export const GRID_SCATTER = 0.08;
export const COVER_TRANSMISSION = 0.8;

/** Tube output in air at 1 m, µGy per mAs. */
export function tubeOutput(kv: number): number {
  return OUTPUT_UGY_PER_MAS_80KV * (kv / 80) ** 2;
}

/** Effective linear attenuation of water for the primary beam at a tube voltage, per cm. */
export function waterMu(kv: number): number {
  return WATER_MU_80KV * (80 / kv) ** 0.5;
}

export interface Beam {
  kv: number;
  mas: number;
  sidCm: number;
  grid: boolean;
}

/** Kerma at the detector with no patient in the beam (behind cover and grid), µGy. */
export function openBeamKerma(beam: Beam): number {
  return tubeOutput(beam.kv) * beam.mas * (100 / beam.sidCm) ** 2 * COVER_TRANSMISSION * (beam.grid ? GRID_PRIMARY : 1);
}

/**
 * Scatter reaching the detector under a patient whose typical path is `waterCm`, as a fraction of
 * the open beam: SPR × primary transmission, the grid keeping GRID_SCATTER/GRID_PRIMARY of it.
 */
export function scatterFraction(kv: number, waterCm: number, grid: boolean): number {
  const spr = ((SCATTER_PER_CM * waterCm * waterCm) / (waterCm + 8)) * (grid ? GRID_SCATTER / GRID_PRIMARY : 1);
  return spr * Math.exp(-waterMu(kv) * waterCm);
}

/**
 * The value-of-interest path of a part, water-equivalent cm, with a soft floor of 3.5 cm
 * (√(w² + 3.5²)): a child’s finger is bone and skin, not 0.8 cm of water, and below ~3 cm the
 * segmentation's raw-beam threshold (60 % of the open beam) could not tell the part from air.
 * It adds 6 % at 10 cm, 1.5 % at 20 cm.
 */
export function voiWater(thicknessCm: number, voiFraction: number): number {
  return Math.hypot(thicknessCm * voiFraction, MIN_VOI_WATER_CM);
}
export const MIN_VOI_WATER_CM = 3.5;

/** Fraction of the open beam behind `pathCm` of water, with the scatter of a `typicalCm` patient. */
export function transmission(kv: number, pathCm: number, typicalCm: number, grid: boolean): number {
  return Math.min(1, Math.exp(-waterMu(kv) * pathCm) + scatterFraction(kv, typicalCm, grid));
}

/** Detector kerma (µGy) behind a water-equivalent path: the value of interest of the exposure. */
export function detectorKerma(beam: Beam, waterCm: number): number {
  return openBeamKerma(beam) * transmission(beam.kv, waterCm, waterCm, beam.grid);
}

/** The mAs that brings the detector kerma behind `waterCm` to `targetEi` / 100 µGy. */
export function masForTarget(beam: Omit<Beam, 'mas'>, waterCm: number, targetEi: number): number {
  return targetEi / 100 / detectorKerma({ ...beam, mas: 1 }, waterCm);
}

/**
 * Part thickness of each patient size relative to the programme's (medium) thickness: Large and
 * Small ≈ ±3 cm on a 22 cm trunk, Paediatric ≈ 40 % (a 5-year-old's chest is ~9 cm water-equivalent
 * … 14 cm thick against an adult's 22).
 */
export const SIZE_THICKNESS: Record<string, number> = { Large: 1.15, Medium: 1, Small: 0.85, Paediatric: 0.4 };

export function thicknessForSize(mediumCm: number, size: string): number {
  return Math.max(0.5, Math.round(mediumCm * (SIZE_THICKNESS[size] ?? 1) * 10) / 10);
}
