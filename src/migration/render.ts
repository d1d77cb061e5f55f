/**
 * Pure rendering of operations to SQL, forwards and inverted. No database is touched here:
 * captures read from the catalog come in as data, so `--preview` and the runner print and
 * run exactly the same statements.
 *
 * @module
 */

import { distributionNotes, distributionOf, distributionProblem } from "../catalog/distribution.ts";
import type { Queryable } from "../db/database.ts";
import {
  allInbound,
  type Capture,
  dropConstraint,
  droppedWith,
  type NotRestored,
  notRestoredOf,
  readdColumn,
  recreateIndex,
  recreateTable,
  restoreColumn,
} from "../catalog/mod.ts";
import type { Operation } from "./operations.ts";
import { quoteIdent, quoteName, splitName } from "./quote.ts";

export { readdColumn, recreateTable };
export type { NotRestored };

/** One thing to run: a SQL statement, or a raw function step. */
export type Step =
  | { readonly sql: string }
  | { readonly run: (db: Queryable) => unknown; readonly label: string };

/** Data an operation destroys when it runs, for the data-loss preflight. */
export type DataTarget =
  | { readonly kind: "table"; readonly table: string }
  | { readonly kind: "column"; readonly table: string; readonly column: string }
  | { readonly kind: "cast"; readonly table: string; readonly column: string; readonly type: string };

/** Where a reversal comes from, as the plan shows it. */
export type ReversalSource = "operation" | "raw backwards" | "hand-written" | "none needed";

/** One operation, rendered for one direction. */
export interface RenderedOperation {
  /** Index of the operation in recording order. */
  readonly index: number;
  /** Short description, e.g. `dropTable("band")`. */
  readonly summary: string;
  readonly steps: readonly Step[];
  /** False when the steps cannot run inside a transaction block (CONCURRENTLY). */
  readonly transactional: boolean;
  /** Where the reversal comes from (backwards only). */
  readonly source: ReversalSource;
  /** Why the operation cannot be reversed, when it cannot. */
  readonly irreversible?: string;
  /** Things the user should know, e.g. that rows are not restored. */
  readonly notes: readonly string[];
  /**
   * What the reversal cannot restore (backwards, from its capture): e.g. a re-added column's
   * position. Shown in the plan, the prompt, `--preview`, `--json` and `verify`.
   */
  readonly notRestored?: readonly NotRestored[];
  readonly destroys: readonly DataTarget[];
}

/** What every rendering of an operation starts from. */
function baseOf(op: Operation, index: number) {
  return {
    index,
    summary: describeOperation(op),
    transactional: true,
    source: "operation" as const,
    notes: [] as string[],
    destroys: [] as DataTarget[],
  };
}

/** Statements as steps. */
function sql(...statements: string[]): Step[] {
  return statements.map((s) => ({ sql: s }));
}

/** Describes an operation in one line, the way it was recorded. */
export function describeOperation(op: Operation): string {
  switch (op.kind) {
    case "addTable":
    case "dropTable":
      return `${op.kind}("${op.table}")`;
    case "renameTable":
      return `renameTable("${op.from}", "${op.to}")`;
    case "addColumn":
    case "dropColumn":
    case "alterColumn":
      return `${op.kind}("${op.table}", "${op.column}")`;
    case "renameColumn":
      return `renameColumn("${op.table}", "${op.from}", "${op.to}")`;
    case "addIndex":
      return `addIndex("${op.table}", [${op.columns.map((c) => `"${c}"`).join(", ")}])`;
    case "dropIndex":
      return `dropIndex("${op.name}")`;
    case "raw":
      return `addRaw(${describeRaw(op.forwards)})`;
    case "rawBackwards":
      return `addRawBackwards(${describeRaw(op.backwards)})`;
  }
}

function describeRaw(step: unknown): string {
  if (typeof step === "function") return `function ${step.name || "(anonymous)"}`;
  const text = String(step).replace(/\s+/g, " ").trim();
  return JSON.stringify(text.length > 40 ? text.slice(0, 37) + "..." : text);
}

function rawStep(step: unknown, label: string): Step {
  if (typeof step === "function") {
    return { run: step as (db: Queryable) => unknown, label: `${label}: function ${step.name || "(anonymous)"}` };
  }
  return { sql: String(step) };
}

/**
 * Renders an operation forwards.
 *
 * @param capture What the catalog said just before it runs (drops and alters), if read.
 */
export function renderForwards(op: Operation, index: number, capture?: Capture): RenderedOperation {
  const base = baseOf(op, index);
  switch (op.kind) {
    case "addTable": {
      const columns = Object.entries(op.columns).map(([c, def]) => `${quoteIdent(c)} ${def}`);
      return { ...base, steps: sql(`CREATE TABLE ${quoteName(op.table)} (${columns.join(", ")})`) };
    }
    case "dropTable": {
      const inbound = capture?.kind === "table" ? allInbound(capture) : [];
      const along = capture?.kind === "table" ? droppedWith(capture) : [];
      return {
        ...base,
        steps: sql(...inbound.map(dropConstraint), `DROP TABLE ${quoteName(op.table)}`),
        destroys: [{ kind: "table", table: op.table }],
        notes: along.length ? [`drops the partitions of "${op.table}" with it: ${along.join(", ")}`] : [],
      };
    }
    case "renameTable":
      return { ...base, steps: sql(renameTable(op.from, op.to)) };
    case "addColumn":
      return {
        ...base,
        steps: sql(`ALTER TABLE ${quoteName(op.table)} ADD COLUMN ${quoteIdent(op.column)} ${op.definition}`),
      };
    case "dropColumn": {
      const inbound = capture?.kind === "column" ? capture.inbound : [];
      const c = capture?.kind === "column" ? capture.column : undefined;
      // Re-adding NOT NULL without a default fails on a table with rows: say so before it runs.
      const trap = c?.notNull && c.default === null && c.generated === null && c.identity === "";
      return {
        ...base,
        steps: sql(
          ...inbound.map(dropConstraint),
          `ALTER TABLE ${quoteName(op.table)} DROP COLUMN ${quoteIdent(op.column)}`,
        ),
        destroys: [{ kind: "column", table: op.table, column: op.column }],
        notes: trap
          ? [
            `"${op.table}.${op.column}" is NOT NULL without a default: reversing this re-adds it and fails while the table has rows (add a default first, or a hand-written backwards)`,
          ]
          : [],
      };
    }
    case "renameColumn":
      return { ...base, steps: sql(renameColumn(op.table, op.from, op.to)) };
    case "alterColumn": {
      const c = `ALTER COLUMN ${quoteIdent(op.column)}`;
      const parts: string[] = [];
      const { type, using, nullable } = op.changes;
      if (type !== undefined) parts.push(`${c} TYPE ${type}${using ? ` USING ${using}` : ""}`);
      if (nullable !== undefined) parts.push(`${c} ${nullable ? "DROP" : "SET"} NOT NULL`);
      if ("default" in op.changes) {
        const value = op.changes.default;
        parts.push(value === null || value === undefined ? `${c} DROP DEFAULT` : `${c} SET DEFAULT ${value}`);
      }
      return {
        ...base,
        steps: sql(`ALTER TABLE ${quoteName(op.table)} ${parts.join(", ")}`),
        destroys: type !== undefined ? [{ kind: "cast", table: op.table, column: op.column, type }] : [],
      };
    }
    case "addIndex": {
      const columns = op.columns.map(quoteIdent).join(", ");
      return {
        ...base,
        transactional: !op.concurrently,
        steps: sql(
          `CREATE ${op.unique ? "UNIQUE " : ""}INDEX ${op.concurrently ? "CONCURRENTLY " : ""}${
            quoteIdent(op.name)
          } ON ${quoteName(op.table)} (${columns})`,
        ),
      };
    }
    case "dropIndex":
      return {
        ...base,
        transactional: !op.concurrently,
        steps: sql(`DROP INDEX ${op.concurrently ? "CONCURRENTLY " : ""}${quoteName(op.name)}`),
      };
    case "raw":
      return { ...base, steps: [rawStep(op.forwards, `step ${index + 1}`)] };
    case "rawBackwards":
      return { ...base, steps: [] };
  }
}

/**
 * Renders the inverse of an operation.
 *
 * @param capture What the catalog said when the operation ran forwards (drops and alters).
 * @param coveredByRawBackwards The migration records `addRawBackwards` steps, which stand in
 *   for the reversal of its raw steps that have no backwards of their own (Piccolo's way).
 */
export function renderBackwards(
  op: Operation,
  index: number,
  capture: Capture | undefined,
  coveredByRawBackwards = false,
): RenderedOperation {
  const base = baseOf(op, index);
  const missing = (what: string): RenderedOperation => ({
    ...base,
    steps: [],
    irreversible: `${what} was not captured when it ran forwards (was the migration applied with --fake?)`,
  });
  switch (op.kind) {
    case "addTable":
      return {
        ...base,
        steps: sql(`DROP TABLE ${quoteName(op.table)}`),
        destroys: [{ kind: "table", table: op.table }],
      };
    case "dropTable": {
      if (capture?.kind !== "table") return missing(`The definition of table "${op.table}"`);
      // Citus: a distribution tide cannot re-create is refused, never turned into a local table.
      const distribution = distributionOf(capture);
      const problem = distribution && distributionProblem(op.table, distribution);
      if (problem) return { ...base, steps: [], irreversible: problem };
      return {
        ...base,
        steps: sql(...recreateTable(capture)),
        notes: [
          `rows of table "${op.table}" are not restored`,
          ...(droppedWith(capture).length ? [`nor those of its partitions ${droppedWith(capture).join(", ")}`] : []),
          ...sequenceNote(capture.sequences.map((s) => s.name)),
          ...distributionNotes(capture, op.table),
        ],
        notRestored: notRestoredOf(capture),
      };
    }
    case "renameTable":
      return { ...base, steps: sql(renameTable(op.to, op.from)) };
    case "addColumn":
      return {
        ...base,
        steps: sql(`ALTER TABLE ${quoteName(op.table)} DROP COLUMN ${quoteIdent(op.column)}`),
        destroys: [{ kind: "column", table: op.table, column: op.column }],
      };
    case "dropColumn":
      if (capture?.kind !== "column") return missing(`The definition of column "${op.table}.${op.column}"`);
      return {
        ...base,
        steps: sql(...readdColumn(capture)),
        notes: [
          `values of column "${op.table}.${op.column}" are not restored`,
          ...sequenceNote(capture.sequences.map((s) => s.name)),
        ],
        notRestored: notRestoredOf(capture),
      };
    case "renameColumn":
      return { ...base, steps: sql(renameColumn(op.table, op.to, op.from)) };
    case "alterColumn":
      if (capture?.kind !== "alter") return missing(`The previous state of column "${op.table}.${op.column}"`);
      return {
        ...base,
        steps: sql(...restoreColumn(op.table, op.column, op.changes, capture)),
        destroys: op.changes.type !== undefined
          ? [{ kind: "cast", table: op.table, column: op.column, type: capture.type }]
          : [],
      };
    case "addIndex": {
      const { schema } = splitName(op.table);
      const name = schema === undefined ? quoteIdent(op.name) : `${quoteIdent(schema)}.${quoteIdent(op.name)}`;
      return {
        ...base,
        transactional: !op.concurrently,
        steps: sql(`DROP INDEX ${op.concurrently ? "CONCURRENTLY " : ""}${name}`),
      };
    }
    case "dropIndex": {
      if (capture?.kind !== "index") return missing(`The definition of index "${op.name}"`);
      return {
        ...base,
        transactional: !op.concurrently,
        steps: sql(...recreateIndex(capture, op.concurrently)),
      };
    }
    case "raw":
      if (op.backwards !== undefined) {
        return { ...base, source: "raw backwards", steps: [rawStep(op.backwards, `step ${index + 1} backwards`)] };
      }
      if (coveredByRawBackwards) {
        return {
          ...base,
          source: "none needed",
          steps: [],
          notes: ["reversed by the migration's addRawBackwards steps"],
        };
      }
      return {
        ...base,
        source: "raw backwards",
        steps: [],
        irreversible: `raw step ${index + 1} (${
          describeOperation(op)
        }) has no backwards: pass one as addRaw's second argument`,
      };
    case "rawBackwards":
      return { ...base, source: "raw backwards", steps: [rawStep(op.backwards, `step ${index + 1}`)] };
  }
}

function renameTable(from: string, to: string): string {
  return `ALTER TABLE ${quoteName(from)} RENAME TO ${quoteIdent(splitName(to).name)}`;
}

function renameColumn(table: string, from: string, to: string): string {
  return `ALTER TABLE ${quoteName(table)} RENAME COLUMN ${quoteIdent(from)} TO ${quoteIdent(to)}`;
}

/** Re-created sequences start again: their position is data, like rows. */
function sequenceNote(names: readonly string[]): string[] {
  return names.length ? [`sequence(s) ${names.join(", ")} start again from their START value`] : [];
}
