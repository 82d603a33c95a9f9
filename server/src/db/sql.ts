import { sql, type Expression, type RawBuilder, type SqlBool } from 'kysely';
import type { DialectName } from './index.js';

/** `%term%` with LIKE wildcards in the user's term escaped, for use with `ilike`. */
export function likePattern(term: string): string {
  return `%${term.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/** Case-insensitive LIKE on both dialects (SQLite's LIKE already ignores ASCII case). */
export function ilikeFor(dialect: DialectName, column: Expression<string | null>, pattern: string): RawBuilder<SqlBool> {
  return dialect === 'postgres'
    ? sql<SqlBool>`${column} ilike ${pattern} escape '\\'`
    : sql<SqlBool>`${column} like ${pattern} escape '\\'`;
}
