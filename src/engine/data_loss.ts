/**
 * The data-loss preflight: which statements of a plan destroy data, and how much, measured on
 * the live database before anything runs. Cheap on big tables: above a threshold the
 * catalog's estimates are used, and the finding says so.
 *
 * @module
 */

import { ConnectionLostError, type Queryable } from "../db/database.ts";
import { quoteIdent, quoteName } from "../migration/quote.ts";
import type { DataTarget } from "../migration/render.ts";
import { eachPlanned, type Plan, type PlannedMigration } from "./plan.ts";

/** One thing a plan would destroy. */
export interface DataLoss {
  /** `<app> <id>` of the migration. */
  readonly migration: string;
  /** e.g. `table band`, `column band.name`, `cast band.popularity to integer`. */
  readonly object: string;
  /** Rows (or non-null values) lost or altered; for casts, values that change or fail. */
  readonly rows: number;
  /** True when `rows` is the catalog's estimate, not a count. */
  readonly estimated: boolean;
  /** Extra words, e.g. that a cast fails. */
  readonly detail?: string;
}

/** Options of {@linkcode measureDataLoss}. */
export interface DataLossOptions {
  /** Count exactly below this many rows (by the catalog's estimate). @default 1_000_000 */
  readonly exactBelow?: number;
}

const RAW_DESTRUCTIVE =
  /^\s*(truncate(?:\s+table)?|drop\s+table(?:\s+if\s+exists)?|delete\s+from)\s+((?:"[^"]+"|[\w$]+)(?:\.(?:"[^"]+"|[\w$]+))?)(\s+where\s+([\s\S]*?))?\s*;?\s*$/i;

/** A cast or a raw statement of a plan: measured one by one. */
type Single =
  | {
    readonly kind: "cast";
    readonly migration: string;
    readonly target: DataTarget & { kind: "cast" };
    readonly object: string;
    readonly seq: number;
  }
  | { readonly kind: "raw"; readonly migration: string; readonly sql: string; readonly seq: number };

/**
 * What a plan's steps would destroy, collected migration by migration in plan order, without
 * a query: the planner collects them as it plans each migration, so that the preflight need
 * not plan a long plan's listing entries again.
 */
export class DataLossTargets {
  readonly #names = new Renames();
  readonly #targets: Target[] = [];
  readonly #singles: Single[] = [];
  #seq = 0;

  /** Adds the next migration of the plan (planned in full). */
  add(m: PlannedMigration): void {
    const migration = `${m.app} ${m.id}`;
    for (const unit of m.operations) {
      for (const target of unit.rendered.destroys) {
        // Findings name the object as the step sees it; the count comes from its name now.
        const now = this.#names.resolve(target);
        const seq = this.#seq++;
        if (now.kind === "cast") {
          this.#singles.push({
            kind: "cast",
            migration,
            target: now,
            object: `${objectName(target)} to ${now.type}`,
            seq,
          });
        } else {
          this.#targets.push({ migration, label: objectName(target), target: now, seq });
        }
      }
      this.#names.follow(unit);
      const rawSql = unit.op === undefined || unit.op.kind === "raw" || unit.op.kind === "rawBackwards";
      if (!rawSql) continue;
      for (const step of unit.rendered.steps) {
        if ("sql" in step) this.#singles.push({ kind: "raw", migration, sql: step.sql, seq: this.#seq++ });
      }
    }
  }

  get targets(): readonly Target[] {
    return this.#targets;
  }

  get singles(): readonly Single[] {
    return this.#singles;
  }
}

/** Measures, on the database as it is now, what each migration of the plan would destroy. */
export async function measureDataLoss(db: Queryable, plan: Plan, options: DataLossOptions = {}): Promise<DataLoss[]> {
  const exactBelow = options.exactBelow ?? 1_000_000;
  // Walk the plan in order to know each object's name now (done while planning, when the
  // planner collected it); then measure tables and columns with two queries whatever the
  // plan's size, and the rare casts and raw deletes one by one.
  let collected = plan.dataLoss;
  if (collected === undefined) {
    collected = new DataLossTargets();
    // A long plan's listing entries carry no operations: they are planned again, batch by batch.
    for await (const m of eachPlanned(plan)) collected.add(m);
  }
  const targets = [...collected.targets];
  // Before the singles start: were their queries in flight while this one failed (a lost
  // connection), they would reject with nothing yet awaiting them, and Deno ends the process
  // on an unhandled rejection instead of reporting the run.
  targets.push(...(await partitionTargets(db, targets)));
  const single = collected.singles.map((s) =>
    s.kind === "cast"
      ? measureCast(db, s.target, exactBelow).then((f) =>
        f ? { migration: s.migration, ...f, object: s.object, seq: s.seq } : undefined
      )
      : measureRaw(db, s.sql, exactBelow).then((f) => (f ? { migration: s.migration, ...f, seq: s.seq } : undefined))
  );
  // Awaited together: when one fails (a lost connection), none is left rejecting unobserved.
  const [measured, singles] = await Promise.all([
    measureMany(db, targets.map((t) => t.target), exactBelow),
    Promise.all(single),
  ]);
  const findings = targets.map((
    t,
    i,
  ) => (measured[i]
    ? {
      migration: t.migration,
      ...measured[i]!,
      object: t.label,
      seq: t.seq,
      ...(t.detail ? { detail: t.detail } : {}),
    }
    : undefined)
  );
  findings.push(...singles);
  // In the order the plan's steps run.
  return findings
    .filter((f): f is DataLoss & { seq: number } => f !== undefined && f.rows > 0)
    .sort((a, b) => a.seq - b.seq)
    .map(({ seq: _seq, ...f }) => f);
}

type Finding = Omit<DataLoss, "migration">;

interface Target {
  readonly migration: string;
  readonly label: string;
  readonly target: DataTarget;
  readonly seq: number;
  readonly detail?: string;
}

/**
 * Dropping a partitioned table drops its partitions: each leaf partition of a dropped table
 * becomes a finding of its own (the parent itself holds no rows), in one query.
 */
async function partitionTargets(db: Queryable, targets: readonly Target[]): Promise<Target[]> {
  const tables = targets.filter((t) => t.target.kind === "table");
  if (tables.length === 0) return [];
  const rows = await db.query<{ i: number; part: string }>(
    `select t.i::int as i, n.nspname || '.' || c.relname as part
       from unnest($1::text[]) with ordinality as t(tbl, i)
       -- Only a partitioned table has partitions: the tree of no other is asked for.
       join pg_class p on p.oid = to_regclass(t.tbl) and p.relkind = 'p'
       cross join lateral pg_partition_tree(p.oid) pt
       join pg_class c on c.oid = pt.relid join pg_namespace n on n.oid = c.relnamespace
      where pt.isleaf and pt.level > 0
      order by t.i, pt.level, c.relname`,
    [tables.map((t) => quoteName(t.target.table))],
  );
  return rows.map((r) => {
    const parent = tables[Number(r.i) - 1]!;
    return {
      migration: parent.migration,
      label: `table ${r.part}`,
      target: { kind: "table", table: r.part },
      seq: parent.seq,
      detail: `partition of ${parent.target.table}, dropped with it`,
    };
  });
}

function objectName(t: DataTarget): string {
  return t.kind === "table" ? `table ${t.table}` : `${t.kind === "column" ? "column" : "cast"} ${t.table}.${t.column}`;
}

/**
 * Names as they are now, for objects that steps earlier in the plan rename: the database is
 * measured before anything runs, but a later step sees the names the earlier ones gave.
 */
class Renames {
  readonly #tables = new Map<string, string>();
  readonly #columns = new Map<string, string>();

  #table(name: string): string {
    return this.#tables.get(name) ?? name;
  }

  #column(table: string, column: string): string {
    return this.#columns.get(`${table}\0${column}`) ?? column;
  }

  resolve(target: DataTarget): DataTarget {
    const table = this.#table(target.table);
    if (target.kind === "table") return { ...target, table };
    return { ...target, table, column: this.#column(table, target.column) };
  }

  /** Records what a step renames, in the direction it runs. */
  follow(unit: Plan["migrations"][number]["operations"][number]): void {
    const op = unit.op;
    const forwards = unit.direction === "forwards";
    if (op?.kind === "renameTable") {
      const [from, to] = forwards ? [op.from, op.to] : [op.to, op.from];
      this.#tables.set(to, this.#table(from));
    } else if (op?.kind === "renameColumn") {
      const table = this.#table(op.table);
      const [from, to] = forwards ? [op.from, op.to] : [op.to, op.from];
      this.#columns.set(`${table}\0${to}`, this.#column(table, from));
    }
  }
}

async function estimate(db: Queryable, table: string): Promise<number | undefined> {
  const [row] = await db.query<{ n: number | null; found: boolean }>(
    "select (select reltuples::float8 from pg_class where oid = to_regclass($1)) as n, to_regclass($1) is not null as found",
    [table],
  );
  if (!row?.found) return undefined;
  return Number(row.n ?? -1);
}

async function count(db: Queryable, sql: string, params: unknown[] = []): Promise<number> {
  const [row] = await db.query<{ n: string | number }>(sql, params);
  return Number(row?.n ?? 0);
}

/**
 * Measures table and column targets with two queries: the catalog for all of them, then one
 * UNION ALL of the exact counts (only objects that exist take part, so it cannot fail on a
 * missing name).
 */
async function measureMany(
  db: Queryable,
  targets: readonly DataTarget[],
  exactBelow: number,
): Promise<(Finding | undefined)[]> {
  if (targets.length === 0) return [];
  // Table facts once per table (a plan names most tables twice: a column, then the table); the
  // sizes of a thousand relations are what this query costs, so none is asked twice.
  const catalog = await db.query<
    {
      i: number;
      found: boolean;
      rows: number | null;
      empty: boolean | null;
      has_column: boolean;
      relkind: string | null;
      citus: boolean;
    }
  >(
    `with t as (select * from unnest($1::text[], $2::text[]) with ordinality as t(tbl, col, i)),
          rel as (
            select d.tbl, c.oid, c.relkind,
                   case when c.relkind = 'p' then (select case when bool_or(l.reltuples < 0) then -1 else sum(l.reltuples) end
                       from pg_partition_tree(c.oid) pt join pg_class l on l.oid = pt.relid where pt.isleaf)
                     else c.reltuples end::float8 as rows,
                   case when c.relkind = 'p' then not exists (select 1 from pg_partition_tree(c.oid) pt
                          where pt.isleaf and pg_relation_size(pt.relid) > 0)
                        when c.oid is not null then pg_relation_size(c.oid) = 0 end as empty
              from (select distinct tbl from t) d left join pg_class c on c.oid = to_regclass(d.tbl))
     select t.i::int as i, rel.oid is not null as found, rel.relkind::text as relkind, rel.rows, rel.empty,
            (select to_regclass('pg_catalog.pg_dist_partition') is not null) as citus,
            a.attnum is not null as has_column
       from t join rel on rel.tbl = t.tbl
       left join pg_attribute a on a.attrelid = rel.oid and a.attname = t.col and not a.attisdropped
      order by t.i`,
    [targets.map((t) => quoteName(t.table)), targets.map((t) => (t.kind === "table" ? "" : t.column))],
  );
  const results: (Finding | undefined)[] = targets.map(() => undefined);
  const exact: { index: number; sql: string }[] = [];
  const estimated: { index: number; table: string; column: string; rows: number }[] = [];
  for (const [index, target] of targets.entries()) {
    const row = catalog[index];
    if (!row?.found || (target.kind !== "table" && !row.has_column)) continue;
    const rows = Number(row.rows ?? -1);
    const table = quoteName(target.table);
    const what = target.kind === "table" ? "count(*)" : `count(${quoteIdent((target as { column: string }).column)})`;
    // No page on disk: certainly no rows, nothing to count. -1 rows: never analysed, so count.
    // Citus: a distributed or reference table's shell on the coordinator has no pages and no
    // statistics while its shards hold the rows, so on a Citus database count (count(*) on the
    // coordinator fans out to the shards).
    // A partitioned table holds no rows itself: its partitions are findings of their own.
    if ((row.empty && !row.citus) || (target.kind === "table" && row.relkind === "p")) {
      results[index] = { object: "", rows: 0, estimated: false };
    } else if (rows < exactBelow) {
      exact.push({ index, sql: `select ${index}::int as i, ${what}::float8 as n from ${table}` });
    } else if (target.kind === "table") {
      results[index] = { object: "", rows: Math.round(rows), estimated: true };
    } else {
      estimated.push({ index, table, column: (target as { column: string }).column, rows });
    }
  }
  if (estimated.length > 0) {
    // A big column's non-null values, estimated from its statistics (rare: a query of its own,
    // since planning pg_stats, a large view, costs more than all the rest).
    const stats = await db.query<{ i: number; null_frac: number | null }>(
      `select t.i::int as i, (select s.null_frac::float8 from pg_stats s
                where s.schemaname = c.relnamespace::regnamespace::text and s.tablename = c.relname and s.attname = t.col)
                as null_frac
         from unnest($1::text[], $2::text[]) with ordinality as t(tbl, col, i)
         join pg_class c on c.oid = to_regclass(t.tbl)`,
      [estimated.map((e) => e.table), estimated.map((e) => e.column)],
    );
    const fractions = new Map(stats.map((r) => [Number(r.i), Number(r.null_frac ?? 0)]));
    for (const [k, e] of estimated.entries()) {
      results[e.index] = { object: "", rows: Math.round(e.rows * (1 - (fractions.get(k + 1) ?? 0))), estimated: true };
    }
  }
  if (exact.length > 0) {
    const counts = await db.query<{ i: number; n: number }>(exact.map((e) => e.sql).join("\nunion all\n"));
    for (const { i, n } of counts) results[i] = { object: "", rows: Number(n), estimated: false };
  }
  return results;
}

/** Values a type change alters (or, when the cast fails, every value and why). */
async function measureCast(
  db: Queryable,
  target: DataTarget & { kind: "cast" },
  exactBelow: number,
): Promise<Finding | undefined> {
  const table = quoteName(target.table);
  const [info] = await db.query<{ rows: number | null; type: string | null }>(
    `select (select reltuples::float8 from pg_class where oid = to_regclass($1)) as rows,
            (select format_type(atttypid, atttypmod) from pg_attribute
              where attrelid = to_regclass($1) and attname = $2 and not attisdropped) as type`,
    [table, target.column],
  );
  if (!info?.type) return undefined;
  const rows = Number(info.rows ?? -1);
  const object = `cast ${target.table}.${target.column}`;
  if (rows >= exactBelow) {
    return {
      object,
      rows: Math.round(rows),
      estimated: true,
      detail: "values that the cast may alter (estimate: every row)",
    };
  }
  const column = quoteIdent(target.column);
  try {
    // A value is altered when casting it there and back, in its own type, does not give it back.
    const altered = await count(
      db,
      `select count(*) as n from ${table} where ${column} is not null and ((${column})::${target.type})::${info.type} is distinct from ${column}`,
    );
    return { object, rows: altered, estimated: false, detail: "values the cast alters" };
  } catch (error) {
    if (error instanceof ConnectionLostError) throw error;
    const values = await count(db, `select count(${column}) as n from ${table}`);
    return { object, rows: values, estimated: false, detail: `the cast fails: ${(error as Error).message}` };
  }
}

async function measureRaw(db: Queryable, sql: string, exactBelow: number): Promise<Finding | undefined> {
  const m = RAW_DESTRUCTIVE.exec(sql);
  if (!m || sql.slice(0, m[0].length).replace(/;\s*$/, "").includes(";")) return undefined;
  const verb = m[1]!.toLowerCase().replace(/\s+/g, " ");
  const table = m[2]!;
  const rows = await estimate(db, table);
  if (rows === undefined) return undefined;
  const where = m[4];
  if (verb.startsWith("delete") && where !== undefined) {
    try {
      return {
        object: `rows of ${table} (raw delete)`,
        rows: await count(db, `select count(*) as n from ${table} where ${where}`),
        estimated: false,
      };
    } catch (error) {
      // A condition this preview cannot evaluate alone is not measured; a lost connection is no such thing.
      if (error instanceof ConnectionLostError) throw error;
      return undefined;
    }
  }
  const exact = rows < exactBelow;
  return {
    object: `table ${table} (raw ${verb.split(" ")[0]})`,
    rows: exact ? await count(db, `select count(*) as n from ${table}`) : Math.round(rows),
    estimated: !exact,
  };
}
