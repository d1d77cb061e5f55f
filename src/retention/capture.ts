/**
 * Reads, inside the migration's transaction and just before a retained drop runs, what moving
 * the object aside and back needs: the relations that move with a table, its partition bound,
 * publication membership, a column's key; and refuses what a plain drop would refuse.
 *
 * @module
 */

import type { Queryable } from "../db/database.ts";
import { TideError } from "../errors.ts";
import type { Capture, ColumnDropCapture, Operation, TableCapture } from "../migration/operations.ts";
import type { MovedRelation, PublicationMembership, RetainedColumn, RetainedTable, RetentionRefusal } from "./model.ts";

/** Which migration and operation a retention belongs to: its names are derived from them. */
export interface RetentionContext {
  readonly app: string;
  readonly migration: string;
  /** Index of the operation in recording order. */
  readonly index: number;
}

/** A retained drop that a plain drop would refuse too (dependent views, inheritance children, …). */
export class RetentionError extends TideError {
  constructor(message: string) {
    super(message, 1);
  }
}

/**
 * Adds to a drop's capture where its data will be held, when the operation asks to retain.
 *
 * @throws {RetentionError} when objects outside the table depend on it, as a plain DROP TABLE
 *   would fail.
 */
export async function withRetention(
  db: Queryable,
  op: Operation,
  capture: Capture | undefined,
  context: RetentionContext,
): Promise<Capture | undefined> {
  if (op.kind === "dropTable" && op.retain && capture?.kind === "table") {
    return { ...capture, retained: await retainTable(db, capture, context) };
  }
  if (op.kind === "dropColumn" && op.retain && capture?.kind === "column") {
    return { ...capture, retained: await retainColumn(db, capture, context) };
  }
  return capture;
}

const encoder = new TextEncoder();

/** `r<10 hex of sha256(app, migration)>_<op index>_`: unique per app, migration and operation. */
export async function retainedPrefix(context: RetentionContext): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", encoder.encode(`${context.app}\0${context.migration}`));
  const hex = [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `r${hex.slice(0, 10)}_${context.index}_`;
}

/** `prefix + name`, cut to PostgreSQL's 63-byte identifier limit on a character boundary. */
export function fitName(prefix: string, name: string): string {
  let out = prefix;
  for (const ch of name) {
    if (encoder.encode(out + ch).length > 63) break;
    out += ch;
  }
  return out;
}

async function retainTable(db: Queryable, capture: TableCapture, context: RetentionContext): Promise<RetainedTable> {
  const prefix = await retainedPrefix(context);
  // The table and, when partitioned, every partition below it: all must leave the schema, or
  // the partitions' rows would stay readable where they were.
  const tables = await db.query<{ oid: number; schema: string; name: string }>(
    `with recursive tree(oid, depth) as (
       select to_regclass($1)::oid, 0
       union all
       select i.inhrelid, t.depth + 1 from pg_inherits i join tree t on i.inhparent = t.oid
         join pg_class c on c.oid = i.inhrelid where c.relispartition)
     select c.oid::int8 as oid, n.nspname as schema, c.relname as name
       from tree t join pg_class c on c.oid = t.oid join pg_namespace n on n.oid = c.relnamespace
      order by t.depth, c.relname`,
    [capture.table],
  );
  const oids = tables.map((t) => String(t.oid));
  await refuseDependents(db, capture.table, oids);
  const [others, [partition], publications] = await Promise.all([
    db.query<{ kind: "index" | "sequence"; schema: string; name: string; owner_schema: string }>(
      `select 'index' as kind, n.nspname as schema, ic.relname as name, n.nspname as owner_schema, 0 as o
         from pg_index i join pg_class ic on ic.oid = i.indexrelid join pg_namespace n on n.oid = ic.relnamespace
        where i.indrelid = any($1::oid[])
       union all
       select 'sequence', n.nspname, s.relname, tn.nspname, 1
         from pg_depend d join pg_class s on s.oid = d.objid and s.relkind = 'S'
         join pg_namespace n on n.oid = s.relnamespace
         join pg_class t on t.oid = d.refobjid join pg_namespace tn on tn.oid = t.relnamespace
        where d.classid = 'pg_class'::regclass and d.refclassid = 'pg_class'::regclass
          and d.deptype in ('a', 'i') and d.refobjid = any($1::oid[])
       order by o, schema, name`,
      [oids],
    ),
    db.query<{ parent: string; bound: string }>(
      `select format('%I.%I', pn.nspname, p.relname) as parent, pg_get_expr(c.relpartbound, c.oid) as bound
         from pg_class c join pg_inherits i on i.inhrelid = c.oid
         join pg_class p on p.oid = i.inhparent join pg_namespace pn on pn.oid = p.relnamespace
        where c.oid = to_regclass($1) and c.relispartition`,
      [capture.table],
    ),
    publicationsOf(db, oids),
  ]);
  const relations: MovedRelation[] = [];
  tables.forEach((t, k) => {
    relations.push({
      kind: "table",
      schema: t.schema,
      name: t.name,
      retained: fitName(k === 0 ? prefix : `${prefix}${k}_`, t.name),
    });
  });
  others.forEach((o, k) => {
    relations.push({
      kind: o.kind,
      schema: o.schema,
      name: o.name,
      retained: fitName(`${prefix}${tables.length + k}_`, o.name),
      ...(o.kind === "sequence" && o.owner_schema !== o.schema ? { landsIn: o.owner_schema } : {}),
    });
  });
  return {
    kind: "table",
    app: context.app,
    migration: context.migration,
    name: relations[0]!.retained,
    relations,
    partitionOf: partition ? { parent: partition.parent, bound: partition.bound } : null,
    publications,
  };
}

/**
 * A plain DROP TABLE fails when objects outside the table depend on it: views, other tables'
 * columns of its row type, functions returning it, inheritance children, policies of other
 * tables. Moving it would silently keep them pointing at the held copy: refuse the same way.
 */
async function refuseDependents(db: Queryable, table: string, oids: readonly string[]): Promise<void> {
  const rows = await db.query<{ what: string }>(
    `with s as (
       select unnest($1::oid[]) as oid
       union select i.indexrelid from pg_index i where i.indrelid = any($1::oid[])
       -- owned sequences go too: another table's default naming one makes DROP TABLE fail
       union select d.objid from pg_depend d join pg_class q on q.oid = d.objid and q.relkind = 'S'
              where d.classid = 'pg_class'::regclass and d.refclassid = 'pg_class'::regclass
                and d.deptype in ('a', 'i') and d.refobjid = any($1::oid[]))
     -- A view depends through its _RETURN rule: name the view, as DROP TABLE's message does.
     select distinct coalesce(
              case when d.classid = 'pg_rewrite'::regclass then
                (select pg_describe_object('pg_class'::regclass, r.ev_class, 0) from pg_rewrite r
                  where r.oid = d.objid and r.rulename = '_RETURN') end,
              pg_describe_object(d.classid, d.objid, d.objsubid)) as what
       from pg_depend d
      where d.deptype = 'n'
        and ((d.refclassid = 'pg_class'::regclass and d.refobjid in (select oid from s))
          or (d.refclassid = 'pg_type'::regclass
              and d.refobjid in (select reltype from pg_class where oid = any($1::oid[]))))
        and not case d.classid
          when 'pg_class'::regclass then d.objid in (select oid from s)
          when 'pg_constraint'::regclass then exists (select 1 from pg_constraint c where c.oid = d.objid
            and (c.conrelid = any($1::oid[])
              or (c.contype = 'f' and (c.confrelid = to_regclass($2) or c.conparentid <> 0))))
          when 'pg_rewrite'::regclass then exists (select 1 from pg_rewrite r where r.oid = d.objid and r.ev_class = any($1::oid[]))
          when 'pg_trigger'::regclass then exists (select 1 from pg_trigger t where t.oid = d.objid and t.tgrelid = any($1::oid[]))
          when 'pg_policy'::regclass then exists (select 1 from pg_policy p where p.oid = d.objid and p.polrelid = any($1::oid[]))
          when 'pg_attrdef'::regclass then exists (select 1 from pg_attrdef a where a.oid = d.objid and a.adrelid = any($1::oid[]))
          when 'pg_statistic_ext'::regclass then exists (select 1 from pg_statistic_ext x where x.oid = d.objid and x.stxrelid = any($1::oid[]))
          else false end
      order by 1`,
    [oids, table],
  );
  if (rows.length === 0) return;
  throw new RetentionError(
    `cannot retain table ${table}: ${rows.map((r) => r.what).join(", ")} depend${rows.length === 1 ? "s" : ""} on it ` +
      "(a plain DROP TABLE fails the same way). Drop or change them first, in this migration before the drop or in an earlier one",
  );
}

async function serverVersion(db: Queryable): Promise<number> {
  const [row] = await db.query<{ v: number }>("select current_setting('server_version_num')::int as v");
  return Number(row?.v ?? 0);
}

async function publicationsOf(db: Queryable, oids: readonly string[]): Promise<PublicationMembership[]> {
  // Column lists and row filters exist from PostgreSQL 15.
  const v15 = (await serverVersion(db)) >= 150000;
  const rows = await db.query<{ publication: string; table: string; columns: string | null; where: string | null }>(
    `select p.pubname as publication, format('%I.%I', n.nspname, c.relname) as "table",
            ${
      v15
        ? `(select json_agg(a.attname::text order by a.attnum)::text from pg_attribute a
              where a.attrelid = pr.prrelid and a.attnum = any(pr.prattrs)) as columns,
            pg_get_expr(pr.prqual, pr.prrelid) as "where"`
        : `null::text as columns, null::text as "where"`
    }
       from pg_publication_rel pr join pg_publication p on p.oid = pr.prpubid
       join pg_class c on c.oid = pr.prrelid join pg_namespace n on n.oid = c.relnamespace
      where pr.prrelid = any($1::oid[])
      order by 1, 2`,
    [oids],
  );
  return rows.map((r) => ({
    publication: r.publication,
    table: r.table,
    columns: r.columns ? JSON.parse(r.columns) as string[] : null,
    where: r.where ?? null,
  }));
}

/** The key a column's values can be held by, or why there is none. */
export async function columnKey(
  db: Queryable,
  table: string,
  column: string,
): Promise<{ key: string[]; source: "primary key" | "replica identity" } | { reason: string }> {
  const [info] = await db.query<{ generated: string; found: boolean }>(
    `select a.attgenerated::text as generated, true as found from pg_attribute a
      where a.attrelid = to_regclass($1) and a.attname = $2 and not a.attisdropped`,
    [table, column],
  );
  if (!info?.found) return { reason: `column ${column} does not exist` };
  if (info.generated !== "") {
    return { reason: "it is a generated column (its values are computed again when re-added)" };
  }
  // The primary key, else the replica identity index; neither may involve the column itself
  // (dropping it drops them) nor be on an expression.
  // Arrays travel as JSON text: the transports do not agree on decoding text[].
  const keys = await db.query<{ key: string; primary: boolean }>(
    `select array_to_json(array(select a.attname::text from unnest(i.indkey::int2[]) with ordinality k(attnum, ord)
                   join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum order by k.ord))::text as key,
            i.indisprimary as primary
       from pg_index i
      where i.indrelid = to_regclass($1) and (i.indisprimary or i.indisreplident) and i.indexprs is null
        and not exists (select 1 from pg_attribute a where a.attrelid = i.indrelid and a.attname = $2
                          and a.attnum = any(i.indkey::int2[]))
      order by i.indisprimary desc`,
    [table, column],
  );
  const found = keys[0];
  if (!found) {
    return {
      reason: "the table has no primary key or replica identity index without this column to key its values by",
    };
  }
  return { key: JSON.parse(found.key) as string[], source: found.primary ? "primary key" : "replica identity" };
}

async function retainColumn(
  db: Queryable,
  capture: ColumnDropCapture,
  context: RetentionContext,
): Promise<RetainedColumn | RetentionRefusal> {
  const key = await columnKey(db, capture.table, capture.column.name);
  if ("reason" in key) return { kind: "not-retained", reason: key.reason };
  const [row] = await db.query<{ name: string }>("select relname as name from pg_class where oid = to_regclass($1)", [
    capture.table,
  ]);
  const table = row?.name ?? "table";
  const sequencePositions = [];
  for (const sequence of capture.sequences) {
    const [position] = await db.query<{ last: string; called: boolean }>(
      `select last_value::text as last, is_called as called from ${sequence.name}`,
    );
    if (position) {
      sequencePositions.push({ name: sequence.name, lastValue: position.last, isCalled: Boolean(position.called) });
    }
  }
  return {
    kind: "column",
    app: context.app,
    migration: context.migration,
    name: fitName(await retainedPrefix(context), `${table}__${capture.column.name}`),
    key: key.key,
    keySource: key.source,
    ...(sequencePositions.length > 0 ? { sequencePositions } : {}),
  };
}
