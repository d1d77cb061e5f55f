/**
 * The preflight of retained drops (issue 15): what a plan retains rather than destroys, with
 * rows and bytes, measured before anything runs; and the retained column drops that cannot
 * keep their values (no usable key), which are data loss like any plain drop.
 *
 * @module
 */

import type { Queryable } from "../db/database.ts";
import type { DataLoss } from "../engine/data_loss.ts";
import type { Plan } from "../engine/plan.ts";
import { quoteIdent, quoteName } from "../migration/quote.ts";
import { columnKey } from "./capture.ts";

/** One object a plan retains: restorable by backwards until `tide purge`. */
export interface RetainedFinding {
  /** `<app> <id>` of the migration. */
  readonly migration: string;
  /** e.g. `table band`, `column customer.vat_id`. */
  readonly object: string;
  /** Rows held (for a column: rows of its table, each keeping its value). */
  readonly rows: number;
  /** Bytes of the table (a column's copy reads the whole table). */
  readonly bytes: number;
  /** True when `rows` is the catalog's estimate. */
  readonly estimated: boolean;
}

/** Measures what each migration of the plan retains, and which retained drops cannot retain. */
export async function measureRetention(
  db: Queryable,
  plan: Plan,
  options: { exactBelow?: number } = {},
): Promise<{ retained: RetainedFinding[]; lost: DataLoss[] }> {
  const exactBelow = options.exactBelow ?? 1_000_000;
  const retained: RetainedFinding[] = [];
  const lost: DataLoss[] = [];
  for (const m of plan.migrations) {
    const migration = `${m.app} ${m.id}`;
    for (const unit of m.operations) {
      for (const target of unit.rendered.retains ?? []) {
        const table = quoteName(target.table);
        const [info] = await db.query<{ found: boolean; reltuples: number | null; bytes: string | null }>(
          `select c.oid is not null as found, c.reltuples::float8 as reltuples,
                  case when c.relkind = 'p'
                    then (select sum(pg_total_relation_size(p.relid))::int8::text from pg_partition_tree(c.oid) p)
                    else pg_total_relation_size(c.oid)::text end as bytes
             from (select to_regclass($1) as oid) r left join pg_class c on c.oid = r.oid`,
          [table],
        );
        // Created earlier in the same plan: nothing to measure yet, as with the data-loss preflight.
        if (!info?.found) continue;
        const estimate = Number(info.reltuples ?? -1);
        const exact = estimate < exactBelow;
        const count = async (what: string) =>
          exact
            ? Number((await db.query<{ n: number }>(`select count(${what})::float8 as n from ${table}`))[0]?.n ?? 0)
            : Math.round(estimate);
        if (target.kind === "column") {
          const key = await columnKey(db, table, target.column);
          if ("reason" in key) {
            const values = await count(quoteIdent(target.column));
            if (values > 0) {
              lost.push({
                migration,
                object: `column ${target.table}.${target.column}`,
                rows: values,
                estimated: !exact,
                detail: `its values cannot be retained: ${key.reason}`,
              });
            }
            continue;
          }
        }
        retained.push({
          migration,
          object: target.kind === "table" ? `table ${target.table}` : `column ${target.table}.${target.column}`,
          rows: await count("*"),
          bytes: Number(info.bytes ?? 0),
          estimated: !exact,
        });
      }
    }
  }
  return { retained, lost };
}
