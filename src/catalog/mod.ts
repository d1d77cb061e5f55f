/**
 * tide's catalog knowledge in one place: for each kind of object, how to read it from the
 * live catalog (version-aware) and how to re-create it. Reading needs a database; rendering is
 * pure, so `--preview` and the runner print and run the same statements.
 *
 * Kinds: tables (table.ts) with columns (column.ts), constraints (constraint.ts), indexes
 * (index.ts), owned sequences (sequence.ts), grants (grant.ts), and the table parts listed in
 * registry.ts: triggers, policies, rules, extended statistics, publications, partitions.
 * Dropped columns: column_drop.ts; altered columns: alter.ts.
 *
 * @module
 */

import type { Queryable } from "../db/database.ts";
import type { Operation } from "../migration/operations.ts";
import { quoteName } from "../migration/quote.ts";
import { captureAlter } from "./alter.ts";
import type { AlterCapture } from "./column.ts";
import { captureColumnDrop, type ColumnDropCapture, notRestoredOfColumn } from "./column_drop.ts";
import { type CatalogContext, type NotRestored, readContext } from "./context.ts";
import { captureIndexDrop, type IndexDropCapture } from "./index.ts";
import { captureTable, notRestoredOfTable, type TableCapture } from "./table.ts";

export type { AlterCapture, ColumnCapture, NotNullCapture } from "./column.ts";
export type { ColumnDropCapture, PartitionColumnCapture } from "./column_drop.ts";
export type { ConstraintCapture } from "./constraint.ts";
export type { IndexCapture, IndexDropCapture } from "./index.ts";
export type { SequenceCapture } from "./sequence.ts";
export type { TableCapture } from "./table.ts";
export type { TablePart } from "./part.ts";
export { type CatalogContext, type NotRestored, readContext } from "./context.ts";
export { registerTablePart, tableParts } from "./registry.ts";
export { allInbound, CAPTURE_FORMAT, droppedWith, recreateTable } from "./table.ts";
export { readdColumn } from "./column_drop.ts";
export { restoreColumn } from "./alter.ts";
export { recreateIndex } from "./index.ts";
export { dropConstraint } from "./constraint.ts";

/** Any capture, stored as JSON in the history row under the operation's index. */
export type Capture = TableCapture | ColumnDropCapture | AlterCapture | IndexDropCapture;

/**
 * Captures what the inverse of `op` needs, or `undefined` when it needs nothing or the
 * object does not exist (the forward statement will then fail with the server's message).
 *
 * @param context The server's version, when the caller has read it already.
 */
export async function captureFor(db: Queryable, op: Operation, context?: CatalogContext): Promise<Capture | undefined> {
  const kinds = new Set(["dropTable", "dropColumn", "alterColumn", "dropIndex"]);
  if (!kinds.has(op.kind)) return undefined;
  const ctx = context ?? await readContext(db);
  switch (op.kind) {
    case "dropTable":
      return await captureTable(db, ctx, quoteName(op.table));
    case "dropColumn":
      return await captureColumnDrop(db, ctx, quoteName(op.table), op.column);
    case "alterColumn":
      return await captureAlter(db, ctx, quoteName(op.table), op.column);
    case "dropIndex":
      return await captureIndexDrop(db, ctx, quoteName(op.name));
    default:
      return undefined;
  }
}

/** What reversing the captured operation cannot restore, one line each (never silent). */
export function notRestoredOf(capture: Capture): NotRestored[] {
  switch (capture.kind) {
    case "table":
      return notRestoredOfTable(capture);
    case "column":
      return notRestoredOfColumn(capture);
    default:
      return [];
  }
}
