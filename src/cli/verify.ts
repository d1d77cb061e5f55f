/**
 * `tide verify <app|all> [MIGRATION_ID]`: round-trips migrations on a scratch database and
 * shows, attribute by attribute, what a reversal failed to restore.
 *
 * @module
 */

import { parseTarget } from "../engine/target.ts";
import { verify } from "../engine/verify.ts";
import { UsageError } from "../errors.ts";
import { type GlobalOptions, open, printJson } from "./common.ts";
import type { Io } from "./io.ts";

/** Runs `verify`; returns the exit code (1 when any reversal differs or fails). */
export async function verifyCommand(
  io: Io,
  app: string,
  id: string | undefined,
  options: GlobalOptions,
): Promise<number> {
  let target;
  try {
    target = parseTarget(id ?? "all");
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const session = await open(io, options, true);
  try {
    const result = await verify(session, { app, target });
    const checked = result.migrations.filter((m) => m.status !== "applied");
    const bad = checked.filter((m) => m.status !== "ok");
    const message = bad.length
      ? `${bad.length} of ${checked.length} migration(s) do not round-trip exactly`
      : `${checked.length} migration(s) round-trip exactly`;
    if (options.json) {
      printJson(io, { success: result.success, message, scratch: result.scratch, migrations: result.migrations });
      return result.success ? 0 : 1;
    }
    io.err(`Verifying on ${result.scratch} (your database is not touched)\n`);
    for (const m of result.migrations) {
      if (m.status === "applied") continue;
      io.out(`${m.status.padEnd(12)} ${m.app} ${m.id}${m.description ? `  ${m.description}` : ""}\n`);
      for (const d of m.differences) {
        io.out(`    ${d.object}  ${d.attribute}: ${d.before ?? "(absent)"} → ${d.after ?? "(absent)"}\n`);
      }
      for (const n of m.notRestored ?? []) io.out(`    not restored: ${n.object}: ${n.what}\n`);
      if (m.error) io.out(`    ${m.error}\n`);
    }
    io.out(`${message}\n`);
    return result.success ? 0 : 1;
  } finally {
    await session.close();
  }
}
