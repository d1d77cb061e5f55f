/**
 * The SQL of retained drops (issue 15): moving a table aside and back, holding a column's
 * values by key and putting them back. Pure: captures come in as data, so `--preview` and the
 * run print and run the same statements.
 *
 * @module
 */

import { allInbound } from "../catalog/mod.ts";
import type {
  Capture,
  ColumnDropCapture,
  ConstraintCapture,
  Operation,
  TableCapture,
} from "../migration/operations.ts";
import type { DataTarget } from "../migration/render.ts";
import { quoteIdent, quoteLiteral, quoteName } from "../migration/quote.ts";
import { type MovedRelation, RETAINED_SCHEMA, type RetainedColumn, type RetainedTable } from "./model.ts";

const SCHEMA = quoteIdent(RETAINED_SCHEMA);

/** The retained schema, created on first use, closed to everyone but its owner. */
export function ensureRetainedSchema(): string[] {
  return [`CREATE SCHEMA IF NOT EXISTS ${SCHEMA}`, `REVOKE ALL ON SCHEMA ${SCHEMA} FROM PUBLIC`];
}

/**
 * The retained schema goes when the last held object has: a database whose retained drops were
 * all reversed or purged is pg_dump-identical to one that never had any.
 */
export function dropRetainedSchemaIfEmpty(): string {
  // Citus refuses schema DDL after a parallel multi-shard statement in the same transaction
  // (XX000): the empty schema then stays, which changes nothing for anyone but its owner.
  return `DO $tide$ BEGIN DROP SCHEMA IF EXISTS ${SCHEMA}; ` +
    "EXCEPTION WHEN dependent_objects_still_exist OR internal_error THEN NULL; END $tide$";
}

/** The qualified, quoted name of something held in the retained schema. */
export function heldName(name: string): string {
  return `${SCHEMA}.${quoteIdent(name)}`;
}

function qualified(schema: string, name: string): string {
  return `${quoteIdent(schema)}.${quoteIdent(name)}`;
}

function dropConstraint(c: ConstraintCapture): string {
  return `ALTER TABLE ${c.table} DROP CONSTRAINT ${quoteIdent(c.name)}`;
}

function addConstraint(c: ConstraintCapture): string[] {
  return [
    `ALTER TABLE ${c.table} ADD CONSTRAINT ${quoteIdent(c.name)} ${c.definition}`,
    ...(c.comment === null
      ? []
      : [`COMMENT ON CONSTRAINT ${quoteIdent(c.name)} ON ${c.table} IS ${quoteLiteral(c.comment)}`]),
  ];
}

const KEYWORD = { table: "TABLE", index: "INDEX", sequence: "SEQUENCE" } as const;

/**
 * Forwards: the table leaves everything that would keep it in use (inbound foreign keys,
 * publications, its partitioned parent), its relations take unique names, and it moves into
 * the retained schema with indexes, constraints, triggers, policies, grants, owner, comments,
 * rules, statistics, sequences and partitions still attached.
 */
export function moveTableAside(capture: TableCapture, r: RetainedTable): string[] {
  const tables = r.relations.filter((m) => m.kind === "table");
  return [
    ...ensureRetainedSchema(),
    // Foreign keys pointing at the table or at any partition below it.
    ...allInbound(capture).map(dropConstraint),
    ...r.publications.map((p) => `ALTER PUBLICATION ${quoteIdent(p.publication)} DROP TABLE ${p.table}`),
    ...(r.partitionOf ? [`ALTER TABLE ${r.partitionOf.parent} DETACH PARTITION ${capture.table}`] : []),
    // Unique names before the move: two held tables may both have had a "band_pkey".
    ...r.relations.filter((m) => m.kind !== "table").map((m) =>
      `ALTER ${KEYWORD[m.kind]} ${qualified(m.schema, m.name)} RENAME TO ${quoteIdent(m.retained)}`
    ),
    ...tables.flatMap((m) => [
      `ALTER TABLE ${qualified(m.schema, m.name)} RENAME TO ${quoteIdent(m.retained)}`,
      `ALTER TABLE ${qualified(m.schema, m.retained)} SET SCHEMA ${SCHEMA}`,
    ]),
  ];
}

/** Backwards: the very same table moves home, takes its names back and rejoins what it left. */
export function moveTableBack(capture: TableCapture, r: RetainedTable): string[] {
  const tables = r.relations.filter((m) => m.kind === "table");
  const others = r.relations.filter((m) => m.kind !== "table");
  return [
    ...tables.flatMap((m) => [
      `ALTER TABLE ${heldName(m.retained)} SET SCHEMA ${quoteIdent(m.schema)}`,
      `ALTER TABLE ${qualified(m.schema, m.retained)} RENAME TO ${quoteIdent(m.name)}`,
    ]),
    ...others.flatMap((m) => renameHome(m)),
    ...rejoin(capture, r),
    dropRetainedSchemaIfEmpty(),
  ];
}

/** Indexes and owned sequences moved with their table: their names back (and a sequence's schema). */
function renameHome(m: MovedRelation): string[] {
  const landed = m.landsIn ?? m.schema;
  return [
    `ALTER ${KEYWORD[m.kind]} ${qualified(landed, m.retained)} RENAME TO ${quoteIdent(m.name)}`,
    ...(landed !== m.schema ? [`ALTER SEQUENCE ${qualified(landed, m.name)} SET SCHEMA ${quoteIdent(m.schema)}`] : []),
  ];
}

/** What a table left when it was moved aside: its parent, its publications, inbound keys. */
export function rejoin(capture: TableCapture, r: RetainedTable, inbound = true): string[] {
  return [
    ...(r.partitionOf
      ? [`ALTER TABLE ${r.partitionOf.parent} ATTACH PARTITION ${capture.table} ${r.partitionOf.bound}`]
      : []),
    ...r.publications.map((p) =>
      `ALTER PUBLICATION ${quoteIdent(p.publication)} ADD TABLE ${p.table}${
        p.columns ? ` (${p.columns.map(quoteIdent).join(", ")})` : ""
      }${p.where ? ` WHERE (${p.where})` : ""}`
    ),
    ...(inbound ? allInbound(capture).flatMap(addConstraint) : []),
  ];
}

/** Forwards: the column's values, with the key, copied into the retained schema (a full read). */
export function holdColumnValues(capture: ColumnDropCapture, r: RetainedColumn): string[] {
  const columns = [...r.key, capture.column.name].map(quoteIdent).join(", ");
  return [...ensureRetainedSchema(), `CREATE TABLE ${heldName(r.name)} AS SELECT ${columns} FROM ${capture.table}`];
}

/**
 * Backwards: `readd` (the exact re-add of the column) with the held values put back by key
 * right after the ADD COLUMN, before constraints and indexes are checked. Rows deleted since
 * are skipped, rows inserted since keep the column's default; the holding table goes.
 */
export function restoreColumnValues(
  capture: ColumnDropCapture,
  r: RetainedColumn,
  readd: (c: ColumnDropCapture) => string[],
): string[] {
  const c = capture.column;
  // NOT NULL without a default cannot be added to a table with rows: add it nullable, restore
  // the values, then set NOT NULL (rows inserted since have none: that fails, as it should).
  // PG 18 keeps the NOT NULL as a named constraint: it comes back under its name.
  const nn = c.notNullConstraint ?? null;
  const late = c.notNull && (nn === null || nn.valid) && c.default === null && c.generated === null &&
    c.identity === "";
  const statements = readd(late ? { ...capture, column: { ...c, notNull: false, notNullConstraint: null } } : capture);
  const column = quoteIdent(c.name);
  const alter = `ALTER TABLE ${capture.table} ALTER COLUMN ${column}`;
  const match = r.key.map((k) => `tide_row.${quoteIdent(k)} = tide_kept.${quoteIdent(k)}`).join(" AND ");
  const restore = [
    // An identity column GENERATED ALWAYS only takes DEFAULT in an UPDATE.
    ...(c.identity === "a" ? [`${alter} SET GENERATED BY DEFAULT`] : []),
    `UPDATE ${capture.table} AS tide_row SET ${column} = tide_kept.${column} FROM ${
      heldName(r.name)
    } AS tide_kept WHERE ${match}`,
    ...(c.identity === "a" ? [`${alter} SET GENERATED ALWAYS`] : []),
    ...(late
      ? [
        nn
          ? `ALTER TABLE ${capture.table} ADD CONSTRAINT ${quoteIdent(nn.name)} NOT NULL ${column}${
            nn.noInherit ? " NO INHERIT" : ""
          }`
          : `${alter} SET NOT NULL`,
      ]
      : []),
    // The re-created sequence continues where the dropped one was.
    ...(r.sequencePositions ?? []).map((p) =>
      `SELECT setval(${quoteLiteral(p.name)}, ${p.lastValue}, ${p.isCalled ? "true" : "false"})`
    ),
  ];
  const at = statements.findIndex((s) => /^ALTER TABLE .* ADD COLUMN /s.test(s));
  statements.splice(at + 1, 0, ...restore);
  return [...statements, `DROP TABLE ${heldName(r.name)}`, dropRetainedSchemaIfEmpty()];
}

/** What a retained drop renders to, merged over the operation's usual rendering. */
export interface RetainedRendering {
  readonly steps: readonly { readonly sql: string }[];
  readonly notes: readonly string[];
  readonly destroys: readonly DataTarget[];
  readonly retains: readonly DataTarget[];
}

const sql = (statements: string[]) => statements.map((s) => ({ sql: s }));

/**
 * Forwards rendering of `dropTable`/`dropColumn` with `retain`, or undefined when the
 * operation does not retain (the usual rendering applies).
 */
export function retainedForwards(op: Operation, capture: Capture | undefined): RetainedRendering | undefined {
  if ((op.kind !== "dropTable" && op.kind !== "dropColumn") || !op.retain) return undefined;
  const target: DataTarget = op.kind === "dropTable"
    ? { kind: "table", table: op.table }
    : { kind: "column", table: op.table, column: op.column };
  const retained = capture?.kind === "table" || capture?.kind === "column" ? capture.retained : undefined;
  // No usable key: the usual rendering (a plain drop, with its data-loss finding) applies.
  if (retained?.kind === "not-retained") return undefined;
  const where = retained ? heldName(retained.name) : `schema ${RETAINED_SCHEMA}`;
  if (op.kind === "dropTable") {
    return {
      // Nothing captured: the object is missing, and the plain statement fails with the server's message.
      steps: capture?.kind === "table" && retained?.kind === "table"
        ? sql(moveTableAside(capture, retained))
        : sql([`DROP TABLE ${quoteName(op.table)}`]),
      notes: [`table "${op.table}" is retained, rows and all (moved to ${where}): backwards puts it back`],
      destroys: [],
      retains: [target],
    };
  }
  return {
    steps: capture?.kind === "column" && retained?.kind === "column"
      ? sql([...holdColumnValues(capture, retained), ...capture.inbound.map(dropConstraint), dropColumn(op)])
      : sql([dropColumn(op)]),
    // Before the capture, whether the table has a usable key is not known yet: the preflight says.
    notes: [
      retained?.kind === "column"
        ? `values of column "${op.table}.${op.column}" are retained by ${retained.keySource} (copied to ${where}, a full read of the table): backwards puts them back`
        : `values of column "${op.table}.${op.column}" are retained by key if the table has a primary key or replica identity index (copied to ${where}, a full read of the table): backwards puts them back`,
    ],
    destroys: [],
    retains: [target],
  };
}

function dropColumn(op: Operation & { kind: "dropColumn" }): string {
  return `ALTER TABLE ${quoteName(op.table)} DROP COLUMN ${quoteIdent(op.column)}`;
}

/** A note for a retained column whose table had no key: the drop went ahead as a plain one. */
export function notRetainedNote(op: Operation, capture: Capture | undefined): string | undefined {
  if (op.kind !== "dropColumn" && op.kind !== "dropTable") return undefined;
  const retained = capture?.kind === "table" || capture?.kind === "column" ? capture.retained : undefined;
  if (retained?.kind !== "not-retained") return undefined;
  const what = op.kind === "dropTable" ? `table "${op.table}"` : `column "${op.table}.${op.column}"`;
  return `${what} cannot be retained: ${retained.reason}; it is dropped for good`;
}

/**
 * Backwards rendering of a retained drop, or undefined when nothing was retained. After
 * `tide purge`, the structure-only reversal, saying that the rows are gone.
 */
export function retainedBackwards(
  op: Operation,
  capture: Capture | undefined,
  recreate: (t: TableCapture) => string[],
  readd: (c: ColumnDropCapture) => string[],
): (Omit<RetainedRendering, "destroys" | "retains"> & { readonly structureOnly: boolean }) | undefined {
  if (op.kind === "dropTable" && capture?.kind === "table" && capture.retained?.kind === "table") {
    const r = capture.retained;
    if (r.purgedAt !== undefined) {
      return {
        // The catalog's re-creation re-attaches a partition and restores publication membership itself.
        steps: sql(recreate(capture)),
        structureOnly: true,
        notes: [
          `rows of table "${op.table}" are not restored: its retained copy was purged (${r.purgedAt}); only its structure comes back`,
        ],
      };
    }
    return {
      steps: sql(moveTableBack(capture, r)),
      structureOnly: false,
      notes: [`table "${op.table}" comes back with its rows from ${heldName(r.name)}: the very same table`],
    };
  }
  if (op.kind === "dropColumn" && capture?.kind === "column" && capture.retained?.kind === "column") {
    const r = capture.retained;
    if (r.purgedAt !== undefined) {
      return {
        steps: sql(readd(capture)),
        structureOnly: true,
        notes: [
          `values of column "${op.table}.${op.column}" are not restored: their retained copy was purged (${r.purgedAt})`,
        ],
      };
    }
    return {
      steps: sql(restoreColumnValues(capture, r, readd)),
      // A re-added column is re-created: what re-creating cannot restore (its position) applies.
      structureOnly: true,
      notes: [
        `values of column "${op.table}.${op.column}" come back by ${r.keySource} (${r.key.join(", ")}) from ${
          heldName(r.name)
        }: rows deleted since are skipped, rows inserted since get the column's default`,
      ],
    };
  }
  return undefined;
}
