/**
 * A table part: one kind of object that lives with a table (triggers, policies, rules, …) and
 * that Postgres drops with it. Each part reads itself with the table's capture and renders its
 * own re-creation statements into phases. A new kind is one new module exporting a
 * {@linkcode TablePart}, listed in `registry.ts` (or registered with `registerTablePart`).
 *
 * @module
 */

import type { Queryable } from "../db/database.ts";
import type { CatalogContext, NotRestored, Phased } from "./context.ts";
import type { TableCapture } from "./table.ts";

/** One kind of object captured with a table, stored under `TableCapture.parts[key]`. */
export interface TablePart<T = unknown> {
  /** Key in `TableCapture.parts`; stable, as it is stored in history rows. */
  readonly key: string;
  /**
   * A SQL expression giving the part as json, evaluated with the table's pg_class row as `c`,
   * for this server version. Use it when one query suffices (it joins the table's query).
   */
  select?(ctx: CatalogContext): string;
  /** Reads the part itself when one expression cannot (e.g. recursion into partitions). */
  capture?(db: Queryable, ctx: CatalogContext, table: string, recurse: CaptureTable): Promise<T | undefined>;
  /** Re-creation statements for the captured value, in phases. Pure. */
  render(value: T, table: TableCapture): Phased[];
  /** What this part knows it cannot restore. Pure. */
  notRestored?(value: T, table: TableCapture): NotRestored[];
  /** Tables Postgres drops along with this one (partitions), quoted and qualified. */
  droppedWith?(value: T): string[];
}

/** Captures a whole table by quoted, qualified name (for parts that recurse). */
export type CaptureTable = (db: Queryable, ctx: CatalogContext, table: string) => Promise<TableCapture | undefined>;
