import { sql, type Kysely } from 'kysely';

/**
 * The specification's protocol identifiers (issue 16). The first library numbered the skull's
 * procedures and named the animals' views its own way; the specification gives some of those ids
 * other meanings (P0-0001 is the Towne view, P0-0002 Skull AP + LAT, P0-0003 Skull PA + LAT,
 * P0-0004 Skull AP) and names animal views `View_<species>_<code>_<nn>` (`View_Dog_PV_LAT_01`) in a
 * body part `Dog_Hip`. This re-keys an installed library and everything that points into it
 * (procedure membership, exposure and device rows — edited exposure programmes move with their
 * view — and existing studies' series and images), so each id keeps one meaning. What a site
 * never edited (names, pictograms, the view documents) is refreshed from the shipped library at
 * the next start, which also adds what is new. A fresh database has no rows here: nothing to do.
 *
 * The tables below are the difference between the library before and after, derived by matching
 * every entry by its meaning (patient type, body part, names and views); they are frozen here.
 */

/** DROS procedure ids whose meaning moved (a cycle: applied through temporary ids). */
const DROS_PROCEDURES: [string, string][] = [
  ['P0-0001', 'P0-0002'], // Skull AP + LAT
  ['P0-0002', 'P0-0003'], // Skull PA + LAT
  ['P0-0003', 'P0-0006'], // Skull series
  ['P0-0004', 'P0-0009'], // Sinus series
  ['P0-0006', 'P0-0004'], // Skull AP
  ['P0-0009', 'P0-0001'], // Skull Towne
];

const BODY_PARTS: [string, string][] = [
  ['Dog_PELVIS', 'Dog_Hip'],
  ['Cat_PELVIS', 'Cat_Hip'],
];

const VET_PREFIXES: [string, string][] = [
  ['View_DX_V_DOG_', 'View_Dog_'],
  ['View_DX_V_CAT_', 'View_Cat_'],
  ['View_DX_V_RAB_', 'View_Rabbit_'],
];

/** An animal view's id in the specification's scheme: species prefix, `_01` for a view made once. */
export function vetViewId(old: string): string | undefined {
  const prefix = VET_PREFIXES.find(([from]) => old.startsWith(from));
  if (!prefix) return undefined;
  const rest = old
    .slice(prefix[0].length)
    .replace(/^PV_VDEXT_/, 'PV_VD_')
    .replace(/_00$/, '_01');
  return `${prefix[1]}${rest}`;
}

type Db = Kysely<unknown>;

async function renameView(db: Db, product: string, from: string, to: string): Promise<void> {
  await sql`UPDATE protocol_views SET view_id = ${to} WHERE product = ${product} AND view_id = ${from}`.execute(db);
  await sql`UPDATE protocol_procedure_views SET view_id = ${to} WHERE product = ${product} AND view_id = ${from}`.execute(db);
  await sql`UPDATE protocol_apr_exposures SET apr_id = ${to} WHERE product = ${product} AND apr_id = ${from}`.execute(db);
  await sql`UPDATE protocol_apr_devices SET apr_id = ${to} WHERE product = ${product} AND apr_id = ${from}`.execute(db);
  await sql`UPDATE images SET view_id = ${to} WHERE product = ${product} AND view_id = ${from}`.execute(db);
}

async function renameProcedure(db: Db, product: string, from: string, to: string): Promise<void> {
  await sql`UPDATE protocol_procedures SET procedure_id = ${to} WHERE product = ${product} AND procedure_id = ${from}`.execute(db);
  await sql`UPDATE protocol_procedure_views SET procedure_id = ${to} WHERE product = ${product} AND procedure_id = ${from}`.execute(db);
  await sql`UPDATE series SET procedure_id = ${to} WHERE product = ${product} AND procedure_id = ${from}`.execute(db);
}

export function specLibraryIds() {
  return {
    async up(db: Db): Promise<void> {
      // Which library each product has installed. It lived in server_secrets, whose clear values are
      // sealed at every start, so the digest never matched and every start installed the library again.
      await db.schema
        .createTable('protocol_library_installs')
        .addColumn('product', 'text', (c) => c.primaryKey())
        .addColumn('digest', 'text', (c) => c.notNull())
        .addColumn('installed_at', 'text', (c) => c.notNull())
        .execute();
      await sql`DELETE FROM server_secrets WHERE name IN ('protocol_library_DROS', 'protocol_library_VETDROS')`.execute(db);

      // Views: the Towne view takes the specification's id; animal views its scheme.
      await renameView(db, 'DROS', 'View_DX_T_A_SK_Towne_00', 'View_DX_T_A_SK_Special_04');
      const { rows } = await sql<{ view_id: string }>`SELECT view_id FROM protocol_views WHERE product = 'VETDROS'`.execute(db);
      for (const { view_id: from } of rows) {
        const to = vetViewId(from);
        if (to && to !== from) await renameView(db, 'VETDROS', from, to);
      }
      // Procedures: to temporary ids first, since the moves form a cycle and ids are unique.
      for (const [from, to] of DROS_PROCEDURES) await renameProcedure(db, 'DROS', from, `moving:${to}`);
      for (const [, to] of DROS_PROCEDURES) await renameProcedure(db, 'DROS', `moving:${to}`, to);
      for (const [from, to] of BODY_PARTS) {
        await sql`UPDATE protocol_body_parts SET body_part_id = ${to} WHERE product = 'VETDROS' AND body_part_id = ${from}`.execute(db);
        await sql`UPDATE protocol_views SET body_part_id = ${to} WHERE product = 'VETDROS' AND body_part_id = ${from}`.execute(db);
        await sql`UPDATE protocol_procedures SET body_part_id = ${to} WHERE product = 'VETDROS' AND body_part_id = ${from}`.execute(db);
        await sql`UPDATE series SET body_part = ${to} WHERE product = 'VETDROS' AND body_part = ${from}`.execute(db);
      }
    },
  };
}
