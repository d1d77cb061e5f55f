/**
 * Which drops of a plan retain (issue 15): each operation's own `retain`, else the project's
 * `retainDropped`; never where nothing could hold the mapping (a hand-written backwards).
 *
 * @module
 */

import type { Operation } from "../migration/operations.ts";

/** The operations with `retain` decided, and what the user should know about that decision. */
export function resolveRetain(
  ops: readonly Operation[],
  retainDropped: boolean,
  handWritten: boolean,
): { operations: Operation[]; warnings: string[] } {
  const warnings: string[] = [];
  const operations = ops.map((op): Operation => {
    if (op.kind !== "dropTable" && op.kind !== "dropColumn") return op;
    const retain = op.retain ?? retainDropped;
    if (!retain) return op.retain === undefined ? op : { ...op, retain: false };
    if (handWritten) {
      // Its hand-written backwards would not know to move the data back: it would stay held forever.
      if (op.retain) {
        warnings.push(
          `${
            op.kind === "dropTable" ? `dropTable("${op.table}")` : `dropColumn("${op.table}", "${op.column}")`
          }: not retained, because the migration has a hand-written backwards (which does not put retained data back)`,
        );
      }
      return { ...op, retain: false };
    }
    return { ...op, retain: true };
  });
  return { operations, warnings };
}

/** A hand-written backwards' own drops never retain: its history row is deleted as it runs. */
export function withoutRetain(ops: readonly Operation[]): Operation[] {
  return ops.map((op) =>
    (op.kind === "dropTable" || op.kind === "dropColumn") && op.retain ? { ...op, retain: false } : op
  );
}
