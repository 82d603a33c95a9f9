import type { Insertable, Selectable } from 'kysely';
import type { AuditLogsTable } from '../../db/schema.js';
import type { Db } from '../../db/index.js';
import { likePattern } from '../../db/sql.js';

export type AuditRow = Selectable<AuditLogsTable>;

export interface AuditFilter {
  userId?: number;
  username?: string;
  action?: string;
  resourceType?: string;
  resourceId?: string;
  outcome?: 'success' | 'failure';
  source?: string;
  requestId?: string;
  search?: string;
  from?: string;
  to?: string;
  order: 'asc' | 'desc';
  limit: number;
  offset: number;
}

export class AuditRepository {
  constructor(private readonly sql: Db) {}

  async insert(row: Insertable<AuditLogsTable>): Promise<void> {
    await this.sql.kysely.insertInto('audit_logs').values(row).execute();
  }

  async list(filter: AuditFilter): Promise<{ rows: AuditRow[]; total: number }> {
    let query = this.sql.kysely.selectFrom('audit_logs');
    if (filter.userId !== undefined) query = query.where('user_id', '=', filter.userId);
    if (filter.username) query = query.where('username', '=', filter.username);
    if (filter.action) query = query.where('action', '=', filter.action);
    if (filter.resourceType) query = query.where('resource_type', '=', filter.resourceType);
    if (filter.resourceId) query = query.where('resource_id', '=', filter.resourceId);
    if (filter.outcome) query = query.where('outcome', '=', filter.outcome);
    if (filter.source) query = query.where('source', '=', filter.source);
    if (filter.requestId) query = query.where('request_id', '=', filter.requestId);
    if (filter.from) query = query.where('created_at', '>=', filter.from);
    if (filter.to) query = query.where('created_at', '<=', filter.to);
    if (filter.search) {
      const pattern = likePattern(filter.search);
      query = query.where((eb) =>
        eb.or([
          this.sql.ilike(eb.ref('action'), pattern),
          this.sql.ilike(eb.ref('path'), pattern),
          this.sql.ilike(eb.ref('username'), pattern),
          this.sql.ilike(eb.ref('detail'), pattern),
        ]),
      );
    }
    const total = await query.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    const rows = await query
      .selectAll()
      .orderBy('created_at', filter.order)
      .orderBy('id', filter.order)
      .limit(filter.limit)
      .offset(filter.offset)
      .execute();
    return { rows, total: total.n };
  }

  async countSince(since: string, action?: string): Promise<number> {
    let query = this.sql.kysely
      .selectFrom('audit_logs')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('created_at', '>=', since);
    if (action) query = query.where('action', '=', action);
    return (await query.executeTakeFirstOrThrow()).n;
  }
}
