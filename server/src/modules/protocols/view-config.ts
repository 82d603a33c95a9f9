/**
 * Reading a view's APR for an exposure. The library stores three JSON documents per view: the
 * view's own (DX processing and collimator settings), the exposure programme per work station
 * and patient size, and the device settings per work station (SID). Their shape is the protocol
 * library's business (library/build.ts writes them), so it is read here, not in acquisition.
 */

interface ViewDocument {
  DX?: {
    TargetEXI?: number;
    CollimatorShape?: string;
    CollimatorSize?: string;
    PatientOrientationRow?: string;
    PatientOrientationColumn?: string;
  };
}
interface ExposureDocument {
  Common?: { kV?: number; mA?: number; ms?: number; Focus?: number };
}
interface DeviceDocument {
  Common?: { SID?: number; Thickness?: number; GridType?: number };
}

export interface ViewExposureConfig {
  /** The programme the generator is set to; the library's defaults where the APR has none. */
  programme: { kv: number; ma: number; ms: number; focus: 0 | 1 };
  sidMm: number;
  /** The part thickness the programme was charted for (a medium patient), cm; undefined when the APR has none. */
  thicknessCm?: number;
  /** Whether the work station exposes through the grid (GridType other than 0); undefined when the APR does not say. */
  grid?: boolean;
  /** The exposure index the view's images should reach (IEC 62494-1 target EI). */
  targetEi: number;
  /** The light field the view asks for: its shape and, when the APR states it, its size in cm. */
  field: { shape: 'rect' | 'circle'; size?: { widthCm: number; heightCm: number } };
  /** Patient Orientation (0020,0020): row direction, column direction. */
  orientation: [string, string];
}

/**
 * "14IN(35CM)X17IN(43CM)" (the library's and the specification's form; "14IN(35)X17IN(43)" too):
 * width × length, inches for the console, the centimetres in brackets.
 */
const COLLIMATOR_SIZE =
  /^\s*\d+(?:\.\d+)?\s*IN\s*\((\d+(?:\.\d+)?)\s*(?:CM)?\)\s*X\s*\d+(?:\.\d+)?\s*IN\s*\((\d+(?:\.\d+)?)\s*(?:CM)?\)\s*$/i;

/** The three `config_object` texts of a view's APR (the exposure and device rows may be missing). */
export function parseViewExposureConfig(documents: { view: string; exposure?: string; device?: string }): ViewExposureConfig {
  const view = JSON.parse(documents.view) as ViewDocument;
  const exposure = JSON.parse(documents.exposure ?? '{}') as ExposureDocument;
  const device = JSON.parse(documents.device ?? '{}') as DeviceDocument;
  const p = exposure.Common ?? {};
  const cm = COLLIMATOR_SIZE.exec(view.DX?.CollimatorSize ?? '');
  return {
    programme: { kv: p.kV ?? 70, ma: p.mA ?? 200, ms: p.ms ?? 50, focus: p.Focus === 0 ? 0 : 1 },
    sidMm: (device.Common?.SID ?? 100) * 10,
    ...(device.Common?.Thickness && device.Common.Thickness > 0 ? { thicknessCm: device.Common.Thickness } : {}),
    ...(device.Common?.GridType !== undefined ? { grid: device.Common.GridType !== 0 } : {}),
    targetEi: view.DX?.TargetEXI ?? 300,
    field: {
      shape: view.DX?.CollimatorShape === 'CIRCULAR' ? 'circle' : 'rect',
      ...(cm ? { size: { widthCm: Number(cm[1]), heightCm: Number(cm[2]) } } : {}),
    },
    orientation: [view.DX?.PatientOrientationRow ?? 'L', view.DX?.PatientOrientationColumn ?? 'F'],
  };
}
