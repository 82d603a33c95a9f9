/**
 * Synthetic anatomy for the detector simulator: the water-equivalent path through the patient as a
 * fraction of the part's thickness, per position, built from ellipses so each pixel costs a few
 * multiplications. Four families cover the library's body parts: chest (lungs, mediastinum,
 * spine, ribs), trunk (abdomen, pelvis, spine), skull and limb. Each structure has a flat top and
 * a short rim (a thick slab seen end-on, not a sphere), so the median over the anatomy, the value
 * of interest of the exposure index, sits on the region's plateau and does not drift with the
 * field size: 1 for trunk, skull and limb (the charted thickness is the path the VOI sees), the
 * aerated lung for the chest (a 22 cm chest is ~12 cm water-equivalent behind the lungs).
 */
export type PhantomKind = 'chest' | 'trunk' | 'skull' | 'limb';

interface Ellipse {
  cx: number;
  cy: number;
  rx: number;
  ry: number;
  /** Water-equivalent path added on the plateau, as a fraction of the part thickness; bone counts extra. */
  path: number;
}

/** How steep a structure's rim is: the plateau covers all but the outer 1 − (1 − 1/RIM²) ≈ 16 % of its area. */
const RIM = 2.5;

const PARTS: Record<PhantomKind, Ellipse[]> = {
  // Coordinates in units of the image (0–1). Lungs subtract: air replaces soft tissue.
  chest: [
    { cx: 0.5, cy: 0.52, rx: 0.4, ry: 0.42, path: 1 },
    { cx: 0.33, cy: 0.46, rx: 0.16, ry: 0.33, path: -0.45 },
    { cx: 0.67, cy: 0.46, rx: 0.16, ry: 0.33, path: -0.45 },
    { cx: 0.5, cy: 0.55, rx: 0.035, ry: 0.45, path: 0.3 },
    { cx: 0.47, cy: 0.66, rx: 0.1, ry: 0.08, path: 0.25 },
  ],
  trunk: [
    { cx: 0.5, cy: 0.5, rx: 0.36, ry: 0.46, path: 1 },
    { cx: 0.5, cy: 0.5, rx: 0.04, ry: 0.48, path: 0.35 },
    { cx: 0.36, cy: 0.78, rx: 0.1, ry: 0.06, path: 0.2 },
    { cx: 0.64, cy: 0.78, rx: 0.1, ry: 0.06, path: 0.2 },
  ],
  // A bone shell around the brain: the tangential path through the vault is the longest.
  skull: [
    { cx: 0.5, cy: 0.5, rx: 0.33, ry: 0.4, path: 1.25 },
    { cx: 0.5, cy: 0.5, rx: 0.29, ry: 0.36, path: -0.25 },
    { cx: 0.5, cy: 0.66, rx: 0.12, ry: 0.05, path: 0.15 },
  ],
  limb: [
    { cx: 0.5, cy: 0.5, rx: 0.17, ry: 0.48, path: 1 },
    { cx: 0.5, cy: 0.5, rx: 0.05, ry: 0.47, path: 0.5 },
  ],
};

/** Typical thickness (cm) of a medium adult's part, for a readout that does not state it. */
export const DEFAULT_THICKNESS_CM: Record<PhantomKind, number> = { chest: 22, trunk: 22, skull: 19, limb: 8 };

const KIND_OF_PART: [RegExp, PhantomKind][] = [
  [/CHEST|THORAX|LUNG|RIB|STERN/i, 'chest'],
  [/SKULL|HEAD|FACE|FACIAL|SINUS|MANDIBLE|NASAL|ORBIT|TMJ|DENT/i, 'skull'],
  [
    /HAND|FOOT|FINGER|TOE|WRIST|ANKLE|ELBOW|KNEE|ARM|LEG|FEMUR|TIBIA|HUMERUS|FOREARM|CARPUS|TARSUS|LIMB|SHOULDER|CLAVICLE|HEEL|CALCANEUS|PATELLA|PAW|STIFLE|EXTREMIT/i,
    'limb',
  ],
];

export function phantomKindOf(bodyPart: string): PhantomKind {
  return KIND_OF_PART.find(([pattern]) => pattern.test(bodyPart))?.[1] ?? 'trunk';
}

/** Ribs for the chest: thin bands of extra path inside the thorax (kept small: they are not the VOI). */
function ribs(y: number, x: number): number {
  const inThorax = (x - 0.5) ** 2 / 0.16 + (y - 0.47) ** 2 / 0.09 < 1;
  if (!inThorax) return 0;
  const phase = (y * 11 + Math.abs(x - 0.5) * 2.2) % 1;
  return phase < 0.18 ? 0.04 : 0;
}

/**
 * Water-equivalent path per pixel for a `rows × columns` detector, as a fraction of the part
 * thickness (0 where there is no patient). The simulator multiplies it by the thickness.
 */
export function pathMap(kind: PhantomKind, rows: number, columns: number): Float32Array {
  const map = new Float32Array(rows * columns);
  const parts = PARTS[kind];
  for (let r = 0; r < rows; r += 1) {
    const y = (r + 0.5) / rows;
    for (let c = 0; c < columns; c += 1) {
      const x = (c + 0.5) / columns;
      let path = 0;
      for (const e of parts) {
        const d = ((x - e.cx) / e.rx) ** 2 + ((y - e.cy) / e.ry) ** 2;
        if (d < 1) path += e.path * Math.min(1, RIM * Math.sqrt(1 - d));
      }
      if (kind === 'chest' && path > 0) path += ribs(y, x);
      map[r * columns + c] = path > 0 ? path : 0;
    }
  }
  return map;
}

const voiFractions = new Map<PhantomKind, number>();

/**
 * The path of the exposure index's value of interest as a fraction of the part thickness: the
 * median over the anatomy (path above a tenth of the thickness) inside a centred field covering
 * 86 % of the panel, as the pipeline's segmentation finds it. 1 for trunk, skull and limb, the
 * aerated lung (~0.55) for the chest.
 */
export function voiFraction(kind: PhantomKind): number {
  let fraction = voiFractions.get(kind);
  if (fraction === undefined) {
    const n = 128;
    const map = pathMap(kind, n, n);
    const values: number[] = [];
    const [from, to] = [Math.floor(n * 0.07), Math.ceil(n * 0.93)];
    for (let r = from; r < to; r += 1) for (let c = from; c < to; c += 1) if (map[r * n + c] > 0.1) values.push(map[r * n + c]);
    values.sort((a, b) => a - b);
    fraction = values[Math.floor(values.length / 2)] ?? 1;
    voiFractions.set(kind, fraction);
  }
  return fraction;
}
