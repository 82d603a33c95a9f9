/**
 * Synthetic anatomy for the detector simulator: attenuation (μ·t at 70 kV, dimensionless) as a
 * function of position, built from ellipses, so each pixel costs a few multiplications. Four
 * families cover the library's body parts: chest (lungs, mediastinum, spine, ribs), trunk
 * (abdomen, pelvis, spine), skull and limb.
 */
export type PhantomKind = 'chest' | 'trunk' | 'skull' | 'limb';

interface Ellipse {
  cx: number;
  cy: number;
  rx: number;
  ry: number;
  /** μ·t added at the centre; falls off towards the rim as a chord through an ellipsoid does. */
  mu: number;
}

const PARTS: Record<PhantomKind, Ellipse[]> = {
  // Coordinates in units of the image (0–1). Lungs subtract: air replaces soft tissue.
  chest: [
    { cx: 0.5, cy: 0.52, rx: 0.4, ry: 0.42, mu: 4.5 },
    { cx: 0.33, cy: 0.45, rx: 0.13, ry: 0.27, mu: -2.0 },
    { cx: 0.67, cy: 0.45, rx: 0.13, ry: 0.27, mu: -2.0 },
    { cx: 0.5, cy: 0.55, rx: 0.035, ry: 0.45, mu: 1.4 },
    { cx: 0.47, cy: 0.62, rx: 0.1, ry: 0.1, mu: 0.6 },
  ],
  trunk: [
    { cx: 0.5, cy: 0.5, rx: 0.36, ry: 0.46, mu: 4.2 },
    { cx: 0.5, cy: 0.5, rx: 0.04, ry: 0.48, mu: 1.6 },
    { cx: 0.36, cy: 0.78, rx: 0.1, ry: 0.06, mu: 1.0 },
    { cx: 0.64, cy: 0.78, rx: 0.1, ry: 0.06, mu: 1.0 },
  ],
  skull: [
    { cx: 0.5, cy: 0.5, rx: 0.33, ry: 0.4, mu: 2.2 },
    { cx: 0.5, cy: 0.5, rx: 0.29, ry: 0.36, mu: -0.9 },
    { cx: 0.5, cy: 0.66, rx: 0.12, ry: 0.05, mu: 0.8 },
  ],
  limb: [
    { cx: 0.5, cy: 0.5, rx: 0.17, ry: 0.48, mu: 1.3 },
    { cx: 0.5, cy: 0.5, rx: 0.05, ry: 0.47, mu: 1.5 },
  ],
};

const KIND_OF_PART: [RegExp, PhantomKind][] = [
  [/CHEST|THORAX|LUNG|RIB|STERN/i, 'chest'],
  [/SKULL|HEAD|FACE|SINUS|MANDIBLE|NASAL|ORBIT|TMJ|DENT/i, 'skull'],
  [
    /HAND|FOOT|FINGER|TOE|WRIST|ANKLE|ELBOW|KNEE|ARM|LEG|FEMUR|TIBIA|HUMERUS|FOREARM|CARPUS|TARSUS|LIMB|SHOULDER|CLAVICLE|HEEL|CALCANEUS|PAW|STIFLE/i,
    'limb',
  ],
];

export function phantomKindOf(bodyPart: string): PhantomKind {
  return KIND_OF_PART.find(([pattern]) => pattern.test(bodyPart))?.[1] ?? 'trunk';
}

/** Ribs for the chest: thin bands of extra attenuation inside the thorax. */
function ribs(y: number, x: number): number {
  const inThorax = (x - 0.5) ** 2 / 0.16 + (y - 0.47) ** 2 / 0.09 < 1;
  if (!inThorax) return 0;
  const phase = (y * 11 + Math.abs(x - 0.5) * 2.2) % 1;
  return phase < 0.18 ? 0.35 : 0;
}

/**
 * μ·t per pixel for a `rows × columns` detector, at 70 kV. Returned as Float32Array; the
 * simulator scales it for the beam's kV.
 */
export function attenuationMap(kind: PhantomKind, rows: number, columns: number): Float32Array {
  const map = new Float32Array(rows * columns);
  const parts = PARTS[kind];
  for (let r = 0; r < rows; r += 1) {
    const y = (r + 0.5) / rows;
    for (let c = 0; c < columns; c += 1) {
      const x = (c + 0.5) / columns;
      let mu = 0;
      for (const e of parts) {
        const d = ((x - e.cx) / e.rx) ** 2 + ((y - e.cy) / e.ry) ** 2;
        if (d < 1) mu += e.mu * Math.sqrt(1 - d);
      }
      if (kind === 'chest' && mu > 0) mu += ribs(y, x);
      map[r * columns + c] = mu > 0 ? mu : 0;
    }
  }
  return map;
}
