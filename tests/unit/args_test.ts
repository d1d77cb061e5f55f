import { help, parseArgs } from "../../src/cli/args.ts";
import { assertEquals, assertMatch, assertThrows } from "../helpers/assert.ts";

function run(argv: string[]) {
  const parsed = parseArgs(argv);
  if (parsed.kind !== "run") throw new Error(`expected a command, got ${parsed.kind}`);
  return { command: parsed.command.name, positionals: parsed.positionals, options: parsed.options };
}

Deno.test("parseArgs() reads commands, aliases, positionals and defaults", () => {
  const b = run(["b", "blog", "2"]);
  assertEquals([b.command, b.positionals], ["backwards", ["blog", "2"]]);
  assertEquals([b.options.config, b.options.lockTimeout, b.options.ddlLockTimeout, b.options.ddlRetries], [
    "tide.json",
    "10s",
    "5s",
    "3",
  ]);
  assertEquals(run(["forwards", "all"]).positionals, ["all", undefined]);
  assertEquals(run(["check"]).positionals, [undefined]);
});

Deno.test("parseArgs() takes options anywhere, --name=value and --name value, short and Piccolo spellings", () => {
  const o = run([
    "--json",
    "backwards",
    "blog",
    "-y",
    "--lock-timeout=2s",
    "--database-url",
    "postgres://x/y",
    "--migration_id",
    "all",
  ]).options;
  assertEquals([o.json, o.autoAgree, o.lockTimeout, o.databaseUrl, o.migrationId], [
    true,
    true,
    "2s",
    "postgres://x/y",
    "all",
  ]);
  assertEquals(run(["backwards", "blog", "--auto_agree"]).options.autoAgree, true);
  assertEquals(run(["backwards", "--", "-weird-app"]).positionals, ["-weird-app", undefined]);
});

Deno.test("parseArgs() refuses unknown commands and options, missing and extra arguments, in commander's words", () => {
  assertThrows(() => parseArgs(["backwards", "blog", "--bogus"]), /unknown option '--bogus'/);
  assertThrows(() => parseArgs(["forwards", "blog", "--clean"]), /unknown option '--clean'/);
  assertThrows(() => parseArgs(["destroy"]), /unknown command 'destroy'/);
  assertThrows(() => parseArgs(["backwards"]), /missing required argument 'app'/);
  assertThrows(
    () => parseArgs(["check", "a", "b"]),
    /too many arguments for 'check'\. Expected 1 argument but got 2\./,
  );
  assertThrows(
    () => parseArgs(["backwards", "a", "--lock-timeout"]),
    /option '--lock-timeout <duration>' argument missing/,
  );
  assertThrows(() => parseArgs(["backwards", "a", "--clean=yes"]), /takes no value/);
  assertThrows(() => parseArgs([]), /Missing command/);
});

Deno.test("parseArgs() answers --help and --version", () => {
  assertEquals(parseArgs(["--version"]), { kind: "version" });
  const top = parseArgs(["--help"]);
  assertEquals(top.kind, "help");
  assertMatch(
    (top as { text: string }).text,
    /backwards\|b <app> \[migration_id\][\s\S]*forwards\|f[\s\S]*verify[\s\S]*check[\s\S]*new/,
  );
  assertMatch(help(), /--database-url <url>/);
  const sub = parseArgs(["backwards", "--help"]);
  assertMatch((sub as { text: string }).text, /-y, --auto-agree[\s\S]*--lock-timeout <duration>.*default: "10s"/);
});
