/**
 * Reads from the live catalog what reversing a drop or an alter needs, just before the
 * operation runs forwards. The result is plain JSON, stored with the history row.
 *
 * @module
 */

import { captureDistribution, CITUS_PRESENT } from "../catalog/distribution.ts";
import type { Queryable } from "../db/database.ts";
import type {
  AlterCapture,
  Capture,
  ColumnCapture,
  ConstraintCapture,
  IndexCapture,
  IndexDropCapture,
  Operation,
  SequenceCapture,
} from "./operations.ts";
import { quoteName } from "./quote.ts";

const QUALIFIED = (alias: string) =>
  `format('%I.%I', (select nspname from pg_namespace where oid = ${alias}.relnamespace), ${alias}.relname)`;

const COLUMNS = `
select a.attnum, a.attname as name, format_type(a.atttypid, a.atttypmod) as type,
  (select format('%I.%I', n.nspname, co.collname) from pg_collation co
     join pg_namespace n on n.oid = co.collnamespace
    where co.oid = a.attcollation and a.attcollation <> t.typcollation) as collation,
  a.attnotnull as "notNull",
  case when a.attgenerated = '' then pg_get_expr(d.adbin, d.adrelid) end as "default",
  a.attidentity::text as identity,
  case when a.attgenerated <> '' then pg_get_expr(d.adbin, d.adrelid) end as generated,
  col_description(a.attrelid, a.attnum) as comment
from pg_attribute a
join pg_type t on t.oid = a.atttypid
left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
where a.attrelid = to_regclass($1) and a.attnum > 0 and not a.attisdropped`;

const CONSTRAINTS = `
select ${QUALIFIED("r")} as "table", c.conname as name, pg_get_constraintdef(c.oid) as definition,
  obj_description(c.oid, 'pg_constraint') as comment
from pg_constraint c join pg_class r on r.oid = c.conrelid
where c.contype in ('p', 'u', 'c', 'f', 'x')`;

const INDEXES = `
select ${QUALIFIED("ic")} as name, pg_get_indexdef(i.indexrelid) as definition,
  obj_description(i.indexrelid, 'pg_class') as comment
from pg_index i join pg_class ic on ic.oid = i.indexrelid
where not exists (select 1 from pg_constraint c
                   where c.conindid = i.indexrelid and c.conrelid = i.indrelid and c.contype in ('p', 'u', 'x'))`;

const SEQUENCES = `
select ${QUALIFIED("s")} as name, a.attname as column, format_type(q.seqtypid, null) as type,
  q.seqstart::text as start, q.seqincrement::text as increment, q.seqmin::text as min,
  q.seqmax::text as max, q.seqcache::text as cache, q.seqcycle as cycle, d.deptype::text as dependency
from pg_depend d
join pg_class s on s.oid = d.objid and s.relkind = 'S'
join pg_sequence q on q.seqrelid = s.oid
join pg_attribute a on a.attrelid = d.refobjid and a.attnum = d.refobjsubid
where d.classid = 'pg_class'::regclass and d.refclassid = 'pg_class'::regclass
  and d.deptype in ('a', 'i') and d.refobjid = to_regclass($1)`;

/**
 * Captures what the inverse of `op` needs, or `undefined` when it needs nothing or the
 * object does not exist (the forward statement will then fail with the server's message).
 */
export async function captureFor(db: Queryable, op: Operation): Promise<Capture | undefined> {
  switch (op.kind) {
    case "dropTable":
      return await captureTable(db, quoteName(op.table));
    case "dropColumn":
      return await captureColumn(db, quoteName(op.table), op.column);
    case "alterColumn":
      return await captureAlter(db, quoteName(op.table), op.column);
    case "dropIndex":
      return await captureIndex(db, quoteName(op.name));
    default:
      return undefined;
  }
}

async function resolveTable(db: Queryable, table: string): Promise<string | undefined> {
  const [row] = await db.query<{ name: string | null }>(
    `select (select ${QUALIFIED("c")} from pg_class c where c.oid = to_regclass($1)) as name`,
    [table],
  );
  return row?.name ?? undefined;
}

async function captureTable(db: Queryable, table: string): Promise<Capture | undefined> {
  const qualified = await resolveTable(db, table);
  if (qualified === undefined) return undefined;
  const [columns, constraints, indexes, inbound, sequences, [comment], [citus]] = await Promise.all([
    db.query<ColumnCapture>(`${COLUMNS} order by a.attnum`, [qualified]),
    db.query<ConstraintCapture>(`${CONSTRAINTS} and c.conrelid = to_regclass($1) order by c.contype = 'f', c.conname`, [
      qualified,
    ]),
    db.query<IndexCapture>(`${INDEXES} and i.indrelid = to_regclass($1) order by ic.relname`, [qualified]),
    db.query<ConstraintCapture>(
      `${CONSTRAINTS} and c.contype = 'f' and c.confrelid = to_regclass($1) and c.conrelid <> to_regclass($1) order by 1, 2`,
      [qualified],
    ),
    db.query<SequenceCapture>(`${SEQUENCES} order by a.attnum`, [qualified]),
    db.query<{ comment: string | null }>(`select obj_description(to_regclass($1), 'pg_class') as comment`, [qualified]),
    // Citus: whether the database has it, in the same round trip; its distribution only then.
    db.query<{ citus: boolean }>(CITUS_PRESENT),
  ]);
  const distribution = citus?.citus ? await captureDistribution(db, qualified) : undefined;
  return {
    kind: "table",
    table: qualified,
    columns: columns.map(cleanColumn),
    constraints,
    indexes,
    inbound,
    sequences,
    comment: comment?.comment ?? null,
    ...(distribution ? { distribution } : {}),
  };
}

async function captureColumn(db: Queryable, table: string, column: string): Promise<Capture | undefined> {
  const qualified = await resolveTable(db, table);
  if (qualified === undefined) return undefined;
  const [found] = await db.query<ColumnCapture & { attnum: number }>(`${COLUMNS} and a.attname = $2`, [
    qualified,
    column,
  ]);
  if (found === undefined) return undefined;
  const attnum = Number(found.attnum);
  // Postgres drops every constraint and index that involves the column, multi-column ones too.
  const [constraints, indexes, inbound, sequences] = await Promise.all([
    db.query<ConstraintCapture>(
      `${CONSTRAINTS} and c.conrelid = to_regclass($1) and $2 = any(c.conkey) order by c.contype = 'f', c.conname`,
      [qualified, attnum],
    ),
    db.query<IndexCapture>(
      `${INDEXES} and i.indrelid = to_regclass($1) and exists (select 1 from pg_depend d
         where d.classid = 'pg_class'::regclass and d.objid = i.indexrelid
           and d.refclassid = 'pg_class'::regclass and d.refobjid = i.indrelid and d.refobjsubid = $2)
       order by ic.relname`,
      [qualified, attnum],
    ),
    db.query<ConstraintCapture>(
      `${CONSTRAINTS} and c.contype = 'f' and c.confrelid = to_regclass($1) and $2 = any(c.confkey) and c.conrelid <> to_regclass($1) order by 1, 2`,
      [qualified, attnum],
    ),
    db.query<SequenceCapture>(`${SEQUENCES} and a.attnum = $2`, [qualified, attnum]),
  ]);
  return { kind: "column", table: qualified, column: cleanColumn(found), constraints, indexes, inbound, sequences };
}

async function captureAlter(db: Queryable, table: string, column: string): Promise<AlterCapture | undefined> {
  const [found] = await db.query<ColumnCapture>(`${COLUMNS} and a.attname = $2`, [table, column]);
  if (found === undefined) return undefined;
  return { kind: "alter", type: found.type, notNull: Boolean(found.notNull), default: found.default };
}

async function captureIndex(db: Queryable, index: string): Promise<IndexDropCapture | undefined> {
  const [found] = await db.query<IndexCapture>(
    `${INDEXES} and i.indexrelid = to_regclass($1)`,
    [index],
  );
  return found === undefined ? undefined : { kind: "index", index: found };
}

function cleanColumn(c: ColumnCapture & { attnum?: number }): ColumnCapture {
  return {
    name: c.name,
    type: c.type,
    collation: c.collation ?? null,
    notNull: Boolean(c.notNull),
    default: c.default ?? null,
    identity: c.identity ?? "",
    generated: c.generated ?? null,
    comment: c.comment ?? null,
  };
}
