/**
 * The command table. This is the only place that turns errors into exit codes.
 *
 * @module
 */

import { TideError, UsageError } from "../errors.ts";
import { maskPasswords } from "../mask.ts";
import { VERSION } from "../version.ts";
import { parseArgs } from "./args.ts";
import { type GlobalOptions, printJson } from "./common.ts";
import type { Io } from "./io.ts";
import { migrate, type MigrateOptions } from "./migrate.ts";

/**
 * Runs the CLI with the given arguments; returns the exit code: 0 success, 1 a migration
 * failed / unknown app or ID / refused plan / declined prompt, 2 usage or config error.
 */
export async function main(args: readonly string[], io: Io): Promise<number> {
  const json = args.includes("--json");
  try {
    const parsed = parseArgs(args);
    if (parsed.kind === "help") {
      io.out(parsed.text);
      return 0;
    }
    if (parsed.kind === "version") {
      io.out(`${VERSION}\n`);
      return 0;
    }
    const [first, second] = parsed.positionals;
    const options = parsed.options;
    switch (parsed.command.name) {
      case "backwards":
      case "forwards":
        return await migrate(io, parsed.command.name, first!, second, options as MigrateOptions);
      case "verify": {
        const { verifyCommand } = await import("./verify.ts");
        return await verifyCommand(io, first!, second, options as GlobalOptions & { scratchUrl?: string });
      }
      case "check": {
        const { check } = await import("./check.ts");
        return await check(io, first, options as GlobalOptions);
      }
      // retention (issue 15)
      case "retained": {
        const { retainedCommand } = await import("./retained.ts");
        return await retainedCommand(io, first, options as GlobalOptions);
      }
      case "purge": {
        const { purgeCommand } = await import("./retained.ts");
        return await purgeCommand(io, first, second, options as import("./retained.ts").PurgeOptions);
      }
      case "unlock": {
        const { unlock } = await import("./unlock.ts");
        return await unlock(io, options as GlobalOptions & { force?: boolean });
      }
      default: {
        const { newMigration } = await import("./new.ts");
        return await newMigration(io, first!, options as GlobalOptions & { desc?: string });
      }
    }
  } catch (error) {
    const exitCode = error instanceof TideError ? error.exitCode : 1;
    const message = maskPasswords(error instanceof Error ? error.message : String(error));
    if (json) printJson(io, { success: false, message, migrations: [] });
    io.err(`Error: ${message}\n`);
    if (error instanceof UsageError && /^(unknown|missing|too many|option)/.test(message)) {
      io.err("(tide --help lists the commands and options)\n");
    }
    if (!(error instanceof TideError) && io.env("TIDE_DEBUG") && error instanceof Error) io.err(`${error.stack}\n`);
    return exitCode;
  }
}
