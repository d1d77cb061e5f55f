/**
 * The command table and a small argument parser. tide's CLI is small and fixed, and commander
 * cost 22-25 ms to import: a quarter of a whole `backwards 1` run. Error messages keep
 * commander's wording.
 *
 * @module
 */

import { UsageError } from "../errors.ts";

/** One option. `value` names its argument; without it the option is a flag. */
export interface OptionSpec {
  readonly long: string;
  readonly short?: string;
  readonly value?: string;
  readonly description: string;
  readonly default?: string;
}

/** One positional argument. */
export interface ArgumentSpec {
  readonly name: string;
  readonly required: boolean;
  readonly description: string;
}

/** One command. */
export interface CommandSpec {
  readonly name: string;
  readonly alias?: string;
  readonly description: string;
  readonly arguments: readonly ArgumentSpec[];
  readonly options: readonly OptionSpec[];
}

/** Options every command takes. */
export const GLOBAL_OPTIONS: readonly OptionSpec[] = [
  { long: "config", value: "path", description: "path of tide.json", default: "tide.json" },
  {
    long: "database-url",
    value: "url",
    description: "database URL (overrides TIDE_DATABASE_URL, DATABASE_URL and tide.json)",
  },
  { long: "json", description: "print one JSON document on stdout" },
  { long: "help", short: "h", description: "show help" },
  { long: "version", description: "print the version" },
];

const LOCK_TIMEOUT: OptionSpec = {
  long: "lock-timeout",
  value: "duration",
  description: "how long to wait for another run's lock (e.g. 10s, 500ms)",
  default: "10s",
};

const RUN_OPTIONS: readonly OptionSpec[] = [
  { long: "migration-id", value: "id", description: "same as the positional MIGRATION_ID" },
  { long: "preview", description: "print the SQL that would run (stdout is a psql script); change nothing" },
  LOCK_TIMEOUT,
  {
    long: "lock",
    value: "kind",
    description: 'run lock: "auto" (default: advisory, or table behind a transaction pooler), "table" or "advisory"',
  },
  { long: "lock-lease", value: "duration", description: "lease of the table lock, renewed every third of it (60s)" },
  { long: "atomic", description: "run every migration in one transaction: all or nothing" },
  {
    long: "ddl-lock-timeout",
    value: "duration",
    description: "lock_timeout of each migration's statements",
    default: "5s",
  },
  {
    long: "ddl-retries",
    value: "n",
    description: "retries, with jittered pauses, when that lock_timeout hits",
    default: "3",
  },
  { long: "statement-timeout", value: "duration", description: "statement_timeout of each migration's statements" },
  { long: "forbid-data-loss", description: "refuse (exit 1, nothing run) a plan that would destroy data" },
  {
    long: "reconnect-timeout",
    value: "duration",
    description: "after a lost connection, how long to try to reconnect to learn what committed",
    default: "30s",
  },
];

/** tide's commands. */
export const COMMANDS: readonly CommandSpec[] = [
  {
    name: "backwards",
    alias: "b",
    description:
      "Reverse migrations that have run: the most recent one, N of them, all, or down to and including an ID.",
    arguments: [
      { name: "app", required: true, description: 'app name, or "all" for every app in reverse dependency order' },
      { name: "migration_id", required: false, description: '"1" (default), a number N, "all", or an ID' },
    ],
    options: [
      { long: "auto-agree", short: "y", description: "do not ask for confirmation" },
      { long: "clean", description: "delete each migration file once its reversal has committed" },
      ...RUN_OPTIONS,
    ],
  },
  {
    name: "forwards",
    alias: "f",
    description: "Run pending migrations in ID order: all (default), the next N, or up to and including an ID.",
    arguments: [
      { name: "app", required: true, description: 'app name, or "all" for every app in dependency order' },
      { name: "migration_id", required: false, description: '"all" (default), a number N, or an ID' },
    ],
    options: [{ long: "fake", description: "record the migrations as run without running them" }, ...RUN_OPTIONS],
  },
  {
    name: "verify",
    description: "Prove on a scratch database that each migration's reversal restores the exact schema.",
    arguments: [
      { name: "app", required: true, description: 'app name, or "all"' },
      {
        name: "migration_id",
        required: false,
        description: '"all" (default), a number N (the app\'s last N), or an ID',
      },
    ],
    options: [
      {
        long: "scratch-url",
        value: "url",
        description:
          "verify in this database (empty, or used by verify before: it is wiped) instead of a temporary one",
      },
    ],
  },
  {
    name: "check",
    description: "List every migration of every app (or one): whether it has run, and history rows whose file is gone.",
    arguments: [{ name: "app", required: false, description: "only this app" }],
    options: [],
  },
  // retention (issue 15)
  {
    name: "retained",
    description: "List what retained drops hold: app, migration, object, rows, size, since.",
    arguments: [{ name: "app", required: false, description: "only this app" }],
    options: [],
  },
  {
    name: "purge",
    description: "Drop retained objects for good (all, an app's, a migration's, or older than a duration).",
    arguments: [
      { name: "app", required: false, description: "only this app (or a MIGRATION_ID alone)" },
      { name: "migration_id", required: false, description: "only what this migration retained" },
    ],
    options: [
      { long: "auto-agree", short: "y", description: "do not ask for confirmation" },
      { long: "older-than", value: "duration", description: "only what was retained longer ago, e.g. 30d, 12h, 2w" },
      LOCK_TIMEOUT,
    ],
  },
  {
    name: "unlock",
    description:
      "Clear a stale table lock (its lease ran out: the run that took it is gone); a live one only with --force.",
    arguments: [],
    options: [{ long: "force", description: "clear the lock even if its lease is live (only when that run is dead)" }],
  },
  {
    name: "new",
    description: "Write a new migration module from the template, with a fresh ID.",
    arguments: [{ name: "app", required: true, description: "the app to add it to" }],
    options: [{ long: "desc", value: "text", description: "the migration's description" }],
  },
];

/** What the command line asks for. */
export type Parsed =
  | { readonly kind: "help"; readonly text: string }
  | { readonly kind: "version" }
  | {
    readonly kind: "run";
    readonly command: CommandSpec;
    readonly positionals: readonly (string | undefined)[];
    /** Options by camelCase name (`auto-agree` → `autoAgree`), defaults filled in. */
    readonly options: Readonly<Record<string, string | boolean>>;
  };

function camel(name: string): string {
  return name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

function label(o: OptionSpec): string {
  return `${o.short ? `-${o.short}, ` : ""}--${o.long}${o.value ? ` <${o.value}>` : ""}`;
}

/**
 * Parses arguments (after `tide`). Options may stand anywhere; `--name=value` and `--name
 * value` both work; Piccolo's underscore spellings (`--auto_agree`) are accepted; `--` ends
 * the options.
 *
 * @throws {UsageError} for an unknown command or option, a missing or extra argument.
 */
export function parseArgs(argv: readonly string[]): Parsed {
  const positionals: string[] = [];
  const seen: { spec: OptionSpec; value: string | true }[] = [];
  let command: CommandSpec | undefined;
  const known = () => [...GLOBAL_OPTIONS, ...(command?.options ?? [])];
  let rest = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (rest || arg === "-" || !arg.startsWith("-")) {
      if (command === undefined && !rest) {
        command = COMMANDS.find((c) => c.name === arg || c.alias === arg);
        if (!command) throw new UsageError(`unknown command '${arg}'`);
      } else positionals.push(arg);
      continue;
    }
    if (arg === "--") {
      rest = true;
      continue;
    }
    const eq = arg.indexOf("=");
    const name = (eq === -1 ? arg : arg.slice(0, eq)).replace(/^(--[a-z]+)_/, "$1-").replaceAll("_", "-");
    const spec = name.startsWith("--")
      ? known().find((o) => `--${o.long}` === name)
      : known().find((o) => o.short !== undefined && `-${o.short}` === name);
    if (!spec) throw new UsageError(`unknown option '${eq === -1 ? arg : arg.slice(0, eq)}'`);
    if (!spec.value) {
      if (eq !== -1) throw new UsageError(`option '${label(spec)}' takes no value`);
      seen.push({ spec, value: true });
      continue;
    }
    const value = eq !== -1 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined) throw new UsageError(`option '${label(spec)}' argument missing`);
    seen.push({ spec, value });
  }
  if (seen.some((s) => s.spec.long === "help")) return { kind: "help", text: help(command) };
  if (seen.some((s) => s.spec.long === "version")) return { kind: "version" };
  if (!command) {
    throw new UsageError(
      "Missing command: use backwards, forwards, verify, check, new, retained, purge or unlock (tide --help)",
    );
  }
  const required = command.arguments.filter((a) => a.required);
  if (positionals.length < required.length) {
    throw new UsageError(`missing required argument '${required[positionals.length]!.name}'`);
  }
  if (positionals.length > command.arguments.length) {
    throw new UsageError(
      `too many arguments for '${command.name}'. Expected ${command.arguments.length} argument${
        command.arguments.length === 1 ? "" : "s"
      } but got ${positionals.length}.`,
    );
  }
  const options: Record<string, string | boolean> = {};
  for (const o of known()) if (o.default !== undefined) options[camel(o.long)] = o.default;
  for (const { spec, value } of seen) options[camel(spec.long)] = value;
  return { kind: "run", command, positionals: command.arguments.map((_, i) => positionals[i]), options };
}

/** Help for tide, or for one command. */
export function help(command?: CommandSpec): string {
  const rows = (options: readonly OptionSpec[]) => {
    const width = Math.max(...options.map((o) => label(o).length));
    return options.map((o) =>
      `  ${label(o).padEnd(width)}  ${o.description}${o.default ? ` (default: "${o.default}")` : ""}`
    );
  };
  if (!command) {
    const width = Math.max(...COMMANDS.map((c) => usage(c).length));
    return [
      "Usage: tide [options] <command>",
      "",
      "Run PostgreSQL schema migrations forwards and, above all, backwards.",
      "",
      "Options:",
      ...rows(GLOBAL_OPTIONS),
      "",
      "Commands:",
      ...COMMANDS.map((c) => `  ${usage(c).padEnd(width)}  ${c.description}`),
      "",
    ].join("\n");
  }
  return [
    `Usage: tide ${usage(command)} [options]`,
    "",
    command.description,
    "",
    ...(command.arguments.length
      ? ["Arguments:", ...command.arguments.map((a) => `  ${a.name.padEnd(14)}  ${a.description}`), ""]
      : []),
    "Options:",
    ...rows([...command.options, ...GLOBAL_OPTIONS]),
    "",
  ].join("\n");
}

function usage(c: CommandSpec): string {
  const args = c.arguments.map((a) => (a.required ? `<${a.name}>` : `[${a.name}]`)).join(" ");
  return `${c.name}${c.alias ? `|${c.alias}` : ""}${args ? ` ${args}` : ""}`;
}
