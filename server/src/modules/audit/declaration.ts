/** What a read of patient data shows: one study, one instance, one stored file, or a list (aggregated per window). */
export type ReadSubject = 'study' | 'instance' | 'file' | 'list';

/** A patient-data read as its route declares it: the action and what its parameter names. */
export interface ReadDeclaration {
  read: string;
  subject: ReadSubject;
  /** The path parameter naming the subject, when not the subject's usual one (`id`, `instance_id`, `filename`). */
  param?: string;
}

/**
 * A route's audit declaration: the action name of a write, or for a read of patient data the
 * action (`study.view`, `study.download`, `study.list`) and what its parameters name.
 */
export type AuditDeclaration = string | ReadDeclaration;
