/**
 * The command table. This is the only place that turns errors into exit codes.
 *
 * @module
 */

import { Command, CommanderError, Option } from "commander";
import { TideError, UsageError } from "../errors.ts";
import { maskPasswords } from "../mask.ts";
import { VERSION } from "../version.ts";
import { check } from "./check.ts";
import { printJson } from "./common.ts";
import type { Io } from "./io.ts";
import { migrate, type MigrateOptions } from "./migrate.ts";
import { newMigration } from "./new.ts";
import { verifyCommand } from "./verify.ts";

/**
 * Runs the CLI with the given arguments; returns the exit code: 0 success, 1 a migration
 * failed / unknown app or ID / refused plan / declined prompt, 2 usage or config error.
 */
export async function main(args: readonly string[], io: Io): Promise<number> {
  let code = 0;
  const program = buildProgram(io, (c) => (code = c));
  const argv = normaliseFlags(args);
  const json = argv.includes("--json");
  try {
    await program.parseAsync(argv, { from: "user" });
    return code;
  } catch (error) {
    if (error instanceof CommanderError) {
      // commander already printed its message; help and version are successes.
      const ok = error.exitCode === 0 || error.code === "commander.helpDisplayed" || error.code === "commander.version";
      if (!ok && json) {
        printJson(io, { success: false, message: error.message.replace(/^error: /, ""), migrations: [] });
      }
      return ok ? 0 : 2;
    }
    const exitCode = error instanceof TideError ? error.exitCode : 1;
    const message = maskPasswords(error instanceof Error ? error.message : String(error));
    if (json) printJson(io, { success: false, message, migrations: [] });
    io.err(`Error: ${message}\n`);
    if (!(error instanceof TideError) && io.env("TIDE_DEBUG") && error instanceof Error) io.err(`${error.stack}\n`);
    return exitCode;
  }
}

/** Piccolo spells flags with underscores (`--auto_agree`); accept both spellings. */
function normaliseFlags(args: readonly string[]): string[] {
  const out: string[] = [];
  let rest = false;
  for (const arg of args) {
    if (arg === "--") rest = true;
    if (!rest && /^--[a-z]+_[a-z_]+(=|$)/.test(arg)) {
      const eq = arg.indexOf("=");
      const name = eq === -1 ? arg : arg.slice(0, eq);
      out.push(name.replaceAll("_", "-") + (eq === -1 ? "" : arg.slice(eq)));
    } else out.push(arg);
  }
  return out;
}

/** Options `backwards` and `forwards` share: how the migrations' statements run. */
function runOptions(command: Command): void {
  command
    .option("--atomic", "run every migration in one transaction: all or nothing")
    .addOption(new Option("--ddl-lock-timeout <duration>", "lock_timeout of each migration's statements").default("5s"))
    .addOption(
      new Option("--ddl-retries <n>", "retries, with jittered pauses, when that lock_timeout hits").default("3"),
    )
    .option("--statement-timeout <duration>", "statement_timeout of each migration's statements")
    .option("--forbid-data-loss", "refuse (exit 1, nothing run) a plan that would destroy data");
}

function buildProgram(io: Io, setCode: (code: number) => void): Command {
  const program = new Command("tide")
    .description("Run PostgreSQL schema migrations forwards and, above all, backwards.")
    .version(VERSION, "--version", "print the version")
    .option("--config <path>", "path of tide.json", "tide.json")
    .option("--database-url <url>", "database URL (overrides TIDE_DATABASE_URL, DATABASE_URL and tide.json)")
    .option("--json", "print one JSON document on stdout")
    .helpOption("-h, --help", "show help")
    .exitOverride()
    .showHelpAfterError(false)
    .configureOutput({
      writeOut: (s) => io.out(s),
      writeErr: (s) => io.err(s),
      outputError: (s, write) => write(s.replace(/^error:/, "Error:")),
    });
  const globals = (cmd: Command) => cmd.optsWithGlobals() as MigrateOptions;
  const lockTimeout = () =>
    new Option("--lock-timeout <duration>", "how long to wait for another run's lock (e.g. 10s, 500ms)").default("10s");

  program.command("backwards")
    .alias("b")
    .description(
      "Reverse migrations that have run: the most recent one, N of them, all, or down to and including an ID.",
    )
    .argument("<app>", 'app name, or "all" for every app in reverse dependency order')
    .argument("[migration_id]", '"1" (default), a number N, "all", or an ID')
    .option("--migration-id <id>", "same as the positional MIGRATION_ID")
    .option("-y, --auto-agree", "do not ask for confirmation")
    .option("--clean", "delete each migration file once its reversal has committed")
    .option("--preview", "print the SQL that would run (stdout is a psql script); change nothing")
    .addOption(lockTimeout())
    .action(async (app: string, id: string | undefined, _o: unknown, cmd: Command) => {
      setCode(await migrate(io, "backwards", app, id, globals(cmd)));
    });
  runOptions(program.commands.at(-1)!);

  program.command("forwards")
    .alias("f")
    .description("Run pending migrations in ID order: all (default), the next N, or up to and including an ID.")
    .argument("<app>", 'app name, or "all" for every app in dependency order')
    .argument("[migration_id]", '"all" (default), a number N, or an ID')
    .option("--migration-id <id>", "same as the positional MIGRATION_ID")
    .option("--fake", "record the migrations as run without running them")
    .option("--preview", "print the SQL that would run (stdout is a psql script); change nothing")
    .addOption(lockTimeout())
    .action(async (app: string, id: string | undefined, _o: unknown, cmd: Command) => {
      setCode(await migrate(io, "forwards", app, id, globals(cmd)));
    });
  runOptions(program.commands.at(-1)!);

  program.command("verify")
    .description("Prove on a scratch database that each migration's reversal restores the exact schema.")
    .argument("<app>", 'app name, or "all"')
    .argument("[migration_id]", '"all" (default), a number N (the app\'s last N), or an ID')
    .action(async (app: string, id: string | undefined, _o: unknown, cmd: Command) => {
      setCode(await verifyCommand(io, app, id, globals(cmd)));
    });

  program.command("check")
    .description("List every migration of every app (or one): whether it has run, and history rows whose file is gone.")
    .argument("[app]", "only this app")
    .action(async (app: string | undefined, _o: unknown, cmd: Command) => {
      setCode(await check(io, app, globals(cmd)));
    });

  program.command("new")
    .description("Write a new migration module from the template, with a fresh ID.")
    .argument("<app>", "the app to add it to")
    .option("--desc <text>", "the migration's description")
    .action(async (app: string, _o: unknown, cmd: Command) => {
      setCode(await newMigration(io, app, cmd.optsWithGlobals()));
    });

  program.action(() => {
    program.outputHelp({ error: true });
    throw new UsageError("Missing command: use backwards, forwards, check or new");
  });
  return program;
}
