import { identityOf, writeDerivedDx, writeSecondaryCapture, type NewInstance, type Raster } from '../../dicom/derived-writer.js';
import { readPart10, type Dataset } from '../../dicom/part10.js';
import type { AuthUser } from '../auth/auth-user.js';
import { AppError, validationError } from '../../util/errors.js';
import { nowIso } from '../../util/time.js';
import { generateUid } from '../../util/uid.js';
import { dicomName } from '../archive/rows.js';
import { ownObject } from '../archive/service.js';
import { parseDetails } from '../studies/dto.js';
import type { StudiesService } from '../studies/service.js';
import type { ConfigService } from '../system/config-service.js';
import { studyIdentity } from './identity.js';
import type { ExportFolder } from './export-folder.js';
import { decodePng } from './png.js';
import type { ImageFilesService } from './service.js';
import type { Uploader, UploadLimiter } from './upload-limiter.js';

export interface Equipment {
  manufacturer: string;
  model: string;
  stationName: string;
  softwareVersion: string;
}

/** Series numbers that keep derived objects apart from the exposure series (1, 2, …). */
const PORTRAIT_SERIES = 9001;
const POST_PROC_SERIES = 9002;

/** `data:image/png;base64,` prefixes are accepted; anything but base64 is refused before decoding. */
function base64Png(data: string): Buffer {
  const body = data.replace(/^data:image\/png;base64,/, '').replace(/\s+/g, '');
  if (body.length === 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(body)) throw validationError('data', 'must be a base64-encoded PNG');
  return Buffer.from(body, 'base64');
}

/** Keeps DB-sourced names safe as one path component (they are never a client's path). */
const component = (s: string) =>
  s
    .replace(/[^A-Za-z0-9._-]/g, '_')
    .replace(/^\.+/, '_')
    .slice(0, 64) || '_';

/** The study a portrait belongs to: named by its id (with an optional image of it), or by a value that is a study id or an image's SOP Instance UID. */
export type PortraitTarget = { studyId: string; imageUid?: string } | { studyOrImage: string };

/** Objects made on the console from pictures: the emergency portrait, post-processed copies, exports. */
export class DerivedImagesService {
  constructor(
    private readonly files: ImageFilesService,
    private readonly studies: StudiesService,
    private readonly configs: ConfigService,
    private readonly equipment: Equipment,
    private readonly uidRoot: string | undefined,
    private readonly exportFolder: ExportFolder,
    private readonly limiter: UploadLimiter,
  ) {}

  /**
   * Stores an object made from a client's picture within the user's hourly quota (the object and
   * the kept picture count); the reservation is given back when storing fails.
   */
  private async storeWithinQuota<T>(uploader: Uploader, bytes: number, store: () => Promise<T>): Promise<T> {
    const release = await this.limiter.reserve(uploader, bytes);
    try {
      return await store();
    } catch (error) {
      release();
      throw error;
    }
  }

  private fresh(seriesNumber: number, seriesDescription: string): NewInstance {
    return {
      sopInstanceUid: generateUid(this.uidRoot),
      seriesInstanceUid: generateUid(this.uidRoot),
      seriesNumber,
      seriesDescription,
      equipment: this.equipment,
    };
  }

  /** The emergency patient's photograph (PNG, base64) as a Secondary Capture in the study; `address` is the client's. */
  async portrait(target: PortraitTarget, data: string, user: AuthUser, address: string) {
    const uploader = { user, address };
    if ('studyId' in target)
      return this.limiter.withSlot(uploader, () => this.storePortrait(target.studyId, data, target.imageUid, uploader));
    const studyId = await this.studyIdNamedBy(target.studyOrImage);
    return this.limiter.withSlot(uploader, () => this.storePortrait(studyId, data, undefined, uploader));
  }

  /** A study id as given, or the study of the image whose SOP Instance UID was given (unknown: left to requireStudy's 404). */
  private async studyIdNamedBy(value: string): Promise<string> {
    if (await this.files.studiesRepo.study(value, false)) return value;
    const image = await this.files.studiesRepo.image(value);
    return image ? (await this.files.studiesRepo.studyByPk(image.study_pk)).study_id : value;
  }

  private async storePortrait(studyId: string, data: string, instanceUid: string | undefined, uploader: Uploader) {
    const { user } = uploader;
    const study = await this.studies.requireStudy(studyId, user, true);
    if (instanceUid) await this.imageOfStudy(instanceUid, study.id);
    const png = base64Png(data);
    await this.limiter.assertFileSize(png.length);
    const raster = await decodePng(png, await this.limiter.pictureLimits());
    const instance = this.fresh(PORTRAIT_SERIES, 'Patient photograph');
    const dicom = writeSecondaryCapture({
      ...instance,
      identity: studyIdentity(study),
      modality: 'XC',
      conversionType: 'DI',
      burnedInAnnotation: false,
      raster: eightBit(raster),
    });
    const earlier = parseDetails(study).portrait_file;
    const dcm = dicomName(instance.sopInstanceUid);
    await this.storeWithinQuota(uploader, dicom.length + png.length, () =>
      this.files.archive.storeInstance(ownObject(dicom), {
        origin: 'derived',
        role: 'portrait',
        studyPk: study.id,
        capture: png,
        inTransaction: async (trx) => {
          // Re-read inside the transaction so a concurrent edit of the study is not overwritten.
          const current = await this.files.studiesRepo.studyByPk(study.id, trx);
          const details = { ...parseDetails(current), portrait_status: 'Saved', portrait_file: dcm };
          await this.files.studiesRepo.updateStudy(study.id, { details: JSON.stringify(details), updated_at: nowIso() }, trx);
        },
      }),
    );
    if (earlier && earlier !== dcm) await this.dropFiles(earlier.replace(/\.dcm$/, ''));
    return { path: dcm };
  }

  private async imageOfStudy(uid: string, studyPk: number) {
    const image = await this.files.studiesRepo.image(uid);
    if (!image || image.study_pk !== studyPk)
      throw new AppError('IMAGE_NOT_FOUND', [{ field: 'instance_uid', message: 'not an image of this study' }], uid);
    return image;
  }

  /**
   * A post-processed picture of an image: 16-bit grey becomes a derived DX For Presentation with
   * the given window; an 8-bit or colour rendering a derived Secondary Capture. The image's
   * `secondary_sop_uid` names the newest one. `address` is the client's.
   */
  async postProcess(
    input: { instanceUid: string; studyId: string; png: Buffer; window: { center: number; width: number } },
    user: AuthUser,
    address: string,
  ) {
    const uploader = { user, address };
    return this.limiter.withSlot(uploader, () => this.storePostProcessed(input, uploader));
  }

  private async storePostProcessed(
    input: { instanceUid: string; studyId: string; png: Buffer; window: { center: number; width: number } },
    uploader: Uploader,
  ) {
    const { user } = uploader;
    const study = await this.studies.requireStudy(input.studyId, user, true);
    const image = await this.imageOfStudy(input.instanceUid, study.id);
    const original = await this.files.repo.dicomBySopUid(image.sop_instance_uid);
    if (!original || !image.image_file) throw new AppError('IMAGE_NOT_STORED', [], image.sop_instance_uid);
    await this.limiter.assertFileSize(input.png.length);
    const raster = await decodePng(input.png, await this.limiter.pictureLimits());
    const originalBytes = await this.files.blobs.read(original.blob_key);
    const instance = this.fresh(POST_PROC_SERIES, `${image.view_description} (post-processed)`.slice(0, 64));
    const { center, width } = input.window;
    const description = `Post-processed on the console; window ${center}/${width}`;
    const dicom =
      raster.channels === 1 && raster.depth === 16
        ? writeDerivedDx({
            ...instance,
            original: originalBytes,
            raster: { ...raster, channels: 1 },
            window: input.window,
            derivationDescription: description,
          })
        : this.derivedCapture(instance, readPart10(originalBytes), raster, description);
    const { dcm } = await this.storeWithinQuota(uploader, dicom.length + input.png.length, () =>
      this.files.archive.storeInstance(ownObject(dicom), {
        origin: 'derived',
        role: 'post_proc',
        studyPk: study.id,
        imagePk: image.id,
        capture: input.png,
        inTransaction: (trx) => this.files.repo.setSecondary(image.id, instance.sopInstanceUid, trx),
      }),
    );
    return { path: dcm };
  }

  /** An 8-bit or colour rendering as a derived Secondary Capture filed with its source image. */
  private derivedCapture(instance: NewInstance, source: Dataset, raster: Raster, description: string): Buffer {
    return writeSecondaryCapture({
      ...instance,
      identity: identityOf(source),
      modality: 'DX',
      conversionType: 'WSD',
      raster: eightBit(raster),
      burnedInAnnotation: true,
      derivationDescription: description,
      source: { sopClassUid: String(source.SOPClassUID), sopInstanceUid: String(source.SOPInstanceUID) },
    });
  }

  /**
   * "Save as": a copy of the image's DICOM file in the export folder (a USB stick or share the
   * deployment mounts), under <patient id>_<study id>/, inside the export roots (see ExportFolder).
   */
  async saveAs(uid: string, user: AuthUser): Promise<void> {
    const image = await this.files.studiesRepo.image(uid);
    if (!image) throw new AppError('IMAGE_NOT_FOUND', [], uid);
    const study = await this.files.studiesRepo.studyByPk(image.study_pk);
    if (study.deleted_at !== null) throw new AppError('IMAGE_NOT_FOUND', [], uid);
    this.studies.assertAccess(user, study, false);
    const file = await this.files.repo.dicomBySopUid(uid);
    if (!file) throw new AppError('IMAGE_NOT_STORED', [], uid);
    await this.exportFolder.write(
      await this.configs.getString('export.directory'),
      `${component(study.patient_id)}_${component(study.study_id)}`,
      component(file.name),
      await this.files.blobs.read(file.blob_key),
    );
    await this.files.repo.setExported(image.id);
  }

  /** Removes the files of an earlier portrait once the new one is registered. */
  private async dropFiles(uid: string): Promise<void> {
    for (const [name, kind] of [
      [`${uid}.dcm`, 'dicom'],
      [`${uid}.png`, 'capture'],
    ] as const) {
      const row = await this.files.repo.byName(name, kind);
      if (!row) continue;
      await this.files.repo.deleteById(row.id);
      await this.files.blobs.delete(row.blob_key);
    }
  }
}

/** Secondary Capture here is 8-bit: a 16-bit grey picture is scaled down (portraits are photographs). */
function eightBit(raster: Raster): Raster {
  if (raster.depth === 8) return raster;
  const out = new Uint8Array(raster.data.length);
  for (let i = 0; i < out.length; i += 1) out[i] = raster.data[i] >> 8;
  return { ...raster, depth: 8, data: out };
}
