/**
 * Pure rendering of operations to SQL, forwards and inverted. No database is touched here:
 * captures read from the catalog come in as data, so `--preview` and the runner print and
 * run exactly the same statements.
 *
 * @module
 */

import { distributeStatements, distributionNote, distributionProblem } from "../catalog/distribution.ts";
import type { Queryable } from "../db/database.ts";
import type {
  AlterCapture,
  Capture,
  ColumnCapture,
  ColumnDropCapture,
  ConstraintCapture,
  IndexCapture,
  Operation,
  SequenceCapture,
  TableCapture,
} from "./operations.ts";
import { quoteIdent, quoteLiteral, quoteName, splitName } from "./quote.ts";

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
      const inbound = capture?.kind === "table" ? capture.inbound : [];
      return {
        ...base,
        steps: sql(...inbound.map(dropConstraint), `DROP TABLE ${quoteName(op.table)}`),
        destroys: [{ kind: "table", table: op.table }],
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
    case "dropTable":
      if (capture?.kind !== "table") return missing(`The definition of table "${op.table}"`);
      // Citus: a distribution tide cannot re-create is refused, never turned into a local table.
      if (capture.distribution && distributionProblem(op.table, capture.distribution)) {
        return { ...base, steps: [], irreversible: distributionProblem(op.table, capture.distribution)! };
      }
      return {
        ...base,
        steps: sql(...recreateTable(capture)),
        notes: [
          `rows of table "${op.table}" are not restored`,
          ...(capture.distribution ? [distributionNote(op.table, capture.distribution)] : []),
        ],
      };
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
        notes: [`values of column "${op.table}.${op.column}" are not restored`],
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
      const definition = op.concurrently
        ? capture.index.definition.replace(/^CREATE (UNIQUE )?INDEX /, "CREATE $1INDEX CONCURRENTLY ")
        : capture.index.definition;
      return {
        ...base,
        transactional: !op.concurrently,
        steps: sql(definition, ...commentOnIndex(capture.index)),
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

function dropConstraint(c: ConstraintCapture): string {
  return `ALTER TABLE ${c.table} DROP CONSTRAINT ${quoteIdent(c.name)}`;
}

function addConstraint(c: ConstraintCapture): string {
  return `ALTER TABLE ${c.table} ADD CONSTRAINT ${quoteIdent(c.name)} ${c.definition}`;
}

function sequenceOptions(s: SequenceCapture): string {
  return `START WITH ${s.start} INCREMENT BY ${s.increment} MINVALUE ${s.min} MAXVALUE ${s.max} ` +
    `CACHE ${s.cache} ${s.cycle ? "CYCLE" : "NO CYCLE"}`;
}

/** Sequences a serial column owns must exist before the column's default names them. */
function createOwnedSequences(sequences: readonly SequenceCapture[]): string[] {
  return sequences.filter((s) => s.dependency === "a").map((s) =>
    `CREATE SEQUENCE ${s.name} AS ${s.type} ${sequenceOptions(s)}`
  );
}

function ownSequences(table: string, sequences: readonly SequenceCapture[]): string[] {
  return sequences.filter((s) => s.dependency === "a").map((s) =>
    `ALTER SEQUENCE ${s.name} OWNED BY ${table}.${quoteIdent(s.column)}`
  );
}

function columnDefinition(c: ColumnCapture, sequences: readonly SequenceCapture[]): string {
  let sql = `${quoteIdent(c.name)} ${c.type}`;
  if (c.collation) sql += ` COLLATE ${c.collation}`;
  if (c.generated !== null) {
    sql += ` GENERATED ALWAYS AS (${c.generated}) STORED`;
  } else if (c.identity === "a" || c.identity === "d") {
    const seq = sequences.find((s) => s.column === c.name && s.dependency === "i");
    sql += ` GENERATED ${c.identity === "a" ? "ALWAYS" : "BY DEFAULT"} AS IDENTITY`;
    if (seq) sql += ` (SEQUENCE NAME ${seq.name} ${sequenceOptions(seq)})`;
  } else if (c.default !== null) {
    sql += ` DEFAULT ${c.default}`;
  }
  if (c.notNull) sql += " NOT NULL";
  return sql;
}

function commentOnIndex(index: IndexCapture): string[] {
  return index.comment === null ? [] : [`COMMENT ON INDEX ${index.name} IS ${quoteLiteral(index.comment)}`];
}

function comments(
  table: string,
  columns: readonly ColumnCapture[],
  constraints: readonly ConstraintCapture[],
  indexes: readonly IndexCapture[],
): string[] {
  return [
    ...columns.filter((c) => c.comment !== null).map((c) =>
      `COMMENT ON COLUMN ${table}.${quoteIdent(c.name)} IS ${quoteLiteral(c.comment!)}`
    ),
    ...constraints.filter((c) => c.comment !== null).map((c) =>
      `COMMENT ON CONSTRAINT ${quoteIdent(c.name)} ON ${c.table} IS ${quoteLiteral(c.comment!)}`
    ),
    ...indexes.flatMap(commentOnIndex),
  ];
}

/** Statements that re-create a dropped table's structure, in dependency order. */
export function recreateTable(t: TableCapture): string[] {
  if (t.distribution) return recreateDistributedTable(t);
  const elements = [
    ...t.columns.map((c) => columnDefinition(c, t.sequences)),
    ...t.constraints.map((c) => `CONSTRAINT ${quoteIdent(c.name)} ${c.definition}`),
  ];
  return [
    ...createOwnedSequences(t.sequences),
    `CREATE TABLE ${t.table} (${elements.join(", ")})`,
    ...t.indexes.map((i) => i.definition),
    ...(t.comment === null ? [] : [`COMMENT ON TABLE ${t.table} IS ${quoteLiteral(t.comment)}`]),
    ...comments(t.table, t.columns, t.constraints, t.indexes),
    ...ownSequences(t.table, t.sequences),
    ...t.inbound.map(addConstraint),
  ];
}

/**
 * Citus: the table as a local one without its foreign keys, then distributed again as it was,
 * then its foreign keys (which need the colocation or the reference table) and those pointing
 * in.
 */
function recreateDistributedTable(t: TableCapture): string[] {
  const foreign = t.constraints.filter((c) => /^FOREIGN KEY/i.test(c.definition));
  const own = t.constraints.filter((c) => !foreign.includes(c));
  const elements = [
    ...t.columns.map((c) => columnDefinition(c, t.sequences)),
    ...own.map((c) => `CONSTRAINT ${quoteIdent(c.name)} ${c.definition}`),
  ];
  return [
    ...createOwnedSequences(t.sequences),
    `CREATE TABLE ${t.table} (${elements.join(", ")})`,
    ...t.indexes.map((i) => i.definition),
    ...(t.comment === null ? [] : [`COMMENT ON TABLE ${t.table} IS ${quoteLiteral(t.comment)}`]),
    ...comments(t.table, t.columns, own, t.indexes),
    ...ownSequences(t.table, t.sequences),
    ...distributeStatements(t.table, t.distribution!),
    ...foreign.map(addConstraint),
    ...comments(t.table, [], foreign, []),
    ...t.inbound.map(addConstraint),
  ];
}

/** Statements that re-add a dropped column with what Postgres dropped along with it. */
export function readdColumn(c: ColumnDropCapture): string[] {
  return [
    ...createOwnedSequences(c.sequences),
    `ALTER TABLE ${c.table} ADD COLUMN ${columnDefinition(c.column, c.sequences)}`,
    ...c.constraints.map(addConstraint),
    ...c.indexes.map((i) => i.definition),
    ...comments(c.table, [c.column], c.constraints, c.indexes),
    ...ownSequences(c.table, c.sequences),
    ...c.inbound.map(addConstraint),
  ];
}

function restoreColumn(
  table: string,
  column: string,
  changes: { type?: string; nullable?: boolean; default?: string | null },
  before: AlterCapture,
): string[] {
  const alter = `ALTER TABLE ${quoteName(table)} ALTER COLUMN ${quoteIdent(column)}`;
  const statements: string[] = [];
  const typeChanged = changes.type !== undefined;
  const defaultTouched = typeChanged || "default" in changes;
  // The current default may not cast back to the old type: drop it before changing the type.
  if (defaultTouched) statements.push(`${alter} DROP DEFAULT`);
  if (typeChanged) statements.push(`${alter} TYPE ${before.type} USING ${quoteIdent(column)}::${before.type}`);
  if (changes.nullable !== undefined) statements.push(`${alter} ${before.notNull ? "SET" : "DROP"} NOT NULL`);
  if (defaultTouched && before.default !== null) statements.push(`${alter} SET DEFAULT ${before.default}`);
  return statements;
}
