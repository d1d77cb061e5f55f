/**
 * `tide unlock [--force]`: clears a stale table lock (its lease ran out); a live one only with
 * `--force`, for a run known to be dead whose lease has not run out yet.
 *
 * @module
 */

import { unlockTable } from "../engine/run_lock.ts";
import { describeHolder } from "../engine/table_lock.ts";
import { withPrivilegeHint } from "../engine/privileges.ts";
import { type GlobalOptions, open, printJson } from "./common.ts";
import type { Io } from "./io.ts";

/** Runs `unlock`; exit 0 when no lock is left (cleared, or none), 1 when a live one stays. */
export async function unlock(io: Io, options: GlobalOptions & { force?: boolean }): Promise<number> {
  const session = await open(io, options, true);
  try {
    if (session.db.kind !== "postgres") {
      const message = "The embedded database's lock file is taken over by the next run once its process is gone: " +
        "nothing to unlock";
      if (options.json) printJson(io, { success: true, message, cleared: false });
      else io.out(`${message}\n`);
      return 0;
    }
    const result = await unlockTable(session, options.force ?? false);
    let message: string;
    let ok = true;
    if (result.cleared) {
      message = `Cleared the migration lock (table ${result.table}) of ${describeHolder(result.holder!)}`;
    } else if (result.holder) {
      ok = false;
      message = `The migration lock (table ${result.table}) is live: ${
        describeHolder(result.holder)
      }. Left in place; if that run is dead, wait for the lease to expire or pass --force`;
    } else {
      message = `No table lock is held (table ${result.table})`;
    }
    if (options.json) printJson(io, { success: ok, message, cleared: result.cleared, holder: result.holder ?? null });
    else if (ok) io.out(`${message}\n`);
    else io.err(`Error: ${message}\n`);
    return ok ? 0 : 1;
  } catch (error) {
    throw await withPrivilegeHint(session, error);
  } finally {
    await session.close();
  }
}
