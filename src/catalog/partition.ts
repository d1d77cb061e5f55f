/**
 * The partitions of a partitioned table, recursively: DROP TABLE drops them with it, so each
 * is captured whole and re-created after its parent (CREATE TABLE, its own indexes, ATTACH
 * PARTITION … FOR VALUES, which attaches the matching indexes), pg_dump's way.
 *
 * @module
 */

import { at, ordered, Phase } from "./context.ts";
import type { TablePart } from "./part.ts";
import { notRestoredOfTable, phasedTable, type TableCapture } from "./table.ts";

/** The partitions part: the whole tree below a partitioned table. */
export const partitions: TablePart<TableCapture[]> = {
  key: "partitions",
  capture: async (db, ctx, table, recurse) => {
    const rows = await db.query<{ name: string }>(
      `select format('%I.%I', n.nspname, p.relname) as name
         from pg_inherits h join pg_class p on p.oid = h.inhrelid join pg_namespace n on n.oid = p.relnamespace
        where h.inhparent = to_regclass($1) and p.relispartition and p.relkind in ('r', 'p')
        order by p.relname`,
      [table],
    );
    if (rows.length === 0) return undefined;
    const out: TableCapture[] = [];
    for (const r of rows) {
      const t = await recurse(db, ctx, r.name);
      if (t) out.push(t);
    }
    return out;
  },
  // Each partition is re-created whole (its own phases), after the parent's indexes so that
  // ATTACH PARTITION attaches the partition's indexes to them.
  render: (list) => list.flatMap((t) => at(Phase.partitions, ...ordered(phasedTable(t)))),
  notRestored: (list) => list.flatMap((t) => notRestoredOfTable(t)),
  droppedWith: (list) =>
    list.flatMap((t) => [t.table, ...(partitions.droppedWith!((t.parts?.partitions as TableCapture[]) ?? []))]),
};
