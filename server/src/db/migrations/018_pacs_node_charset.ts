import type { Kysely } from 'kysely';

/**
 * A DICOM node's character set (issue 17): how its undeclared text is read, and the set we write
 * for it ('GB18030' gets GB18030 text). '' is the site's default (DICOM_DEFAULT_CHARSET).
 */
export function pacsNodeCharset() {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .alterTable('pacs_nodes')
        .addColumn('charset', 'text', (c) => c.notNull().defaultTo(''))
        .execute();
    },
  };
}
