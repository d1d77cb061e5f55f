import { assertEquals } from "../helpers/assert.ts";
import { isLongRun, type ProcessFacts, relaunchArgs, SHORT_BACKWARDS } from "../../src/cli/relaunch.ts";
import { V8_FLAGS_ARG } from "../../src/v8_flags.ts";

const DENO = "/usr/bin/deno";
const SCRIPT = ["-A", "--quiet", "--config", "/r/deno.json", "/r/main.ts"];

function facts(args: string[], extra: Partial<ProcessFacts> = {}, denoFlags = SCRIPT): ProcessFacts {
  return { args, cmdline: [DENO, "run", ...denoFlags, ...args], standalone: false, env: {}, ...extra };
}

Deno.test("relaunch: a long run from source without V8 flags repeats its command line with them", () => {
  const args = ["backwards", "app", "all", "--auto-agree"];
  assertEquals(relaunchArgs(facts(args)), ["run", V8_FLAGS_ARG, "--no-code-cache", ...SCRIPT, ...args]);
  assertEquals(relaunchArgs(facts(["forwards", "app"]))?.[1], V8_FLAGS_ARG);
  assertEquals(relaunchArgs(facts(["verify", "app"]))?.[1], V8_FLAGS_ARG);
});

Deno.test("relaunch: never for the binary, given flags, the opt-out, a child, or another command line", () => {
  const args = ["backwards", "app", "all", "-y"];
  assertEquals(relaunchArgs(facts(args, { standalone: true })), undefined);
  assertEquals(relaunchArgs(facts(args, { env: { v8Flags: "--max-old-space-size=64" } })), undefined);
  assertEquals(relaunchArgs(facts(args, { env: { relaunch: "0" } })), undefined);
  assertEquals(relaunchArgs(facts(args, { env: { relaunch: "4242" } })), undefined);
  assertEquals(relaunchArgs(facts(args, {}, ["--v8-flags=--max-opt=0", ...SCRIPT])), undefined);
  assertEquals(relaunchArgs(facts(args, {}, ["--v8-flags", "--max-opt=0", ...SCRIPT])), undefined);
  // `deno main.ts …` (no `run`), or a command line whose tail is not tide's arguments.
  assertEquals(relaunchArgs({ ...facts(args), cmdline: [DENO, "/r/main.ts", ...args] }), undefined);
  assertEquals(
    relaunchArgs({ ...facts(args), cmdline: [DENO, "run", ...SCRIPT, "backwards", "x", "all", "-y"] }),
    undefined,
  );
});

Deno.test("relaunch: short and listing commands run in the first process", () => {
  assertEquals(isLongRun(["backwards", "app"]), false);
  assertEquals(isLongRun(["backwards", "app", "1", "-y"]), false);
  assertEquals(isLongRun(["backwards", "app", String(SHORT_BACKWARDS)]), false);
  assertEquals(isLongRun(["backwards", "app", String(SHORT_BACKWARDS + 1)]), true);
  assertEquals(isLongRun(["backwards", "app", "--migration-id", "all"]), true);
  assertEquals(isLongRun(["backwards", "app", "2026-01-01T00:00:00:000001"]), true);
  assertEquals(isLongRun(["backwards", "all", "all", "--preview"]), true);
  for (const args of [["check"], ["new", "app"], ["retained"], ["unlock"], ["--version"], ["--help"], ["nonsense"]]) {
    assertEquals(isLongRun(args), false, args.join(" "));
  }
});
