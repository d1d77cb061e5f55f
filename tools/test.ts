// deno-lint-ignore-file no-console -- a script whose job is to print
/**
 * `deno task test`: finds or starts PostgreSQL, runs the whole suite on PGlite and on it, and
 * ends with `N passed, N failed` from the real counts. With TIDE_REQUIRE_POSTGRES=1 a suite
 * that could not run its PostgreSQL half fails.
 *
 * Extra arguments go to `deno test` (e.g. a file or `--filter`).
 *
 * @module
 */

import { startCitus } from "./citus.ts";
import { findTestServer } from "./postgres.ts";

const log = (s: string) => console.error(`[test] ${s}`);
const require = Deno.env.get("TIDE_REQUIRE_POSTGRES") === "1";
const server = await findTestServer(log);
const env: Record<string, string> = { NO_COLOR: "1" };
if (server) {
  log(`PostgreSQL: ${server.origin}`);
  env.TIDE_TEST_POSTGRES_URL = server.url;
} else {
  log(
    "!!! No PostgreSQL server found or startable: running the PGlite half ONLY; the PostgreSQL tests are SKIPPED !!!",
  );
  if (require) {
    log("TIDE_REQUIRE_POSTGRES=1: failing because the PostgreSQL tests cannot run");
    console.log("0 passed, 1 failed");
    Deno.exit(1);
  }
}

const args = Deno.args.length ? Deno.args : ["tests/"];

// Citus: one throwaway three-node cluster for the suite when the [citus] tests are among those
// run (the whole suite, tests/citus, or a file in it); each test makes its own database.
const requireCitus = Deno.env.get("TIDE_REQUIRE_CITUS") === "1";
const wantsCitus = args.some((a) => /^(\.\/)?tests\/?$/.test(a) || a.includes("citus"));
const citusStarted = performance.now();
const citus = wantsCitus ? await startCitus(log) : undefined;
if (citus) {
  log(
    `Citus: coordinator on 127.0.0.1:${citus.port}, workers on ${citus.port + 1} and ${citus.port + 2} ` +
      `(started in ${Math.round(performance.now() - citusStarted)} ms)`,
  );
  env.TIDE_TEST_CITUS_URL = citus.url;
  env.TIDE_TEST_CITUS_SCRIPT = citus.script;
  // An interrupted suite still removes its cluster (three servers and their data under /tmp).
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(signal, () => void citus.stop().finally(() => Deno.exit(130)));
  }
} else if (wantsCitus) {
  log("!!! No Citus cluster could be started: the [citus] tests are SKIPPED !!!");
  if (requireCitus) {
    log("TIDE_REQUIRE_CITUS=1: failing because the Citus tests cannot run");
    await server?.stop();
    console.log("0 passed, 1 failed");
    Deno.exit(1);
  }
}
const child = new Deno.Command(Deno.execPath(), {
  args: ["test", "--allow-all", "--parallel", ...args],
  env,
  // No terminal for the tests, even when the suite is started from one: a test that expects
  // "no TTY" must not find one (and no test may wait for a person).
  stdin: "null",
  stdout: "piped",
  stderr: "inherit",
}).spawn();

// Echo the output while keeping it, to read deno's own summary at the end.
let text = "";
const decoder = new TextDecoder();
for await (const chunk of child.stdout) {
  const s = decoder.decode(chunk, { stream: true });
  text += s;
  await Deno.stdout.write(chunk);
}
const status = await child.status;
await server?.stop();
await citus?.stop();

const summary =
  /(ok|FAILED) \| (\d+) passed(?: \((\d+) steps?\))? \| (\d+) failed(?: \((\d+) steps?\))?(?: \| (\d+) ignored)?/
    .exec(text);
if (!summary) {
  log("could not read deno test's summary");
  console.log("0 passed, 1 failed");
  Deno.exit(1);
}
const passed = Number(summary[2]);
const failed = Number(summary[4]);
const ignored = Number(summary[6] ?? 0);
const tagged = (tag: string, result: string) =>
  (text.match(new RegExp(`\\[${tag}\\] \\.\\.\\. ${result}`, "g")) ?? []).length;
const postgresRan = tagged("postgres", "ok");
const citusRan = tagged("citus", "ok");
const citusIgnored = tagged("citus", "ignored");
let code = status.code;
if (require && (ignored - citusIgnored > 0 || postgresRan === 0)) {
  log(`TIDE_REQUIRE_POSTGRES=1 but ${ignored} test(s) were ignored and ${postgresRan} PostgreSQL test(s) passed`);
  code = code || 1;
}
if (requireCitus && wantsCitus && (citusIgnored > 0 || citusRan === 0)) {
  log(`TIDE_REQUIRE_CITUS=1 but ${citusIgnored} Citus test(s) were ignored and ${citusRan} passed`);
  code = code || 1;
}
log(`PostgreSQL tests passed: ${postgresRan}`);
if (wantsCitus) log(`Citus tests passed: ${citusRan}${citusIgnored ? `, ignored: ${citusIgnored}` : ""}`);
console.log(`${passed} passed, ${failed} failed${ignored ? `, ${ignored} skipped` : ""}`);
Deno.exit(code);
