/**
 * `tide check [app]`: one row per migration, files and history rows alike.
 *
 * @module
 */

import { migrationStatuses } from "../engine/commands.ts";
import { type GlobalOptions, open, printJson } from "./common.ts";
import type { Io } from "./io.ts";
import { statusTable } from "./render.ts";
import { type LockStatus, lockStatus } from "../engine/run_lock.ts";
import { describeHolder } from "../engine/table_lock.ts";
import { withPrivilegeHint } from "../engine/privileges.ts";

/** What check says about the run lock: nothing when none is held. */
export function lockLines(status: LockStatus | undefined): string[] {
  if (!status) return [];
  const lines: string[] = [];
  if (status.holder) {
    lines.push(
      status.holder.stale
        ? `lock: STALE table lock ${status.table} of ${
          describeHolder(status.holder)
        }; the next run takes it over, or clear it with tide unlock`
        : `lock: held (table ${status.table}) by ${describeHolder(status.holder)}`,
    );
  }
  for (const a of status.advisory) {
    lines.push(
      `lock: advisory lock held by server session pid ${a.pid}${a.application ? ` (${a.application})` : ""}${
        a.since ? `, connected since ${a.since}` : ""
      }; it ends with that session`,
    );
  }
  return lines;
}

/** Runs `check`; returns the exit code. */
export async function check(io: Io, app: string | undefined, options: GlobalOptions): Promise<number> {
  const session = await open(io, options, true);
  try {
    const statuses = await migrationStatuses(session, app);
    // The lock goes to stderr: stdout keeps SPEC's shape (a table, or the JSON array).
    for (const line of lockLines(await lockStatus(session))) io.err(`${line}\n`);
    if (options.json) printJson(io, statuses);
    else io.out(statusTable(statuses));
    return 0;
  } catch (error) {
    throw await withPrivilegeHint(session, error);
  } finally {
    await session.close();
  }
}
