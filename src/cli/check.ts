/**
 * `tide check [app]`: one row per migration, files and history rows alike.
 *
 * @module
 */

import { migrationStatuses } from "../engine/commands.ts";
import { type GlobalOptions, open, printJson } from "./common.ts";
import type { Io } from "./io.ts";
import { statusTable } from "./render.ts";

/** Runs `check`; returns the exit code. */
export async function check(io: Io, app: string | undefined, options: GlobalOptions): Promise<number> {
  const session = await open(io, options, true);
  try {
    const statuses = await migrationStatuses(session, app);
    if (options.json) printJson(io, statuses);
    else io.out(statusTable(statuses));
    return 0;
  } finally {
    await session.close();
  }
}
