import fs from 'node:fs/promises';
import { createHash } from 'node:crypto';
import type { Insertable } from 'kysely';
import type { Executor } from '../../src/db/index.js';
import type { ImagesTable, PatientsTable, SeriesTable, StoredFilesTable, StudiesTable } from '../../src/db/schema.js';
import type { ArchiveRepository, ImageFileColumns } from '../../src/modules/archive/repository.js';
import { Archive } from '../../src/modules/archive/service.js';
import type { ImageRow, PatientRow } from '../../src/modules/studies/repository.js';
import type { BlobInfo, BlobStore } from '../../src/storage/blob-store.js';

type Row<T> = Insertable<T> & { id: number };

interface Tables {
  patients: Row<PatientsTable>[];
  studies: Row<StudiesTable>[];
  series: Row<SeriesTable>[];
  images: Row<ImagesTable>[];
  storedFiles: Row<StoredFilesTable>[];
}

/** The archive's tables in memory, with transactions that roll back and writes that can be made to fail. */
export class FakeArchiveRepository implements ArchiveRepository {
  tables: Tables = { patients: [], studies: [], series: [], images: [], storedFiles: [] };
  /** A write method named here throws (a database that went away mid-transaction). */
  failOn: keyof ArchiveRepository | undefined;
  transactions = 0;
  private nextId = 1;

  async transaction<T>(work: (trx: Executor) => Promise<T>): Promise<T> {
    this.transactions += 1;
    const before = structuredClone(this.tables);
    try {
      // The fake runs everything on its own tables: the executor is never used.
      return await work({} as Executor);
    } catch (error) {
      this.tables = before;
      throw error;
    }
  }

  private insert<T>(table: Row<T>[], values: Insertable<T>, method: keyof ArchiveRepository): number {
    if (this.failOn === method) throw new Error(`${method} failed`);
    const id = this.nextId++;
    table.push({ ...values, id });
    return id;
  }

  /** An image row as the database returns it (defaults filled in). */
  async image(sopInstanceUid: string): Promise<ImageRow | undefined> {
    const row = this.tables.images.find((i) => i.sop_instance_uid === sopInstanceUid);
    return row && ({ image_file: '', thumbnail_file: '', ...row } as ImageRow);
  }

  async imageExists(imagePk: number) {
    return this.tables.images.some((i) => i.id === imagePk);
  }

  async studyByInstanceUid(uid: string) {
    const row = this.tables.studies.find((s) => s.study_instance_uid === uid);
    return row && { id: row.id, product: row.product };
  }

  async seriesPkByInstanceUid(uid: string) {
    return this.tables.series.find((s) => s.series_instance_uid === uid)?.id;
  }

  async patient(patientId: string) {
    return this.tables.patients.find((p) => p.patient_id === patientId) as PatientRow | undefined;
  }

  async studyIdTaken(studyId: string) {
    return this.tables.studies.some((s) => s.study_id === studyId);
  }

  async insertPatient(values: Insertable<PatientsTable>) {
    return this.insert(this.tables.patients, values, 'insertPatient');
  }

  async insertStudy(values: Insertable<StudiesTable>) {
    return this.insert(this.tables.studies, values, 'insertStudy');
  }

  async insertSeries(values: Insertable<SeriesTable>) {
    return this.insert(this.tables.series, values, 'insertSeries');
  }

  async insertImage(values: Insertable<ImagesTable>) {
    return this.insert(this.tables.images, values, 'insertImage');
  }

  async storedDicom(name: string) {
    const file = this.tables.storedFiles.find((f) => f.name === name && f.kind === 'dicom');
    return file && { blob_key: file.blob_key, sha256: file.sha256, study_pk: file.study_pk, image_pk: file.image_pk ?? null };
  }

  async registerFiles(files: Insertable<StoredFilesTable>[]) {
    if (this.failOn === 'registerFiles') throw new Error('registerFiles failed');
    const names = new Set(files.map((f) => f.name));
    this.tables.storedFiles = this.tables.storedFiles.filter((f) => !names.has(f.name));
    for (const file of files) this.tables.storedFiles.push({ ...file, id: this.nextId++ });
  }

  async setImageFiles(imagePk: number, values: ImageFileColumns) {
    if (this.failOn === 'setImageFiles') throw new Error('setImageFiles failed');
    const image = this.tables.images.find((i) => i.id === imagePk);
    if (image) Object.assign(image, values);
  }

  async imagesWithoutThumbnail(limit: number) {
    return this.tables.images
      .filter((i) => !i.thumbnail_file && i.storage_status === 'Saved')
      .flatMap((i) => {
        const file = this.tables.storedFiles.find((f) => f.image_pk === i.id && f.kind === 'dicom' && f.role === 'image');
        return file ? [{ imagePk: i.id, studyPk: i.study_pk, sopInstanceUid: i.sop_instance_uid, blobKey: file.blob_key }] : [];
      })
      .slice(0, limit);
  }
}

/** Blobs in memory; records how each was written (parts as given, or a file adopted). */
export class MemoryBlobStore implements BlobStore {
  readonly blobs = new Map<string, Buffer>();
  readonly writes: { key: string; how: 'put' | 'adopt'; given: unknown }[] = [];

  async put(key: string, data: Parameters<BlobStore['put']>[1]): Promise<BlobInfo> {
    if (!Buffer.isBuffer(data) && !Array.isArray(data)) throw new Error('streams are not used by the archive');
    this.writes.push({ key, how: 'put', given: data });
    const bytes = Buffer.isBuffer(data) ? data : Buffer.concat(data as readonly Uint8Array[]);
    this.blobs.set(key, bytes);
    return { key, size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') };
  }

  async adopt(key: string, file: string, digest: { size: number; sha256: string }): Promise<BlobInfo> {
    this.writes.push({ key, how: 'adopt', given: file });
    this.blobs.set(key, await fs.readFile(file));
    return { key, ...digest };
  }

  async read(key: string): Promise<Buffer> {
    const bytes = this.blobs.get(key);
    if (!bytes) throw new Error(`no blob ${key}`);
    return bytes;
  }

  localPath(): string | undefined {
    return undefined;
  }

  stream(): never {
    throw new Error('not used by the archive');
  }

  async stat(key: string): Promise<BlobInfo | undefined> {
    const bytes = this.blobs.get(key);
    return bytes && { key, size: bytes.length };
  }

  async delete(key: string): Promise<void> {
    this.blobs.delete(key);
  }
}

/** An archive over in-memory fakes (as Immich's newTestService does for its services), and the fakes to look into. */
export function newTestArchive(defaultProduct = 'DROS') {
  const repo = new FakeArchiveRepository();
  const blobs = new MemoryBlobStore();
  return { archive: new Archive(repo, blobs, defaultProduct), repo, blobs };
}
