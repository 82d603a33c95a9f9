import type { AuthUser } from '../auth/auth-user.js';
import type { Language } from '../../util/client.js';
import { AppError, validationError, type FieldError } from '../../util/errors.js';
import { nowIso, toStoredInstant } from '../../util/time.js';
import { generateUid, nextStudyId } from '../../util/uid.js';
import type { BlobStore } from '../../storage/blob-store.js';
import type { Executor } from '../../db/index.js';
import { imageRow } from '../archive/rows.js';
import type { ProtocolRepository, ViewRow } from '../protocols/repository.js';
import { parseDetails, seriesBody, studyBody, type StudyDetails, type ViewRegions } from './dto.js';
import type { ImageRow, StudiesRepository, StudyRow } from './repository.js';
import type { CreateStudy, StudyListQueryType, UpdateStudy, ViewRefType } from './schemas.js';

const STATUSES = ['Arrived', 'InProgress', 'Completed'];
const flag = (v: boolean | 'true' | 'false' | undefined) => v === true || v === 'true';

interface ResolvedView {
  view: ViewRow;
  procedureId: string;
  procedureName: string;
}

export class StudiesService {
  constructor(
    private readonly repo: StudiesRepository,
    private readonly protocols: ProtocolRepository,
    private readonly uidRoot: string | undefined,
    private readonly blobs: BlobStore,
  ) {}

  /**
   * Without study:read/write a caller (the guest) may touch only the emergency studies its own
   * session registered. Each guest token is a session of its own; another session's study is
   * answered as not found, so a guessable study id reveals nothing.
   */
  assertAccess(user: AuthUser, study: StudyRow, write: boolean): void {
    if (user.permissions.has(write ? 'study:write' : 'study:read')) return;
    if (
      user.permissions.has('study:emergency') &&
      study.study_type === 'Emergency' &&
      study.created_session_id !== null &&
      study.created_session_id === user.sessionId
    )
      return;
    if (user.isGuest) throw new AppError('STUDY_NOT_FOUND', [], study.study_id);
    throw new AppError('GUEST_SCOPE');
  }

  async requireStudy(studyId: string, user: AuthUser, write: boolean, inBin = false): Promise<StudyRow> {
    const study = await this.repo.study(studyId, inBin);
    if (!study) throw new AppError(inBin ? 'STUDY_NOT_IN_BIN' : 'STUDY_NOT_FOUND', [], studyId);
    this.assertAccess(user, study, write);
    if (write && study.study_lock === 'Locked') throw new AppError('STUDY_LOCKED', [], studyId);
    return study;
  }

  /** Checks each requested view against the product, the patient type and its procedure. */
  private async resolveViews(product: string, patientType: string, refs: ViewRefType[], language: Language): Promise<ResolvedView[]> {
    const problems: FieldError[] = [];
    const resolved: ResolvedView[] = [];
    for (const [index, ref] of refs.entries()) {
      const view = await this.protocols.view(product, ref.view_id);
      if (!view || view.patient_type !== patientType) {
        problems.push({ field: `views.${index}.view_id`, message: `no ${patientType} view ${ref.view_id} in ${product}` });
        continue;
      }
      const procedureId = ref.procedure_id ?? '';
      let procedureName = '';
      if (procedureId) {
        const procedure = await this.protocols.procedure(product, procedureId);
        const members = procedure ? await this.protocols.viewsOfProcedure(product, procedureId) : [];
        if (!procedure || !members.some((m) => m.view_id === view.view_id)) {
          problems.push({ field: `views.${index}.procedure_id`, message: `view ${ref.view_id} is not part of procedure ${procedureId}` });
          continue;
        }
        procedureName = language === 'zh_CN' ? procedure.name_zh : procedure.name_en;
      }
      resolved.push({ view, procedureId, procedureName });
    }
    if (problems.length > 0) throw new AppError('VIEW_NOT_ALLOWED', problems);
    return resolved;
  }

  /** One series per procedure (in request order); a view chosen without a procedure gets its own series. */
  private async addSeries(study: StudyRow, views: ResolvedView[], language: Language, trx: Executor): Promise<number[]> {
    const groups: ResolvedView[][] = [];
    const byProcedure = new Map<string, ResolvedView[]>();
    for (const v of views) {
      const existing = v.procedureId ? byProcedure.get(v.procedureId) : undefined;
      if (existing) existing.push(v);
      else {
        const group = [v];
        groups.push(group);
        if (v.procedureId) byProcedure.set(v.procedureId, group);
      }
    }
    let { series: seriesSort, image: imageSort } = await this.repo.nextSorts(study.id, trx);
    const created: number[] = [];
    const now = nowIso();
    for (const group of groups) {
      const seriesPk = await this.repo.insertSeries(
        {
          series_instance_uid: generateUid(this.uidRoot),
          study_pk: study.id,
          procedure_id: group[0].procedureId,
          body_part: group[0].view.body_part_id,
          performed_datetime: null,
          protocol_code_meaning: group[0].procedureName,
          sort: seriesSort++,
          product: study.product,
        },
        trx,
      );
      created.push(seriesPk);
      for (const { view } of group) {
        await this.repo.insertImage(
          imageRow({
            sopInstanceUid: generateUid(this.uidRoot),
            seriesPk,
            studyPk: study.id,
            viewId: view.view_id,
            viewDescription: language === 'zh_CN' ? view.name_zh : view.name_en,
            acquisitionMode: 'RAD',
            sort: imageSort++,
            product: study.product,
            createdAt: now,
          }),
          trx,
        );
      }
    }
    return created;
  }

  private checkSpeciesFields(body: { sex_neutered?: string; pregnancy_status?: string }, isHuman: boolean): void {
    if (isHuman && body.sex_neutered) throw validationError('sex_neutered', 'only for animal patients');
    if (!isHuman && body.pregnancy_status) throw validationError('pregnancy_status', 'only for human patients');
  }

  /** `origin`: a study taken from the RIS worklist keeps the RIS's Study Instance UID and records the item. */
  async register(
    body: CreateStudy,
    user: AuthUser,
    product: string,
    language: Language,
    origin?: { studyInstanceUid: string; mwl: string },
  ) {
    if (body.study_type !== 'Emergency' && !user.permissions.has('study:write')) throw new AppError('GUEST_SCOPE');
    const patientTypes = await this.protocols.patientTypes(product, true);
    if (!patientTypes.some((p) => p.patient_type_id === body.patient_type)) {
      throw validationError('patient_type', `one of ${patientTypes.map((p) => p.patient_type_id).join(', ')} for ${product}`);
    }
    this.checkSpeciesFields(body, body.patient_type === 'Human');
    const dob = toStoredInstant(body.patient_dob);
    if (!dob) throw validationError('patient_dob', 'must be an RFC 3339 time');
    const views = await this.resolveViews(product, body.patient_type, body.views, language);
    const studyId = await this.repo.transaction(async (trx) => {
      const patientPk = await this.upsertPatient(body, product, dob, trx);
      let id = nextStudyId();
      while (await this.repo.studyIdTaken(id, trx)) id = nextStudyId(id);
      const now = nowIso();
      const details: StudyDetails = {
        ...this.detailsFrom(body, dob),
        patient_type: body.patient_type,
        mwl: origin?.mwl ?? '',
        is_edited: false,
        portrait_status: 'NotSaved',
        portrait_file: '',
        registered_by: user.id,
      };
      const pk = await this.repo.insertStudy(
        {
          study_id: id,
          study_instance_uid: origin?.studyInstanceUid ?? generateUid(this.uidRoot),
          patient_pk: patientPk,
          product,
          accession_number: body.accession_number,
          patient_id: body.patient_id,
          patient_name: body.patient_name,
          study_status: 'Arrived',
          study_lock: 'Unlocked',
          study_type: body.study_type,
          study_start_datetime: now,
          study_end_datetime: null,
          create_time: now,
          updated_at: now,
          deleted_at: null,
          deleted_by: null,
          details: JSON.stringify(details),
          created_session_id: user.sessionId,
        },
        trx,
      );
      await this.addSeries(await this.repo.studyByPk(pk, trx), views, language, trx);
      return id;
    });
    return this.detail(studyId, user);
  }

  private detailsFrom(body: CreateStudy | UpdateStudy, dob: string) {
    return {
      ref_physician: body.ref_physician ?? '',
      patient_english_name: body.patient_english_name ?? '',
      patient_former_name: body.patient_former_name ?? '',
      patient_size: body.patient_size,
      patient_age: body.patient_age,
      patient_dob: dob,
      patient_sex: body.patient_sex ?? '',
      sex_neutered: body.sex_neutered ?? '',
      pregnancy_status: body.pregnancy_status ?? '',
      owner_name: body.owner_name ?? '',
      chip_number: body.chip_number ?? '',
      variety: body.variety ?? '',
      is_anaesthesia: flag(body.is_anaesthesia),
      is_sedation: flag(body.is_sedation),
      operator_name: body.operator_id ?? '',
      weight: body.weight ?? 0,
      thickness: body.thickness ?? 0,
      length: body.length ?? 0,
      comment: body.comment ?? '',
    };
  }

  /** Patients are one record per patient id, shared with the diagnosis face; registration keeps it current. */
  private async upsertPatient(
    body: CreateStudy | (UpdateStudy & { patient_type: string }),
    product: string,
    dob: string,
    trx: Executor,
  ): Promise<number> {
    const existing = await this.repo.patient(body.patient_id, trx);
    const now = nowIso();
    const values = {
      name: body.patient_name,
      english_name: body.patient_english_name ?? '',
      former_name: body.patient_former_name ?? '',
      sex: body.patient_sex ?? '',
      birth_date: dob,
      sex_neutered: body.sex_neutered ?? '',
      owner_name: body.owner_name ?? '',
      chip_number: body.chip_number ?? '',
      variety: body.variety ?? '',
      updated_at: now,
    };
    if (!existing) {
      return this.repo.insertPatient(
        { ...values, patient_id: body.patient_id, patient_type: body.patient_type, product, created_at: now },
        trx,
      );
    }
    if (existing.patient_type !== body.patient_type) {
      throw new AppError('PATIENT_CONFLICT', [{ field: 'patient_id', message: `${body.patient_id} is a ${existing.patient_type}` }]);
    }
    await this.repo.updatePatient(existing.id, values, trx);
    return existing.id;
  }

  async update(studyId: string, body: UpdateStudy, user: AuthUser) {
    const study = await this.requireStudy(studyId, user, true);
    const current = parseDetails(study);
    this.checkSpeciesFields(body, current.patient_type === 'Human');
    const dob = toStoredInstant(body.patient_dob);
    if (!dob) throw validationError('patient_dob', 'must be an RFC 3339 time');
    await this.repo.transaction(async (trx) => {
      const patientPk = await this.upsertPatient({ ...body, patient_type: current.patient_type }, study.product, dob, trx);
      const details: StudyDetails = { ...current, ...this.detailsFrom(body, dob), is_edited: true };
      await this.repo.updateStudy(
        study.id,
        {
          patient_pk: patientPk,
          accession_number: body.accession_number,
          patient_id: body.patient_id,
          patient_name: body.patient_name,
          details: JSON.stringify(details),
          updated_at: nowIso(),
        },
        trx,
      );
    });
    return this.detail(studyId, user);
  }

  /** A live or binned study by its Study Instance UID. */
  async studyByInstanceUid(uid: string): Promise<StudyRow | undefined> {
    return this.repo.studyByInstanceUid(uid);
  }

  async lock(studyId: string, lock: 'Locked' | 'Unlocked', user: AuthUser): Promise<void> {
    const study = await this.requireStudy(studyId, user, false);
    this.assertAccess(user, study, true);
    await this.repo.updateStudy(study.id, { study_lock: lock, updated_at: nowIso() });
  }

  async detail(studyId: string, user: AuthUser, inBin = false) {
    const study = await this.requireStudy(studyId, user, false, inBin);
    const [series, images] = await Promise.all([this.repo.seriesOf([study.id]), this.repo.imagesOf([study.id])]);
    return studyBody(study, series, images, await this.viewRegions(study.product, images));
  }

  /** The anatomic region of each view the images name (the study reply shows it per image). */
  private async viewRegions(product: string, images: ImageRow[]): Promise<ViewRegions> {
    const ids = [...new Set(images.map((i) => i.view_id).filter(Boolean))];
    const views = await Promise.all(ids.map((id) => this.protocols.view(product, id)));
    return new Map(views.flatMap((v) => (v ? [[v.view_id, v.anatomic_region] as const] : [])));
  }

  async stat(studyId: string, user: AuthUser) {
    const study = await this.requireStudy(studyId, user, false);
    return await this.repo.stat(study.id);
  }

  async list(q: StudyListQueryType, inBin: boolean) {
    const statuses = q.status
      ? q.status
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean)
      : undefined;
    const bad = statuses?.filter((s) => !STATUSES.includes(s)) ?? [];
    if (bad.length > 0) throw validationError('status', `unknown status ${bad.join(', ')}; use ${STATUSES.join(', ')}`);
    const from = q.start_time === undefined ? undefined : toStoredInstant(q.start_time);
    const to = q.end_time === undefined ? undefined : toStoredInstant(q.end_time);
    if (q.start_time !== undefined && !from) throw validationError('start_time', 'must be RFC 3339, e.g. 2025-06-19T00:00:00.000+08:00');
    if (q.end_time !== undefined && !to) throw validationError('end_time', 'must be RFC 3339, e.g. 2025-06-19T23:59:59.999+08:00');
    const size = q.page_size ?? 10;
    const { rows, count } = await this.repo.list({
      id: q.id,
      name: q.name,
      accession: q.acc_no,
      from,
      to,
      statuses,
      inBin,
      limit: size,
      offset: ((q.page ?? 1) - 1) * size,
    });
    return { count, studies: rows.map((r) => studyBody(r, [], [])) };
  }

  /** Moves studies to the recycle bin. Locked ones stay and are reported; the rest move in one transaction. */
  async moveToBin(studyIds: string[], user: AuthUser): Promise<{ moved: string[]; refused: FieldError[] }> {
    const unique = [...new Set(studyIds)];
    const rows = (await this.repo.studies(unique)).filter((r) => r.deleted_at === null);
    const refused: FieldError[] = [];
    for (const id of unique) {
      const row = rows.find((r) => r.study_id === id);
      if (!row) refused.push({ field: id, message: 'not found' });
      else if (row.study_lock === 'Locked') refused.push({ field: id, message: 'locked' });
    }
    const movable = rows.filter((r) => r.study_lock !== 'Locked');
    await this.repo.transaction((trx) =>
      this.repo.moveToBin(
        movable.map((r) => r.id),
        user.id,
        nowIso(),
        trx,
      ),
    );
    return { moved: movable.map((r) => r.study_id), refused };
  }

  async addImages(studyId: string, refs: ViewRefType[], user: AuthUser, language: Language) {
    const study = await this.requireStudy(studyId, user, true);
    const views = await this.resolveViews(study.product, parseDetails(study).patient_type, refs, language);
    const created = await this.repo.transaction((trx) => this.addSeries(study, views, language, trx));
    return this.seriesReply(study, created);
  }

  private async seriesReply(study: StudyRow, seriesPks: number[], onlyImagePk?: number) {
    const [series, images] = await Promise.all([this.repo.seriesOf([study.id]), this.repo.imagesOf([study.id])]);
    const shown = images.filter((i) => onlyImagePk === undefined || i.id === onlyImagePk);
    const regions = await this.viewRegions(study.product, shown);
    return {
      series: series.filter((s) => seriesPks.includes(s.id)).map((s) => seriesBody(s, study, shown, regions)),
    };
  }

  private async requireImage(uid: string, user: AuthUser) {
    const image = await this.repo.image(uid);
    if (!image) throw new AppError('IMAGE_NOT_FOUND', [], uid);
    const study = await this.repo.studyByPk(image.study_pk);
    if (study.deleted_at !== null) throw new AppError('IMAGE_NOT_FOUND', [], uid);
    this.assertAccess(user, study, true);
    if (study.study_lock === 'Locked') throw new AppError('STUDY_LOCKED', [], study.study_id);
    return { image, study };
  }

  /** A new unexposed image of the same view, in the same series, placed last. */
  async copyImage(uid: string, user: AuthUser) {
    const { image, study } = await this.requireImage(uid, user);
    const pk = await this.repo.transaction(async (trx) => {
      const { image: sort } = await this.repo.nextSorts(study.id, trx);
      return this.repo.insertImage(
        imageRow({
          sopInstanceUid: generateUid(this.uidRoot),
          seriesPk: image.series_pk,
          studyPk: study.id,
          viewId: image.view_id,
          viewDescription: image.view_description,
          acquisitionMode: image.acquisition_mode,
          sort,
          product: image.product,
          createdAt: nowIso(),
        }),
        trx,
      );
    });
    return this.seriesReply(study, [image.series_pk], pk);
  }

  async sortImages(studyId: string, uids: string[], user: AuthUser): Promise<void> {
    const study = await this.requireStudy(studyId, user, true);
    const images = await this.repo.imagesOf([study.id]);
    const wanted = new Set(uids);
    if (wanted.size !== uids.length || wanted.size !== images.length || images.some((i) => !wanted.has(i.sop_instance_uid))) {
      throw new AppError('SORT_MISMATCH', [{ field: 'sop_instance_uids', message: `the study has ${images.length} images` }]);
    }
    await this.repo.transaction(async (trx) => {
      for (const [index, uid] of uids.entries()) await this.repo.setImageSort(uid, index + 1, trx);
    });
  }

  async deleteImage(uid: string, user: AuthUser): Promise<void> {
    const { image } = await this.requireImage(uid, user);
    if (image.expose_status === 'Exposed' && image.judged_status !== 'Reject') throw new AppError('IMAGE_EXPOSED', [], uid);
    const files = await this.repo.transaction((trx) => this.repo.deleteImage(image, trx));
    for (const key of files) await this.blobs.delete(key);
  }
}
