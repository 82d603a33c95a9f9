import { STATUS } from '../../dimse/command.js';
import type { ReceivedObject } from '../../dimse/scp.js';
import { IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION } from '../../dimse/pdu.js';
import type { ParsedDicom } from '../../dicom/reader.js';
import { nowIso } from '../../util/time.js';
import { nextStudyId } from '../../util/uid.js';
import { parseOrReject, renderParsed, type ImageFilesService } from '../images/service.js';
import type { StudyDetails } from '../studies/dto.js';
import type { StudiesRepository } from '../studies/repository.js';
import type { Executor } from '../users/repository.js';

/** Group 0002 for a received dataset, so it is kept as a Part 10 file (PS3.10 §7.1). */
export function metaHeader(o: { sopClassUid: string; sopInstanceUid: string; transferSyntax: string; sourceAet: string }): Buffer {
  const element = (elementNo: number, vr: string, value: Buffer) => {
    const header = Buffer.alloc(vr === 'OB' ? 12 : 8);
    header.writeUInt16LE(0x0002, 0);
    header.writeUInt16LE(elementNo, 2);
    header.write(vr, 4, 'latin1');
    if (vr === 'OB') header.writeUInt32LE(value.length, 8);
    else header.writeUInt16LE(value.length, 6);
    return Buffer.concat([header, value]);
  };
  const text = (s: string, pad: string) => Buffer.from(s.length % 2 ? s + pad : s, 'latin1');
  const body = Buffer.concat([
    element(0x0001, 'OB', Buffer.from([0, 1])),
    element(0x0002, 'UI', text(o.sopClassUid, '\0')),
    element(0x0003, 'UI', text(o.sopInstanceUid, '\0')),
    element(0x0010, 'UI', text(o.transferSyntax, '\0')),
    element(0x0012, 'UI', text(IMPLEMENTATION_CLASS_UID, '\0')),
    element(0x0013, 'SH', text(IMPLEMENTATION_VERSION, ' ')),
    ...(o.sourceAet ? [element(0x0016, 'AE', text(o.sourceAet, ' '))] : []),
  ]);
  const length = element(0x0000, 'UL', Buffer.alloc(4));
  length.writeUInt32LE(body.length, 8);
  const preamble = Buffer.alloc(132);
  preamble.write('DICM', 128, 'latin1');
  return Buffer.concat([preamble, length, body]);
}

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
    const thumbnail = await renderParsed(parsed, { size: 'thumbnail', format: 'webp' }).then((r) => r.data, () => undefined);
    const dcmName = `${o.sopInstanceUid}.dcm`;
    const webpName = `${o.sopInstanceUid}.webp`;
    const written: string[] = [];
    try {
      const infos = await Promise.all([
        this.files.blobs.put(`dicom/${dcmName}`, file).then((i) => { written.push(i.key); return i; }),
        thumbnail ? this.files.blobs.put(`thumbnail/${webpName}`, thumbnail).then((i) => { written.push(i.key); return i; }) : undefined,
      ]);
      // Two associations may bring the first objects of one study at once: the loser of the
      // unique-UID race finds the winner's rows on its second go.
      await retryOnce(() => this.files.repo.db.transaction().execute(async (trx) => {
        const { studyPk, imagePk } = await this.index(parsed, trx);
        const now = nowIso();
        await this.files.repo.register([
          { name: dcmName, kind: 'dicom', role: 'image', blob_key: `dicom/${dcmName}`, content_type: 'application/dicom', size: infos[0].size, sha256: infos[0].sha256 ?? '', study_pk: studyPk, image_pk: imagePk, sop_instance_uid: o.sopInstanceUid, created_at: now },
          ...(infos[1] ? [{ name: webpName, kind: 'thumbnail' as const, role: 'image' as const, blob_key: `thumbnail/${webpName}`, content_type: 'image/webp', size: infos[1].size, sha256: infos[1].sha256 ?? '', study_pk: studyPk, image_pk: imagePk, sop_instance_uid: null, created_at: now }] : []),
        ], trx);
        await this.files.repo.setImageFiles(imagePk, { image_file: dcmName, thumbnail_file: infos[1] ? webpName : '', storage_status: 'Saved' }, trx);
      }));
    } catch (error) {
      for (const key of written) await this.files.blobs.delete(key).catch(() => undefined);
      return { status: STATUS.OUT_OF_RESOURCES, comment: `not stored: ${(error as Error).message}`.slice(0, 64) };
    }
    return { status: STATUS.SUCCESS };
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
    const sorts = await this.studies.nextSorts(study.id, trx);
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
