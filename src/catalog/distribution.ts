/**
 * Citus distribution: what a table *is* on a Citus coordinator (distributed by a column,
 * single-shard, reference, Citus-managed local), read from `pg_dist_partition`,
 * `pg_dist_shard` and `pg_dist_colocation`, and the calls that make a re-created table that
 * again. Distribution is not part of a table's DDL: without this a reversal gives back a plain
 * local table on the coordinator.
 *
 * Everything here is a no-op on a database without the citus extension: whether
 * `pg_dist_partition` exists comes with the catalog context (readContext, the same round trip as
 * the server's version). A table part (part.ts): stored under `TableCapture.parts.distribution`,
 * rendered in its own phase after CREATE TABLE and before the foreign keys, which need the
 * colocation or the reference table.
 *
 * @module
 */

import type { Queryable } from "../db/database.ts";
import { quoteLiteral } from "../migration/quote.ts";
import { at, Phase } from "./context.ts";
import type { TablePart } from "./part.ts";
import type { TableCapture } from "./table.ts";

/** How Citus held a table when it was captured. */
export interface DistributionCapture {
  /**
   * `distributed`: hash-distributed by `column`. `single-shard`: distributed without a column
   * (one shard). `reference`: a copy on every node. `local`: a Citus-managed local table on
   * the coordinator. `other`: a method tide cannot re-create (append, range).
   */
  readonly type: "distributed" | "single-shard" | "reference" | "local" | "other";
  /** `pg_dist_partition.partmethod`: `h` hash, `n` none, `a` append, `r` range. */
  readonly method: string;
  /** The distribution column, or null. */
  readonly column: string | null;
  readonly shardCount: number;
  /** `pg_dist_partition.repmodel`: `s` statement, `t` two-phase (reference), `c` streaming. */
  readonly replicationModel: string;
  /**
   * Tables in the same colocation group then (quoted, schema-qualified): those linked to it by a
   * foreign key first (the key needs the colocation), then by name.
   */
  readonly colocatedWith: readonly string[];
  /** A local table Citus added to its metadata by itself (a foreign key to a reference table). */
  readonly autoConverted: boolean;
}

/**
 * The table part: captured only on a Citus database, for tables Citus knows; re-created after
 * the table, before its constraints. A partition is distributed with its parent by Citus itself.
 */
export const distribution: TablePart<DistributionCapture> = {
  key: "distribution",
  capture: (db, ctx, table) => (ctx.citus ? captureDistribution(db, table) : Promise.resolve(undefined)),
  render: (d, t) => (t.partitionOf ? [] : at(Phase.distribution, ...distributeStatements(t.table, d))),
};

/** The distribution a table capture holds, if any. */
export function distributionOf(t: TableCapture): DistributionCapture | undefined {
  return t.parts?.distribution as DistributionCapture | undefined;
}

/** What the plan says about a dropped table's distribution; empty for a table Citus did not know. */
export function distributionNotes(t: TableCapture, table: string): string[] {
  const d = distributionOf(t);
  return d === undefined || t.partitionOf ? [] : [distributionNote(table, d)];
}

/** Whether the database has the citus extension (its catalog exists). */
export const CITUS_PRESENT = "select to_regclass('pg_catalog.pg_dist_partition') is not null as citus";

const CAPTURE = `
select p.partmethod::text as method,
  case when p.partkey is not null then column_to_column_name(p.logicalrelid, p.partkey) end as column,
  p.repmodel::text as "replicationModel", p.colocationid::int as colocation, coalesce(p.autoconverted, false) as "autoConverted",
  (select count(*) from pg_dist_shard s where s.logicalrelid = p.logicalrelid)::int as "shardCount",
  (select coalesce(json_agg(q.name order by not q.linked, q.name), '[]')::text from (
     select format('%I.%I', n.nspname, c.relname) as name,
            exists (select 1 from pg_constraint k where k.contype = 'f'
                     and ((k.conrelid = p.logicalrelid and k.confrelid = o.logicalrelid)
                       or (k.conrelid = o.logicalrelid and k.confrelid = p.logicalrelid))) as linked
       from pg_dist_partition o join pg_class c on c.oid = o.logicalrelid join pg_namespace n on n.oid = c.relnamespace
      where p.colocationid <> 0 and o.colocationid = p.colocationid and o.logicalrelid <> p.logicalrelid) q) as colocated
from pg_dist_partition p where p.logicalrelid = to_regclass($1)`;

/** Reads how Citus holds `table` (quoted, qualified); undefined for a table Citus does not know. */
export async function captureDistribution(db: Queryable, table: string): Promise<DistributionCapture | undefined> {
  const [row] = await db.query<{
    method: string;
    column: string | null;
    replicationModel: string;
    colocation: number;
    autoConverted: boolean;
    shardCount: number;
    colocated: string;
  }>(CAPTURE, [table]);
  if (row === undefined) return undefined;
  const column = row.column ?? null;
  const type = row.method === "h"
    ? "distributed"
    : row.method !== "n"
    ? "other"
    : row.replicationModel === "t"
    ? "reference"
    : Number(row.colocation) === 0
    ? "local"
    : "single-shard";
  return {
    type,
    method: row.method,
    column,
    shardCount: Number(row.shardCount),
    replicationModel: row.replicationModel,
    colocatedWith: JSON.parse(row.colocated) as string[],
    autoConverted: Boolean(row.autoConverted),
  };
}

/** Why a captured distribution cannot be re-created, or undefined when it can. */
export function distributionProblem(table: string, d: DistributionCapture): string | undefined {
  if (d.type !== "other") return undefined;
  return `table ${table} was distributed by Citus' ${
    d.method === "a" ? "append" : d.method === "r" ? "range" : `"${d.method}"`
  } method, which tide cannot re-create: reverse it with a hand-written backwards`;
}

/**
 * The statements that make a re-created table what it was: distributed again, colocated with
 * the tables it was colocated with when those are still distributed (else in a new colocation
 * group with the same shard count), a reference table, or a Citus-managed local table.
 */
export function distributeStatements(table: string, d: DistributionCapture): string[] {
  const t = quoteLiteral(table);
  switch (d.type) {
    case "reference":
      return [`SELECT create_reference_table(${t})`];
    case "local":
      // Re-adding its foreign key to a reference table converts it again, as it was made.
      return d.autoConverted ? [] : [`SELECT citus_add_local_table_to_metadata(${t})`];
    case "distributed":
    case "single-shard": {
      const column = d.column === null ? "NULL" : quoteLiteral(d.column);
      const alone = `PERFORM create_distributed_table(${t}, ${column}${
        d.type === "distributed" ? `, shard_count := ${d.shardCount}` : ""
      }, colocate_with := 'none');`;
      if (d.colocatedWith.length === 0) {
        return [
          `SELECT create_distributed_table(${t}, ${column}${
            d.type === "distributed" ? `, shard_count := ${d.shardCount}` : ""
          }, colocate_with := 'none')`,
        ];
      }
      // Which of its old colocation partners is still distributed is known only when it runs:
      // decide there, so that the run and the --preview script (psql) do the same.
      const peers = d.colocatedWith.map((p) => `(${quoteLiteral(p)}, ${d.colocatedWith.indexOf(p)})`).join(", ");
      return [
        `DO $tide$ DECLARE peer text := (SELECT p.logicalrelid::regclass::text FROM (VALUES ${peers}) AS v(name, i) ` +
        `JOIN pg_dist_partition p ON p.logicalrelid = to_regclass(v.name) WHERE p.colocationid <> 0 ORDER BY v.i LIMIT 1); ` +
        `BEGIN IF peer IS NOT NULL THEN PERFORM create_distributed_table(${t}, ${column}, colocate_with := peer); ` +
        `ELSE ${alone} END IF; END $tide$`,
      ];
    }
    case "other":
      return [];
  }
}

/** What the plan says about re-distributing a table. */
export function distributionNote(table: string, d: DistributionCapture): string {
  switch (d.type) {
    case "reference":
      return `re-creates "${table}" as a Citus reference table (create_reference_table)`;
    case "local":
      return d.autoConverted
        ? `"${table}" was a Citus-managed local table added by Citus itself: re-adding its foreign keys to reference tables adds it again`
        : `re-adds "${table}" to Citus' metadata as a local table (citus_add_local_table_to_metadata)`;
    case "other":
      return distributionProblem(table, d)!;
    default: {
      const how = d.type === "distributed"
        ? `by "${d.column}" (hash, ${d.shardCount} shards)`
        : "as a single-shard table";
      const where = d.colocatedWith.length === 0
        ? `in a colocation group of its own, as it was`
        : `colocated with ${d.colocatedWith.join(", ")} (the first of them still distributed when it runs), ` +
          `else, when none is, in a new colocation group of ${d.shardCount} shard(s)`;
      return `distributes "${table}" again ${how}, ${where}`;
    }
  }
}

/**
 * The statement that makes a migration's transaction use one connection per node. Citus refuses
 * many sequences in one transaction otherwise: a foreign key to a reference table after a
 * parallel multi-shard command (distributing a table, an UPDATE of a distributed table, DDL on
 * one), which is what reversals and ordinary migrations do.
 */
export const SEQUENTIAL_MODE = "SET LOCAL citus.multi_shard_modify_mode TO 'sequential'";

/** What the plan says about sequential mode on a Citus database. */
export const SEQUENTIAL_NOTICE =
  "this database runs Citus: each migration's transaction runs with SET LOCAL citus.multi_shard_modify_mode TO " +
  "'sequential' (one connection per node), without which Citus refuses foreign keys to reference tables after a " +
  "multi-shard command in the same transaction; steps with concurrently: true run outside it, in parallel";

const known = new WeakMap<object, Promise<boolean>>();

/**
 * Whether the database has Citus, asked once per open database (PGlite never has it). Pass the
 * session's database, not a transaction handle, for the answer to be kept.
 */
export function isCitus(db: Queryable & { readonly kind?: string }): Promise<boolean> {
  if (db.kind === "pglite") return Promise.resolve(false);
  let answer = known.get(db);
  if (answer === undefined) {
    answer = db.query<{ citus: boolean }>(CITUS_PRESENT).then(([row]) => Boolean(row?.citus));
    known.set(db, answer);
  }
  return answer;
}

/**
 * Which of `columns` ([quoted table, column] pairs) are distribution columns, by index: Citus
 * refuses to drop them, and a reversal could not re-add one. Empty, after one query, on a
 * database without Citus.
 */
export async function distributionColumns(
  db: Queryable,
  columns: readonly (readonly [table: string, column: string])[],
): Promise<number[]> {
  if (columns.length === 0 || !(await isCitus(db))) return [];
  const rows = await db.query<{ i: number }>(
    `select t.i::int as i from unnest($1::text[], $2::text[]) with ordinality as t(tbl, col, i)
      join pg_dist_partition p on p.logicalrelid = to_regclass(t.tbl)
     where p.partkey is not null and column_to_column_name(p.logicalrelid, p.partkey) = t.col order by 1`,
    [columns.map((c) => c[0]), columns.map((c) => c[1])],
  );
  return rows.map((r) => Number(r.i) - 1);
}
