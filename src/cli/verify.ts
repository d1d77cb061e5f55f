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
import { withPrivilegeHint } from "../engine/privileges.ts";
import { maskPasswords } from "../mask.ts";
import { signalExitCode, STOP_SIGNALS } from "./signals.ts";

/** Runs `verify`; returns the exit code (1 when any reversal differs or fails). */
export async function verifyCommand(
  io: Io,
  app: string,
  id: string | undefined,
  options: GlobalOptions & { scratchUrl?: string },
): Promise<number> {
  let target;
  try {
    target = parseTarget(id ?? "all");
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const session = await open(io, options, true);
  const signals = dropScratchOnSignal(io);
  try {
    const result = await verify(session, { app, target }, { scratchUrl: options.scratchUrl, onScratch: signals.set });
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
  } catch (error) {
    throw await withPrivilegeHint(session, error);
  } finally {
    signals.remove();
    await session.close();
  }
}

/**
 * While verify runs, SIGINT, SIGTERM and SIGHUP drop its scratch database before tide exits
 * (128 + the signal's number): without this, Deno's default of exiting at once left a
 * `tide_verify_…` database on the server. SIGKILL cannot be caught: that one stays.
 */
function dropScratchOnSignal(io: Io): { set: (drop: (() => Promise<void>) | undefined) => void; remove: () => void } {
  let drop: (() => Promise<void>) | undefined;
  const listeners = STOP_SIGNALS.map((signal) => {
    const listener = async () => {
      const pending = drop;
      try {
        await pending?.();
        io.err(`tide verify: ${signal}: stopped${pending ? "; the scratch database was dropped" : ""}\n`);
      } catch (error) {
        io.err(
          `tide verify: ${signal}: stopped, but the scratch database could not be dropped: ${
            maskPasswords((error as Error).message)
          }; drop the tide_verify_… database it names by hand\n`,
        );
      }
      Deno.exit(signalExitCode(signal));
    };
    Deno.addSignalListener(signal, listener);
    return () => Deno.removeSignalListener(signal, listener);
  });
  return {
    set: (d) => drop = d,
    remove: () => listeners.forEach((remove) => remove()),
  };
}
