/**
 * Indexes that back no constraint: the `CREATE INDEX` statement `pg_get_indexdef` prints (with
 * its options, `NULLS NOT DISTINCT` on PG 15+, and `ON ONLY` for a partitioned table's index),
 * tablespace, comment, statistics targets of expression columns, and the partitioned index it
 * is attached to. A partitioned index's attached partition indexes are captured with it
 * (DROP INDEX drops them too).
 *
 * @module
 */

import { quoteIdent, quoteLiteral } from "../migration/quote.ts";
import { at, bareName, type CatalogContext, jsonList, ordered, Phase, type Phased, qualified } from "./context.ts";

/** An index. Fields after `comment` were added in tide 0.2. */
export interface IndexCapture {
  /** Quoted, schema-qualified name. */
  readonly name: string;
  readonly definition: string;
  readonly comment: string | null;
  readonly tablespace?: string | null;
  /** The partitioned index it is attached to, quoted and qualified. */
  readonly parent?: string | null;
  /** Statistics targets set on expression columns, by column number. */
  readonly statistics?: readonly { readonly column: number; readonly target: number }[];
}

/** The json of the pg_index row `i` joined with its pg_class row `ic`. */
export function indexJson(_ctx: CatalogContext): string {
  return `json_build_object('name', ${qualified("ic")}, 'definition', pg_get_indexdef(i.indexrelid),
    'comment', obj_description(i.indexrelid, 'pg_class'),
    'tablespace', (select spcname from pg_tablespace where oid = ic.reltablespace),
    'parent', (select ${
    qualified("pi")
  } from pg_inherits h join pg_class pi on pi.oid = h.inhparent where h.inhrelid = i.indexrelid),
    'statistics', ${
    jsonList(
      "json_build_object('column', ia.attnum, 'target', ia.attstattarget::int)",
      "from pg_attribute ia where ia.attrelid = i.indexrelid and ia.attstattarget >= 0",
      "ia.attnum",
    )
  })`;
}

const NOT_A_CONSTRAINT = `not exists (select 1 from pg_constraint k
  where k.conindid = i.indexrelid and k.conrelid = i.indrelid and k.contype in ('p', 'u', 'x'))`;

/** Indexes of the table `c` that back no constraint, optionally narrowed by `where`. */
export function indexesSql(ctx: CatalogContext, where = "true"): string {
  return jsonList(
    indexJson(ctx),
    `from pg_index i join pg_class ic on ic.oid = i.indexrelid where i.indrelid = c.oid and ${NOT_A_CONSTRAINT} and ${where}`,
    "ic.relname",
  );
}

/** A query for one index by name ($1), with its attached partition indexes (json `children`). */
export function indexByNameSql(ctx: CatalogContext): string {
  return `select ${indexJson(ctx)} as index,
      (select ${qualified("t")} from pg_class t where t.oid = i.indrelid) as "table",
      i.indisclustered as clustered, i.indisreplident as "replicaIdentity"
    from pg_index i join pg_class ic on ic.oid = i.indexrelid
   where i.indexrelid = to_regclass($1) and ${NOT_A_CONSTRAINT}`;
}

/** Attached partition indexes of index $1, each with its table. */
export function childIndexesSql(ctx: CatalogContext): string {
  return `select ${indexJson(ctx)} as index, (select ${
    qualified("t")
  } from pg_class t where t.oid = i.indrelid) as "table"
    from pg_inherits h join pg_index i on i.indexrelid = h.inhrelid join pg_class ic on ic.oid = i.indexrelid
   where h.inhparent = to_regclass($1) order by ic.relname`;
}

/** The statement that creates the index; CONCURRENTLY when asked. */
export function createIndex(index: IndexCapture, concurrently = false): string {
  return concurrently
    ? index.definition.replace(/^CREATE (UNIQUE )?INDEX /, "CREATE $1INDEX CONCURRENTLY ")
    : index.definition;
}

/** Everything an index has beyond its definition: tablespace, statistics targets, comment. */
export function indexExtras(index: IndexCapture): Phased[] {
  const out: Phased[] = [];
  if (index.tablespace) {
    out.push(...at(Phase.settings, `ALTER INDEX ${index.name} SET TABLESPACE ${quoteIdent(index.tablespace)}`));
  }
  for (const s of index.statistics ?? []) {
    out.push(...at(Phase.settings, `ALTER INDEX ${index.name} ALTER COLUMN ${s.column} SET STATISTICS ${s.target}`));
  }
  out.push(...commentOnIndex(index).flatMap((sql) => at(Phase.comments, sql)));
  return out;
}

/** COMMENT ON INDEX, when it has one. */
export function commentOnIndex(index: IndexCapture): string[] {
  return index.comment === null ? [] : [`COMMENT ON INDEX ${index.name} IS ${quoteLiteral(index.comment)}`];
}

/** ALTER INDEX parent ATTACH PARTITION child, for an index attached to a partitioned one. */
export function attachIndex(index: IndexCapture): string[] {
  return index.parent ? [`ALTER INDEX ${index.parent} ATTACH PARTITION ${index.name}`] : [];
}

/** A dropped index; since tide 0.2 with what DROP INDEX took along. */
export interface IndexDropCapture {
  readonly kind: "index";
  readonly index: IndexCapture;
  /** The table it is on. */
  readonly table?: string;
  /** It was the table's CLUSTER ON index. */
  readonly clustered?: boolean;
  /** It was the table's replica identity (REPLICA IDENTITY USING INDEX). */
  readonly replicaIdentity?: boolean;
  /** Attached partition indexes (a partitioned index's), recursively, parents first. */
  readonly children?: readonly { readonly table: string; readonly index: IndexCapture }[];
}

/** Captures an index before DROP INDEX, with its attached partition indexes, recursively. */
export async function captureIndexDrop(
  db: import("../db/database.ts").Queryable,
  ctx: CatalogContext,
  name: string,
): Promise<IndexDropCapture | undefined> {
  const [found] = await db.query<{ index: IndexCapture; table: string; clustered: boolean; replicaIdentity: boolean }>(
    indexByNameSql(ctx),
    [name],
  );
  if (found === undefined) return undefined;
  const children: { table: string; index: IndexCapture }[] = [];
  const queue = [found.index.name];
  // Bounded by the partition tree: each index is attached to one parent.
  while (queue.length) {
    const parent = queue.shift()!;
    const rows = await db.query<{ index: IndexCapture; table: string }>(childIndexesSql(ctx), [parent]);
    for (const r of rows) {
      children.push({ table: r.table, index: r.index });
      queue.push(r.index.name);
    }
  }
  return {
    kind: "index",
    index: found.index,
    table: found.table,
    clustered: Boolean(found.clustered),
    replicaIdentity: Boolean(found.replicaIdentity),
    children,
  };
}

/** Statements that re-create a dropped index with what DROP INDEX took along. */
export function recreateIndex(c: IndexDropCapture, concurrently = false): string[] {
  const out: Phased[] = [...at(Phase.indexes, createIndex(c.index, concurrently)), ...indexExtras(c.index)];
  for (const child of c.children ?? []) {
    out.push(
      ...at(Phase.partitions, createIndex(child.index), ...attachIndex(child.index)),
      ...indexExtras(child.index),
    );
  }
  const bare = bareName(c.index.name);
  if (c.table && c.clustered) out.push(...at(Phase.settings, `ALTER TABLE ${c.table} CLUSTER ON ${bare}`));
  if (c.table && c.replicaIdentity) {
    out.push(...at(Phase.settings, `ALTER TABLE ${c.table} REPLICA IDENTITY USING INDEX ${bare}`));
  }
  return ordered(out);
}
