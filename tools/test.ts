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

import { startPgbouncers } from "./pgbouncer.ts";
import { findFaultsSupport } from "./faults.ts";
import { findTestServer } from "./postgres.ts";
import { startStandbyPair } from "./standby.ts";

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

/**
 * Extra real parts: each is started by its own module and passes URLs to its tagged tests.
 * A part that cannot run leaves its tests ignored (logged loudly); TIDE_REQUIRE_<PART>=1 fails.
 */
const parts: { tag: string; require: boolean; ran: boolean; stop: () => Promise<void> }[] = [];
{
  const require = Deno.env.get("TIDE_REQUIRE_PGBOUNCER") === "1";
  const bouncers = server ? await startPgbouncers(server.url, log) : undefined;
  if (bouncers) {
    log(`PgBouncer: session ${bouncers.sessionUrl}, transaction ${bouncers.transactionUrl}`);
    env.TIDE_TEST_PGBOUNCER_SESSION_URL = bouncers.sessionUrl;
    env.TIDE_TEST_PGBOUNCER_TRANSACTION_URL = bouncers.transactionUrl;
    env.TIDE_TEST_PGBOUNCER_STATEMENT_URL = bouncers.statementUrl;
  } else log("!!! PgBouncer could not be started: the [pgbouncer] tests are SKIPPED !!!");
  parts.push({
    tag: "pgbouncer",
    require,
    ran: bouncers !== undefined,
    stop: () => bouncers?.stop() ?? Promise.resolve(),
  });
}

{
  const require = Deno.env.get("TIDE_REQUIRE_STANDBY") === "1";
  const pair = await startStandbyPair(log);
  if (pair) {
    log(`Standby pair: primary ${pair.primaryUrl}, standby ${pair.standbyUrl}`);
    env.TIDE_TEST_PRIMARY_URL = pair.primaryUrl;
    env.TIDE_TEST_STANDBY_URL = pair.standbyUrl;
  } else log("!!! The primary + standby pair could not be started: the [standby] tests are SKIPPED !!!");
  parts.push({ tag: "standby", require, ran: pair !== undefined, stop: () => pair?.stop() ?? Promise.resolve() });
}
// The fault suite (tests/faults, `[faults]`): needs the PostgreSQL server, and for its restart
// trials server binaries it can run a throwaway cluster of its own with (tools/faults.ts).
const requireFaults = Deno.env.get("TIDE_REQUIRE_FAULTS") === "1";
const faults = await findFaultsSupport(log);
if (faults.bin) env.TIDE_TEST_FAULTS_PG_BIN = faults.bin;
else log(`!!! Fault suite: no restartable cluster (${faults.why}): its restart trials are SKIPPED !!!`);
if (!server) log("!!! Fault suite: no PostgreSQL server: the [faults] tests are SKIPPED !!!");

const args = Deno.args.length ? Deno.args : ["tests/"];
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
for (const part of parts) await part.stop();
await server?.stop();

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
const count = (tag: string, result: string) =>
  (text.match(new RegExp(`\\[${tag}\\] \\.\\.\\. ${result}`, "g")) ?? []).length;
const postgresRan = count("postgres", "ok");
const postgresIgnored = count("postgres", "ignored");
let code = status.code;
if (require && (postgresIgnored > 0 || postgresRan === 0)) {
  log(
    `TIDE_REQUIRE_POSTGRES=1 but ${postgresIgnored} test(s) were ignored and ${postgresRan} PostgreSQL test(s) passed`,
  );
  code = code || 1;
}
log(`PostgreSQL tests passed: ${postgresRan}`);
for (const part of parts) {
  const ran = count(part.tag, "ok");
  const skipped = count(part.tag, "ignored");
  log(
    `[${part.tag}] tests passed: ${ran}${skipped ? `, SKIPPED: ${skipped}` : ""}${
      part.ran ? "" : " (part not running)"
    }`,
  );
  if (part.require && skipped > 0) {
    log(`TIDE_REQUIRE_${part.tag.toUpperCase()}=1 but ${skipped} [${part.tag}] test(s) were skipped`);
    code = code || 1;
  }
}
const faultsRan = (text.match(/\[faults\] \.\.\. ok/g) ?? []).length;
const faultsSkipped = (text.match(/\[faults\] \.\.\. ignored/g) ?? []).length;
const faultsAsked = args.some((a) => a === "tests/" || a.startsWith("tests/faults"));
log(`fault-injection tests passed: ${faultsRan}${faultsSkipped ? `, SKIPPED: ${faultsSkipped}` : ""}`);
if (requireFaults && faultsAsked && (faultsSkipped > 0 || faultsRan === 0)) {
  log(`TIDE_REQUIRE_FAULTS=1 but ${faultsSkipped} fault test(s) were skipped and ${faultsRan} passed`);
  code = code || 1;
}
console.log(`${passed} passed, ${failed} failed${ignored ? `, ${ignored} skipped` : ""}`);
Deno.exit(code);
