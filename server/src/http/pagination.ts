import { Type, type Static } from 'typebox';
import type { Page } from '../util/page.js';

/** Diagnosis-face paging and sorting query fields (`page` ≥ 1, `size` 1–100, default 20). */
export const PageQuery = {
  page: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000, default: 1 })),
  size: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 })),
  search: Type.Optional(Type.String({ maxLength: 100 })),
  order: Type.Optional(Type.Union([Type.Literal('asc'), Type.Literal('desc')])),
};

export const PageQuerySchema = Type.Object(PageQuery);
export type PageQueryType = Static<typeof PageQuerySchema>;

export type { Page };

export function pageOf(query: { page?: number; size?: number }): Page {
  const page = query.page ?? 1;
  const size = query.size ?? 20;
  return { page, size, limit: size, offset: (page - 1) * size };
}

export function paginated<T>(items: T[], page: Page, total: number) {
  const pages = Math.ceil(total / page.size);
  return {
    items,
    pagination: { page: page.page, size: page.size, total, pages, has_next: page.page < pages, has_prev: page.page > 1 },
  };
}

/**
 * The search convention's `filter` parameter: `key:value` pairs separated by commas
 * (`gender:male,age_min:18`). Keys not in `allowed` are refused so typos do not silently match all.
 */
export function parseFilter(
  filter: string | undefined,
  allowed: readonly string[],
): { values: Partial<Record<string, string>>; unknown: string[] } {
  const values: Partial<Record<string, string>> = {};
  const unknown: string[] = [];
  if (!filter) return { values, unknown };
  for (const part of filter.split(',')) {
    const index = part.indexOf(':');
    if (index <= 0) {
      unknown.push(part);
      continue;
    }
    const key = part.slice(0, index).trim();
    if (allowed.includes(key)) values[key] = part.slice(index + 1).trim();
    else unknown.push(key);
  }
  return { values, unknown };
}
