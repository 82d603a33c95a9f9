import type { Db } from '../../db/index.js';
import type { ReadSubjectLookup, ReadSubjectRow } from './reads.js';

/** The study behind a read's parameter, for the read audit (SQL over studies, images, stored files). */
export class SqlReadSubjects implements ReadSubjectLookup {
  constructor(private readonly sql: Db) {}

  async studyByStudyId(studyId: string): Promise<ReadSubjectRow | undefined> {
    return this.sql.kysely
      .selectFrom('studies')
      .select(['study_id', 'study_instance_uid', 'patient_id'])
      .where('study_id', '=', studyId)
      .executeTakeFirst();
  }

  async studyByInstance(sopInstanceUid: string): Promise<ReadSubjectRow | undefined> {
    return this.sql.kysely
      .selectFrom('images')
      .innerJoin('studies', 'studies.id', 'images.study_pk')
      .select(['studies.study_id', 'studies.study_instance_uid', 'studies.patient_id', 'images.sop_instance_uid'])
      .where('images.sop_instance_uid', '=', sopInstanceUid)
      .executeTakeFirst();
  }

  async studyByFileName(name: string): Promise<ReadSubjectRow | undefined> {
    return this.sql.kysely
      .selectFrom('stored_files')
      .innerJoin('studies', 'studies.id', 'stored_files.study_pk')
      .select(['studies.study_id', 'studies.study_instance_uid', 'studies.patient_id', 'stored_files.sop_instance_uid'])
      .where('stored_files.name', '=', name)
      .executeTakeFirst();
  }
}
