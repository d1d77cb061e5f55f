/**
 * An altered column (`alterColumn`): its type, nullability and default before, and what a
 * type change makes Postgres re-parse — CHECK constraints and expression or partial indexes
 * on the column — so that the reversal puts back the captured definitions, not re-parsed
 * ones (a `citext` check otherwise comes back with `::text` casts). A type change also resets
 * the column's storage; the reversal sets it, its compression and statistics target again.
 *
 * @module
 */

import type { Queryable } from "../db/database.ts";
import { quoteIdent, quoteName } from "../migration/quote.ts";
import { type AlterCapture, columnExtras, columnJson, COLUMNS_FROM } from "./column.ts";
import { at, type CatalogContext, ordered, Phase, type Phased } from "./context.ts";
import { addConstraint, constraintExtras, constraintsSql, dropConstraint } from "./constraint.ts";
import { createIndex, indexesSql, indexExtras } from "./index.ts";

export type { AlterCapture };

/** Captures a column before `alterColumn`, or undefined when it does not exist. */
export async function captureAlter(
  db: Queryable,
  ctx: CatalogContext,
  table: string,
  column: string,
): Promise<AlterCapture | undefined> {
  const attnum = `(select attnum from pg_attribute where attrelid = c.oid and attname = $2 and not attisdropped)`;
  const involves =
    `exists (select 1 from pg_depend dp where dp.classid = 'pg_class'::regclass and dp.objid = i.indexrelid
     and dp.refclassid = 'pg_class'::regclass and dp.refobjid = i.indrelid and dp.refobjsubid = ${attnum})
     and (i.indexprs is not null or i.indpred is not null)`;
  const [row] = await db.query<{ column: AlterCapture["column"] | null; constraints: unknown; indexes: unknown }>(
    `select (select ${columnJson(ctx)} ${COLUMNS_FROM} and a.attname = $2) as column,
        ${constraintsSql(ctx, `k.contype = 'c' and ${attnum} = any(k.conkey)`)} as constraints,
        ${indexesSql(ctx, involves)} as indexes
       from pg_class c where c.oid = to_regclass($1)`,
    [table, column],
  );
  const found = row?.column;
  if (!found) return undefined;
  return {
    kind: "alter",
    type: found.type,
    notNull: Boolean(found.notNull),
    default: found.default ?? null,
    column: found,
    constraints: (row.constraints ?? []) as NonNullable<AlterCapture["constraints"]>,
    indexes: (row.indexes ?? []) as NonNullable<AlterCapture["indexes"]>,
  };
}

/** The changes `alterColumn` made, as far as restoring needs them. */
export interface AlterChanges {
  readonly type?: string;
  readonly nullable?: boolean;
  readonly default?: string | null;
}

/** Statements that restore the column as it was before `alterColumn`. */
export function restoreColumn(table: string, column: string, changes: AlterChanges, before: AlterCapture): string[] {
  const alter = `ALTER TABLE ${quoteName(table)} ALTER COLUMN ${quoteIdent(column)}`;
  const statements: string[] = [];
  const typeChanged = changes.type !== undefined;
  const defaultTouched = typeChanged || "default" in changes;
  // The current default may not cast back to the old type: drop it before changing the type.
  if (defaultTouched) statements.push(`${alter} DROP DEFAULT`);
  if (typeChanged) {
    // A type change without COLLATE resets the collation: put the captured one back.
    const collate = before.column?.collation ? ` COLLATE ${before.column.collation}` : "";
    statements.push(`${alter} TYPE ${before.type}${collate} USING ${quoteIdent(column)}::${before.type}`);
  }
  if (changes.nullable !== undefined) {
    const nn = before.column?.notNullConstraint;
    // PG 18 names NOT NULL constraints: SET NOT NULL would make up a new name.
    if (changes.nullable === true && before.notNull && nn && nn.valid) {
      statements.push(
        `ALTER TABLE ${quoteName(table)} ADD CONSTRAINT ${quoteIdent(nn.name)} NOT NULL ${quoteIdent(column)}${
          nn.noInherit ? " NO INHERIT" : ""
        }`,
      );
    } else statements.push(`${alter} ${before.notNull ? "SET" : "DROP"} NOT NULL`);
  }
  if (defaultTouched && before.default !== null) statements.push(`${alter} SET DEFAULT ${before.default}`);
  if (!typeChanged) return statements;
  // Put back what the type change re-parsed, as it was.
  const extra: Phased[] = [];
  for (const k of before.constraints ?? []) {
    extra.push(...at(Phase.constraints, dropConstraint(k), addConstraint(k)), ...constraintExtras(k));
  }
  for (const i of before.indexes ?? []) {
    extra.push(...at(Phase.indexes, `DROP INDEX ${i.name}`, createIndex(i)), ...indexExtras(i));
  }
  if (before.column) {
    // Only what a type change resets: storage, compression, statistics.
    extra.push(...columnExtras(quoteName(table), before.column).filter((p) => p.phase === Phase.columns));
  }
  return [...statements, ...ordered(extra)];
}
