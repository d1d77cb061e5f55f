/**
 * Pure selection of the migrations a command acts on, from history and files.
 *
 * @module
 */

import { PlanError } from "../errors.ts";
import type { HistoryRow } from "./history.ts";
import { formatTarget, type Target } from "./target.ts";

/**
 * Picks the run migrations to reverse, most recently run first.
 *
 * @param applied The app's history rows, oldest first (as `History.list` returns them).
 * @throws {PlanError} when an ID is unknown or has not run, listing the IDs that can be given.
 */
export function selectBackwards(app: string, applied: readonly HistoryRow[], target: Target): HistoryRow[] {
  const newestFirst = [...applied].reverse();
  switch (target.kind) {
    case "all":
      return newestFirst;
    case "count":
      return newestFirst.slice(0, target.count);
    case "id": {
      const index = newestFirst.findIndex((row) => row.id === target.id);
      if (index === -1) {
        const valid = newestFirst.map((r) => r.id);
        throw new PlanError(
          `Migration "${target.id}" of app "${app}" has not run, so it cannot be reversed. ` +
            (valid.length
              ? `IDs that can be given: ${valid.join(", ")} (or a number, or "all")`
              : "Nothing has run for this app"),
        );
      }
      return newestFirst.slice(0, index + 1);
    }
  }
}

/**
 * Picks the pending migrations to run, in ID order.
 *
 * @param pending IDs of files that have not run, sorted.
 * @param ran IDs that have run (to explain an ID that is already done).
 * @returns the IDs to run; empty when there is nothing to do.
 * @throws {PlanError} for an ID that has no file.
 */
export function selectForwards(
  app: string,
  pending: readonly string[],
  ran: ReadonlySet<string>,
  target: Target,
): string[] {
  switch (target.kind) {
    case "all":
      return [...pending];
    case "count":
      return pending.slice(0, target.count);
    case "id": {
      const index = pending.indexOf(target.id);
      if (index !== -1) return pending.slice(0, index + 1);
      if (ran.has(target.id)) return [];
      throw new PlanError(
        `App "${app}" has no migration "${formatTarget(target)}". ` +
          (pending.length
            ? `Pending IDs: ${pending.join(", ")} (or a number, or "all")`
            : "Nothing is pending for this app"),
      );
    }
  }
}
