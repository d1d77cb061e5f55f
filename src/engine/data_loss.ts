/**
 * The data-loss preflight: which statements of a plan destroy data, and how much, measured on
 * the live database before anything runs. Cheap on big tables: above a threshold the
 * catalog's estimates are used, and the finding says so.
 *
 * @module
 */

import type { Queryable } from "../db/database.ts";
import { quoteIdent, quoteName } from "../migration/quote.ts";
import type { DataTarget } from "../migration/render.ts";
import type { Plan } from "./plan.ts";

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

/** Measures, on the database as it is now, what each migration of the plan would destroy. */
export async function measureDataLoss(db: Queryable, plan: Plan, options: DataLossOptions = {}): Promise<DataLoss[]> {
  const exactBelow = options.exactBelow ?? 1_000_000;
  const findings: DataLoss[] = [];
  const names = new Renames();
  for (const m of plan.migrations) {
    const migration = `${m.app} ${m.id}`;
    for (const unit of m.operations) {
      for (const target of unit.rendered.destroys) {
        const found = await measureTarget(db, names.resolve(target), exactBelow);
        // Findings name the object as the step sees it; the count comes from its name now.
        if (found) {
          findings.push({
            migration,
            ...found,
            object: found.object.replace(objectName(names.resolve(target)), objectName(target)),
          });
        }
      }
      names.follow(unit);
      const rawSql = unit.op === undefined || unit.op.kind === "raw" || unit.op.kind === "rawBackwards";
      if (!rawSql) continue;
      for (const step of unit.rendered.steps) {
        if (!("sql" in step)) continue;
        const found = await measureRaw(db, step.sql, exactBelow);
        if (found) findings.push({ migration, ...found });
      }
    }
  }
  return findings.filter((f) => f.rows > 0);
}

type Finding = Omit<DataLoss, "migration">;

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

async function measureTarget(db: Queryable, target: DataTarget, exactBelow: number): Promise<Finding | undefined> {
  const table = quoteName(target.table);
  const rows = await estimate(db, table);
  if (rows === undefined) return undefined;
  const exact = rows < exactBelow; // -1: never analysed, so count
  if (target.kind === "table") {
    return exact
      ? {
        object: `table ${target.table}`,
        rows: await count(db, `select count(*) as n from ${table}`),
        estimated: false,
      }
      : { object: `table ${target.table}`, rows: Math.round(rows), estimated: true };
  }
  const exists = await count(
    db,
    "select count(*) as n from pg_attribute where attrelid = to_regclass($1) and attname = $2 and not attisdropped",
    [table, target.column],
  );
  if (exists === 0) return undefined;
  const column = quoteIdent(target.column);
  if (target.kind === "column") {
    if (exact) {
      return {
        object: `column ${target.table}.${target.column}`,
        rows: await count(db, `select count(${column}) as n from ${table}`),
        estimated: false,
      };
    }
    const [stats] = await db.query<{ f: number | null }>(
      "select null_frac::float8 as f from pg_stats where schemaname = (select relnamespace::regnamespace::text from pg_class where oid = to_regclass($1)) and tablename = (select relname from pg_class where oid = to_regclass($1)) and attname = $2",
      [table, target.column],
    );
    return {
      object: `column ${target.table}.${target.column}`,
      rows: Math.round(rows * (1 - Number(stats?.f ?? 0))),
      estimated: true,
    };
  }
  const object = `cast ${target.table}.${target.column} to ${target.type}`;
  if (!exact) {
    return {
      object,
      rows: Math.round(rows),
      estimated: true,
      detail: "values that the cast may alter (estimate: every row)",
    };
  }
  const [current] = await db.query<{ type: string }>(
    "select format_type(atttypid, atttypmod) as type from pg_attribute where attrelid = to_regclass($1) and attname = $2",
    [table, target.column],
  );
  try {
    // A value is altered when casting it there and back, in its own type, does not give it back.
    const altered = await count(
      db,
      `select count(*) as n from ${table} where ${column} is not null and ((${column})::${target.type})::${
        current!.type
      } is distinct from ${column}`,
    );
    return { object, rows: altered, estimated: false, detail: "values the cast alters" };
  } catch (error) {
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
    } catch {
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
