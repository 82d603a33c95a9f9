import type { Insertable } from 'kysely';
import type { Executor } from '../../db/index.js';
import type { ImagesTable, PatientsTable, SeriesTable, StoredFilesTable, StudiesTable } from '../../db/schema.js';
import type { FilesRepository } from '../images/repository.js';
import type { ImageRow, PatientRow, StudiesRepository } from '../studies/repository.js';
import type { ThumbnailTarget } from './thumbnail.js';

export interface ImageFileColumns {
  image_file?: string;
  thumbnail_file?: string;
  storage_status?: string;
}

/** A DICOM file the index holds: where its bytes are and what they hash to. */
export interface StoredDicom {
  blob_key: string;
  sha256: string;
  study_pk: number;
  image_pk: number | null;
}

/**
 * What the archive reads and writes in the index. Writes take the transaction they belong to;
 * tests give the archive an in-memory implementation.
 */
export interface ArchiveRepository {
  transaction<T>(work: (trx: Executor) => Promise<T>): Promise<T>;
  image(sopInstanceUid: string, trx?: Executor): Promise<ImageRow | undefined>;
  imageExists(imagePk: number, trx: Executor): Promise<boolean>;
  studyByInstanceUid(studyInstanceUid: string, trx: Executor): Promise<{ id: number; product: string } | undefined>;
  seriesPkByInstanceUid(seriesInstanceUid: string, trx: Executor): Promise<number | undefined>;
  patient(patientId: string, trx: Executor): Promise<PatientRow | undefined>;
  studyIdTaken(studyId: string, trx: Executor): Promise<boolean>;
  insertPatient(values: Insertable<PatientsTable>, trx: Executor): Promise<number>;
  insertStudy(values: Insertable<StudiesTable>, trx: Executor): Promise<number>;
  insertSeries(values: Insertable<SeriesTable>, trx: Executor): Promise<number>;
  insertImage(values: Insertable<ImagesTable>, trx: Executor): Promise<number>;
  /** The registered DICOM file of this name (`<SOP Instance UID>.dcm`), if any. */
  storedDicom(name: string): Promise<StoredDicom | undefined>;
  /** Replaces any earlier registration of the same names (a re-stored instance keeps its names). */
  registerFiles(files: Insertable<StoredFilesTable>[], trx: Executor): Promise<void>;
  setImageFiles(imagePk: number, values: ImageFileColumns, trx: Executor): Promise<void>;
  imagesWithoutThumbnail(limit: number): Promise<ThumbnailTarget[]>;
}

/** The archive's index in the database: the studies' and files' repositories, one transaction for both. */
export class SqlArchiveRepository implements ArchiveRepository {
  constructor(
    private readonly studies: StudiesRepository,
    private readonly files: FilesRepository,
  ) {}

  transaction<T>(work: (trx: Executor) => Promise<T>): Promise<T> {
    return this.studies.transaction(work);
  }

  image(sopInstanceUid: string, trx?: Executor) {
    return this.studies.image(sopInstanceUid, trx);
  }

  imageExists(imagePk: number, trx: Executor) {
    return this.studies.imageExists(imagePk, trx);
  }

  studyByInstanceUid(studyInstanceUid: string, trx: Executor) {
    return this.studies.studyByInstanceUid(studyInstanceUid, trx);
  }

  async seriesPkByInstanceUid(seriesInstanceUid: string, trx: Executor) {
    return (await this.studies.seriesByInstanceUid(seriesInstanceUid, trx))?.id;
  }

  patient(patientId: string, trx: Executor) {
    return this.studies.patient(patientId, trx);
  }

  studyIdTaken(studyId: string, trx: Executor) {
    return this.studies.studyIdTaken(studyId, trx);
  }

  insertPatient(values: Insertable<PatientsTable>, trx: Executor) {
    return this.studies.insertPatient(values, trx);
  }

  insertStudy(values: Insertable<StudiesTable>, trx: Executor) {
    return this.studies.insertStudy(values, trx);
  }

  insertSeries(values: Insertable<SeriesTable>, trx: Executor) {
    return this.studies.insertSeries(values, trx);
  }

  insertImage(values: Insertable<ImagesTable>, trx: Executor) {
    return this.studies.insertImage(values, trx);
  }

  storedDicom(name: string) {
    return this.files.byName(name, 'dicom');
  }

  registerFiles(files: Insertable<StoredFilesTable>[], trx: Executor) {
    return this.files.register(files, trx);
  }

  setImageFiles(imagePk: number, values: ImageFileColumns, trx: Executor) {
    return this.files.setImageFiles(imagePk, values, trx);
  }

  imagesWithoutThumbnail(limit: number) {
    return this.files.imagesWithoutThumbnail(limit);
  }
}
