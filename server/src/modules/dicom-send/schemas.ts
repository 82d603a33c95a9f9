import { Type } from 'typebox';
import { DicomUid as Uid } from '../pacs/schemas.js';

const PacsName = Type.String({ minLength: 1, maxLength: 16 });

export const StoreBody = Type.Object({
  sop_instance_uid: Type.Optional(Uid),
  /** The spec's samples also say sop_instance_id (spec reading 7, docs/architecture.md). */
  sop_instance_id: Type.Optional(Uid),
  pacs_name: PacsName,
});

export const StudyStoreBody = Type.Object({ instance_uid: Type.String({ minLength: 1, maxLength: 64 }), pacs_name: PacsName });

/** store_reply's instance_uid is the task id (spec reading 7, docs/architecture.md). */
export const RetryBody = Type.Object({ instance_uid: Type.String({ minLength: 1, maxLength: 64 }) });

export const TaskIdQuery = Type.Object({
  task_id: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  instance_uid: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
});

export const StoreQueueQuery = Type.Object({
  start_time: Type.Optional(Type.String({ format: 'date-time' })),
  end_time: Type.Optional(Type.String({ format: 'date-time' })),
});
