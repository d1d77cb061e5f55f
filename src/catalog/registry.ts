/**
 * The list of table parts: every kind of object captured with a table beyond its columns,
 * constraints, indexes and sequences. Adding a kind is one module plus one line here (or a
 * call to `registerTablePart` from a module that is imported before captures run).
 *
 * @module
 */

import { distribution } from "./distribution.ts";
import type { TablePart } from "./part.ts";
import { partitions } from "./partition.ts";
import { policies } from "./policy.ts";
import { publications } from "./publication.ts";
import { rules } from "./rule.ts";
import { statistics } from "./statistics.ts";
import { triggers } from "./trigger.ts";

const PARTS: TablePart[] = [
  triggers,
  policies,
  rules,
  statistics,
  publications,
  partitions,
  distribution,
] as TablePart[];

/** The registered table parts, in the order they render within a phase. */
export function tableParts(): readonly TablePart[] {
  return PARTS;
}

/** Adds a table part (e.g. Citus distribution). Its key must be new. */
export function registerTablePart<T>(part: TablePart<T>): void {
  if (PARTS.some((p) => p.key === part.key)) throw new Error(`table part "${part.key}" is already registered`);
  PARTS.push(part as TablePart);
}
