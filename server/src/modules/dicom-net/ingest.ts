import { STATUS } from '../../dimse/command.js';
import type { ReceivedObject } from '../../dimse/scp.js';
import { metaHeader } from '../../dicom/part10.js';
import type { ParsedDicom } from '../../dicom/reader.js';
import { nowIso } from '../../util/time.js';
import { nextStudyId } from '../../util/uid.js';
import { parseOrReject, renderParsed, type ImageFilesService } from '../images/service.js';
import type { StudyDetails } from '../studies/dto.js';
import type { StudiesRepository } from '../studies/repository.js';
import type { Executor } from '../users/repository.js';

/** Objects queued for thumbnails behind acknowledgements before a sender is made to wait. */
const MAX_WAITING_BYTES = 256 * 1024 * 1024;

async function retryOnce<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch {
    return work();
  }
}

const str = (p: ParsedDicom, tag: string) => (p.dataSet.string(tag) ?? '').trim();

function dicomDateTime(date: string, time: string): string | undefined {
  const d = /^(\d{4})(\d{2})(\d{2})$/.exec(date);
  if (!d) return undefined;
  const t = /^(\d{2})(\d{2})?(\d{2})?/.exec(time) ?? [];
  const iso = `${d[1]}-${d[2]}-${d[3]}T${t[1] ?? '00'}:${t[2] ?? '00'}:${t[3] ?? '00'}Z`;
  return Number.isNaN(Date.parse(iso)) ? undefined : new Date(iso).toISOString();
}

/**
 * What our SCP receives becomes part of the archive: the object in the blob store, patient,
 * study, series and image in the index (so both faces show it), a thumbnail when it is an image.
 * Blobs first, then one transaction; a failed transaction removes the new blobs.
 */
export class IngestService {
  constructor(private readonly files: ImageFilesService, private readonly studies: StudiesRepository, private readonly defaultProduct: string) {}

  async ingest(o: ReceivedObject): Promise<{ status: number; comment?: string }> {
    const file = Buffer.concat([metaHeader({ ...o, sourceAet: o.callingAet }), ...o.dataset]);
    let parsed: ParsedDicom;
    try {
      parsed = parseOrReject(file);
    } catch (error) {
      return { status: STATUS.CANNOT_UNDERSTAND, comment: (error as Error).message.slice(0, 64) };
    }
    if (parsed.meta.sopInstanceUid !== o.sopInstanceUid || !parsed.meta.studyInstanceUid || !parsed.meta.seriesInstanceUid) {
      return { status: STATUS.CANNOT_UNDERSTAND, comment: 'SOP Instance, Study or Series UID missing or not the command\'s' };
    }
    const dcmName = `${o.sopInstanceUid}.dcm`;
    let indexed: { studyPk: number; imagePk: number };
    try {
      const info = await this.files.blobs.put(`dicom/${dcmName}`, file);
      try {
        // Two associations may bring the first objects of one study at once: the loser of the
        // unique-UID race finds the winner's rows on its second go.
        indexed = await retryOnce(() => this.files.repo.db.transaction().execute(async (trx) => {
          const keys = await this.index(parsed, trx);
          await this.files.repo.register([{
            name: dcmName, kind: 'dicom', role: 'image', blob_key: info.key, content_type: 'application/dicom', size: info.size,
            sha256: info.sha256 ?? '', study_pk: keys.studyPk, image_pk: keys.imagePk, sop_instance_uid: o.sopInstanceUid, created_at: nowIso(),
          }], trx);
          await this.files.repo.setImageFiles(keys.imagePk, { image_file: dcmName, storage_status: 'Saved' }, trx);
          return keys;
        }));
      } catch (error) {
        await this.files.blobs.delete(info.key).catch(() => undefined);
        throw error;
      }
    } catch (error) {
      return { status: STATUS.OUT_OF_RESOURCES, comment: `not stored: ${(error as Error).message}`.slice(0, 64) };
    }
    await this.thumbnailLater(parsed, indexed);
    return { status: STATUS.SUCCESS };
  }

  private thumbnails: Promise<void> = Promise.resolve();
  /** Bytes of received objects held for thumbnails not made yet. */
  private waitingBytes = 0;

  /**
   * The thumbnail is made after the acknowledgement (it was ~6 ms of a ~13 ms small-object
   * ingest here); with more than MAX_WAITING_BYTES of objects behind, the sender waits for it
   * instead, so a fast modality cannot pile up frames in memory. An object that never gets one (a restart in
   * between) still previews: thumbnail_file stays empty and clients ask for a preview.
   */
  private async thumbnailLater(parsed: ParsedDicom, keys: { studyPk: number; imagePk: number }): Promise<void> {
    const bytes = parsed.dataSet.byteArray.length;
    const job = this.thumbnails.then(() => this.thumbnail(parsed, keys)).catch(() => undefined);
    this.thumbnails = job;
    this.waitingBytes += bytes;
    void job.finally(() => { this.waitingBytes -= bytes; });
    if (this.waitingBytes > MAX_WAITING_BYTES) await job;
  }

  private async thumbnail(parsed: ParsedDicom, keys: { studyPk: number; imagePk: number }): Promise<void> {
    const rendered = await renderParsed(parsed, { size: 'thumbnail', format: 'webp' }).catch(() => undefined);
    if (!rendered) return; // not an image (a report, a key object) or one we cannot decode
    const name = `${parsed.meta.sopInstanceUid}.webp`;
    const info = await this.files.blobs.put(`thumbnail/${name}`, rendered.data);
    const registered = await this.files.repo.db.transaction().execute(async (trx) => {
      if (!(await trx.selectFrom('images').select('id').where('id', '=', keys.imagePk).executeTakeFirst())) return false;
      await this.files.repo.register([{
        name, kind: 'thumbnail', role: 'image', blob_key: info.key, content_type: 'image/webp', size: info.size, sha256: info.sha256 ?? '',
        study_pk: keys.studyPk, image_pk: keys.imagePk, sop_instance_uid: null, created_at: nowIso(),
      }], trx);
      await this.files.repo.setImageFiles(keys.imagePk, { thumbnail_file: name }, trx);
      return true;
    });
    if (!registered) await this.files.blobs.delete(info.key).catch(() => undefined);
  }

  /** Waits for the thumbnails still being made (shutdown, tests). */
  async drain(): Promise<void> {
    await this.thumbnails;
  }

  /** Finds or creates patient, study, series and image for the object; returns the study's and image's keys. */
  private async index(p: ParsedDicom, trx: Executor): Promise<{ studyPk: number; imagePk: number }> {
    const now = nowIso();
    const existingImage = await this.studies.image(p.meta.sopInstanceUid, trx);
    if (existingImage) return { studyPk: existingImage.study_pk, imagePk: existingImage.id };
    const species = str(p, 'x00102201');
    const product = species ? 'VETDROS' : this.defaultProduct;
    let study = await trx.selectFrom('studies').selectAll().where('study_instance_uid', '=', p.meta.studyInstanceUid).executeTakeFirst();
    if (!study) {
      const patientId = str(p, 'x00100020') || `UNKNOWN-${p.meta.studyInstanceUid.slice(-12)}`;
      const patientName = str(p, 'x00100010');
      const dob = dicomDateTime(str(p, 'x00100030'), '') ?? null;
      let patient = await this.studies.patient(patientId, trx);
      const patientPk = patient?.id ?? await this.studies.insertPatient({
        patient_id: patientId, name: patientName, english_name: '', former_name: '', sex: str(p, 'x00100040'), birth_date: dob,
        patient_type: species ? species.replace(/^\w/, (c) => c.toUpperCase()) : 'Human', sex_neutered: str(p, 'x00102203'),
        owner_name: str(p, 'x00102297'), chip_number: '', variety: str(p, 'x00102292'), product, created_at: now, updated_at: now,
      }, trx);
      patient ??= await this.studies.patient(patientId, trx);
      const details: StudyDetails = {
        ref_physician: str(p, 'x00080090'), patient_english_name: '', patient_former_name: '', patient_size: 'Medium', patient_age: str(p, 'x00101010'),
        patient_dob: dob ?? '', patient_sex: str(p, 'x00100040'), sex_neutered: str(p, 'x00102203'), pregnancy_status: '',
        patient_type: patient?.patient_type ?? 'Human', owner_name: str(p, 'x00102297'), chip_number: '', variety: str(p, 'x00102292'),
        is_anaesthesia: false, is_sedation: false, operator_name: str(p, 'x00081070'), weight: Number(str(p, 'x00101030')) || 0,
        thickness: 0, length: 0, comment: str(p, 'x00081030'), mwl: '', is_edited: false, portrait_status: '', portrait_file: '', registered_by: 0,
      };
      let studyId = nextStudyId();
      while (await this.studies.studyIdTaken(studyId, trx)) studyId = nextStudyId(studyId);
      const started = dicomDateTime(str(p, 'x00080020'), str(p, 'x00080030')) ?? now;
      await this.studies.insertStudy({
        study_id: studyId, study_instance_uid: p.meta.studyInstanceUid, patient_pk: patientPk, product, accession_number: str(p, 'x00080050'),
        patient_id: patientId, patient_name: patientName, study_status: 'Completed', study_lock: 'Unlocked', study_type: 'Normal',
        study_start_datetime: started, study_end_datetime: started, create_time: now, updated_at: now, deleted_at: null, deleted_by: null,
        details: JSON.stringify(details),
      }, trx);
      study = await trx.selectFrom('studies').selectAll().where('study_instance_uid', '=', p.meta.studyInstanceUid).executeTakeFirstOrThrow();
    }
    // Received series and images keep the sender's numbering as their order.
    const sorts = { series: Number(str(p, 'x00200011')) || 1, image: Number(str(p, 'x00200013')) || 1 };
    const series = await trx.selectFrom('series').selectAll().where('series_instance_uid', '=', p.meta.seriesInstanceUid).executeTakeFirst();
    const seriesPk = series?.id ?? await this.studies.insertSeries({
      series_instance_uid: p.meta.seriesInstanceUid, study_pk: study.id, procedure_id: '', body_part: str(p, 'x00180015'),
      performed_datetime: dicomDateTime(str(p, 'x00080021'), str(p, 'x00080031')) ?? null, protocol_code_meaning: str(p, 'x0008103e'),
      sort: sorts.series, product: study.product,
    }, trx);
    const imagePk = await this.studies.insertImage({
      sop_instance_uid: p.meta.sopInstanceUid, series_pk: seriesPk, study_pk: study.id, view_id: '',
      view_description: (str(p, 'x0008103e') || str(p, 'x00185101')).slice(0, 64), secondary_sop_uid: '', image_file_path: '',
      acquisition_mode: p.meta.modality || 'OT', expose_status: 'Exposed', judged_status: 'NotJudged', send_status: 'Unsent',
      export_status: 'NotExported', storage_status: 'NotSaved', acquisition_context: null, img_proc_context: null,
      sort: sorts.image, product: study.product, created_at: now,
    }, trx);
    return { studyPk: study.id, imagePk };
  }
}
