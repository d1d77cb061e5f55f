// deno-lint-ignore-file no-console -- a script whose job is to print
/**
 * `deno task test`: finds or starts PostgreSQL, starts the other real parts the selected tests
 * need, runs the suite, and ends with `N passed, N failed` from the real counts.
 *
 * Parts, each found or started by its own module and passed to its tagged tests in env vars:
 * - `[postgres]` the PostgreSQL service on 127.0.0.1:5432, or a throwaway cluster (tools/postgres.ts);
 * - `[pg13]` … `[pg18]` the version matrix (tools/matrix.ts; installed when missing; `TIDE_TEST_MATRIX=off`
 *   skips it, a JSON object uses those servers instead);
 * - `[citus]` a three-node Citus cluster (tools/citus.ts);
 * - `[pgbouncer]` PgBouncer in session, transaction and statement mode (tools/pgbouncer.ts);
 * - `[standby]` a primary with a hot standby (tools/standby.ts);
 * - `[faults]` the fault-injection suite (tools/faults.ts: server binaries for restart trials).
 *
 * A part is started only when a selected test file uses its helper (`tests/helpers/<part>.ts`) or
 * its tag. A part that cannot run leaves its tests ignored, said loudly; `TIDE_REQUIRE_<PART>=1`
 * (CI sets them) turns a skipped or absent part into a failure.
 *
 * Extra arguments go to `deno test` (e.g. a file or `--filter`).
 *
 * @module
 */

import { startCitus } from "./citus.ts";
import { findFaultsSupport } from "./faults.ts";
import { installMatrix, MATRIX_VERSIONS, matrixProblem, startMatrix } from "./matrix.ts";
import { startPgbouncers } from "./pgbouncer.ts";
import { findTestServer } from "./postgres.ts";
import { startStandbyPair } from "./standby.ts";

const log = (s: string) => console.error(`[test] ${s}`);
const required = (part: string) => Deno.env.get(`TIDE_REQUIRE_${part.toUpperCase()}`) === "1";
const started = performance.now();
const seconds = (since: number) => `${((performance.now() - since) / 1000).toFixed(1)} s`;

const server = await findTestServer(log);
const env: Record<string, string> = { NO_COLOR: "1" };
if (server) {
  log(`PostgreSQL: ${server.origin}`);
  env.TIDE_TEST_POSTGRES_URL = server.url;
} else {
  log(
    "!!! No PostgreSQL server found or startable: running the PGlite half ONLY; the PostgreSQL tests are SKIPPED !!!",
  );
  if (required("postgres")) {
    log("TIDE_REQUIRE_POSTGRES=1: failing because the PostgreSQL tests cannot run");
    console.log("0 passed, 1 failed");
    Deno.exit(1);
  }
}

const args = Deno.args.length ? Deno.args : ["tests/"];

/** The text of every test file among the arguments (to learn which parts they need). */
async function selectedTestTexts(paths: string[]): Promise<string[]> {
  const texts: string[] = [];
  const walk = async (path: string): Promise<void> => {
    const info = await Deno.stat(path).catch(() => undefined);
    if (!info) return;
    if (info.isFile) texts.push(await Deno.readTextFile(path));
    else if (info.isDirectory) {
      for await (const entry of Deno.readDir(path)) {
        if (entry.isDirectory || /[._]test\.[jt]s$/.test(entry.name)) await walk(`${path}/${entry.name}`);
      }
    }
  };
  for (const p of paths) if (!p.startsWith("-")) await walk(p);
  return texts;
}
const texts = await selectedTestTexts(args);
const wants = (part: string) => texts.some((t) => t.includes(`helpers/${part}.ts`) || t.includes(`[${part}]`));

/** A real part beside the PostgreSQL service: its test tags, and how to stop it. */
interface Part {
  readonly name: string;
  /** Tags its tests end with (`[tag]`); the matrix has one per version. */
  readonly tags: readonly string[];
  readonly wanted: boolean;
  /** Tags whose server did not start (their tests are ignored). */
  readonly missing: readonly string[];
  stop(): Promise<void>;
}
const none = () => Promise.resolve();

async function matrixPart(): Promise<Part> {
  const tags = MATRIX_VERSIONS.map((v) => `pg${v}`);
  const given = Deno.env.get("TIDE_TEST_MATRIX");
  const wanted = wants("matrix");
  if (given === "off") {
    log("!!! TIDE_TEST_MATRIX=off: the version matrix (PostgreSQL 13, 14, 16, 17, 18) is SKIPPED !!!");
    env.TIDE_TEST_MATRIX = "{}"; // the tests see no version (they inherit this process's environment)
    return { name: "matrix", tags, wanted, missing: tags, stop: none };
  }
  if (given) {
    env.TIDE_TEST_MATRIX = given;
    const versions = Object.keys(JSON.parse(given));
    log(`version matrix from TIDE_TEST_MATRIX: ${versions.map((v) => `pg${v}`).join(" ")}`);
    return { name: "matrix", tags, wanted, missing: tags.filter((t) => !versions.includes(t.slice(2))), stop: none };
  }
  if (!wanted) return { name: "matrix", tags, wanted, missing: [], stop: none };
  const since = performance.now();
  const problem = await matrixProblem();
  if (problem) {
    log(`version matrix: ${problem}; installing it (tools/pg-matrix/install.sh)`);
    await installMatrix(log);
  }
  const matrix = await startMatrix();
  env.TIDE_TEST_MATRIX = matrix.env;
  const versions = [...matrix.servers.keys()];
  log(`version matrix: ${versions.map((v) => `pg${v}`).join(" ") || "none"} ready in ${seconds(since)}`);
  for (const [v, why] of matrix.missing) log(`!!! pg${v} is NOT available, its tests are SKIPPED: ${why} !!!`);
  return {
    name: "matrix",
    tags,
    wanted,
    missing: tags.filter((t) => !versions.includes(t.slice(2))),
    stop: () => matrix.stop(),
  };
}

async function citusPart(): Promise<Part> {
  const wanted = wants("citus");
  if (!wanted) return { name: "citus", tags: ["citus"], wanted, missing: [], stop: none };
  const since = performance.now();
  const citus = await startCitus(log);
  if (!citus) {
    log("!!! No Citus cluster could be started: the [citus] tests are SKIPPED !!!");
    return { name: "citus", tags: ["citus"], wanted, missing: ["citus"], stop: none };
  }
  log(
    `Citus: coordinator on 127.0.0.1:${citus.port}, workers on ${citus.port + 1} and ${citus.port + 2} ` +
      `(started in ${seconds(since)})`,
  );
  env.TIDE_TEST_CITUS_URL = citus.url;
  env.TIDE_TEST_CITUS_SCRIPT = citus.script;
  return { name: "citus", tags: ["citus"], wanted, missing: [], stop: () => citus.stop() };
}

async function pgbouncerPart(): Promise<Part> {
  const wanted = wants("pgbouncer");
  const bouncers = wanted && server ? await startPgbouncers(server.url, log) : undefined;
  if (bouncers) {
    log(`PgBouncer: session ${bouncers.sessionUrl}, transaction ${bouncers.transactionUrl}`);
    env.TIDE_TEST_PGBOUNCER_SESSION_URL = bouncers.sessionUrl;
    env.TIDE_TEST_PGBOUNCER_TRANSACTION_URL = bouncers.transactionUrl;
    env.TIDE_TEST_PGBOUNCER_STATEMENT_URL = bouncers.statementUrl;
  } else if (wanted) log("!!! PgBouncer could not be started: the [pgbouncer] tests are SKIPPED !!!");
  return {
    name: "pgbouncer",
    tags: ["pgbouncer"],
    wanted,
    missing: bouncers || !wanted ? [] : ["pgbouncer"],
    stop: () => bouncers?.stop() ?? none(),
  };
}

async function standbyPart(): Promise<Part> {
  const wanted = wants("standby");
  const pair = wanted ? await startStandbyPair(log) : undefined;
  if (pair) {
    log(`Standby pair: primary ${pair.primaryUrl}, standby ${pair.standbyUrl}`);
    env.TIDE_TEST_PRIMARY_URL = pair.primaryUrl;
    env.TIDE_TEST_STANDBY_URL = pair.standbyUrl;
  } else if (wanted) log("!!! The primary + standby pair could not be started: the [standby] tests are SKIPPED !!!");
  return {
    name: "standby",
    tags: ["standby"],
    wanted,
    missing: pair || !wanted ? [] : ["standby"],
    stop: () => pair?.stop() ?? none(),
  };
}

async function faultsPart(): Promise<Part> {
  const wanted = wants("faults");
  if (!wanted) return { name: "faults", tags: ["faults"], wanted, missing: [], stop: none };
  // The fault suite needs the PostgreSQL server, and for its restart trials server binaries it
  // can run a throwaway cluster of its own with.
  const faults = await findFaultsSupport(log);
  if (faults.bin) env.TIDE_TEST_FAULTS_PG_BIN = faults.bin;
  else log(`!!! Fault suite: no restartable cluster (${faults.why}): its restart trials are SKIPPED !!!`);
  if (!server) log("!!! Fault suite: no PostgreSQL server: the [faults] tests are SKIPPED !!!");
  return { name: "faults", tags: ["faults"], wanted, missing: server && faults.bin ? [] : ["faults"], stop: none };
}

// Started side by side: each takes seconds, most of it waiting for servers.
const parts = await Promise.all([matrixPart(), citusPart(), pgbouncerPart(), standbyPart(), faultsPart()]);
const stopAll = async () => {
  await Promise.allSettled(parts.map((p) => p.stop()));
  await server?.stop();
};
// Interrupted (Ctrl-C, a CI timeout): stop and remove the servers started here before leaving.
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(signal, async () => {
    log(`${signal}: stopping the servers this run started`);
    await stopAll();
    Deno.exit(130);
  });
}
log(`servers ready in ${seconds(started)}`);

const testsStarted = performance.now();
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
log(`tests took ${seconds(testsStarted)}`);
await stopAll();

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
const count = (tag: string, result: "ok" | "FAILED" | "ignored") =>
  (text.match(new RegExp(`\\[${tag}\\] \\.\\.\\. ${result}`, "g")) ?? []).length;
let code = status.code;

const postgresRan = count("postgres", "ok");
const postgresIgnored = count("postgres", "ignored");
log(`[postgres] tests passed: ${postgresRan}${postgresIgnored ? `, SKIPPED: ${postgresIgnored}` : ""}`);
if (required("postgres") && (postgresIgnored > 0 || postgresRan === 0)) {
  log(`TIDE_REQUIRE_POSTGRES=1 but ${postgresIgnored} test(s) were ignored and ${postgresRan} passed`);
  code = code || 1;
}
for (const part of parts) {
  if (!part.wanted) continue;
  const lines = part.tags.map((tag) => {
    const ok = count(tag, "ok");
    const bad = count(tag, "FAILED");
    const skipped = count(tag, "ignored");
    return { tag, ok, bad, skipped, absent: part.missing.includes(tag) || skipped > 0 || ok + bad === 0 };
  });
  log(
    `${part.name}: ${
      lines.map((l) =>
        `[${l.tag}] ${l.ok} passed${l.bad ? `, ${l.bad} failed` : ""}${l.skipped ? `, SKIPPED: ${l.skipped}` : ""}${
          part.missing.includes(l.tag) ? " (not running)" : ""
        }`
      ).join("; ")
    }`,
  );
  const absent = lines.filter((l) => l.absent);
  if (required(part.name) && absent.length > 0) {
    log(`TIDE_REQUIRE_${part.name.toUpperCase()}=1 but ${absent.map((l) => `[${l.tag}]`).join(", ")} did not run`);
    code = code || 1;
  }
}

// The oracle round trips (tests/oracle/): objects restored exactly, known gaps, failures, per database.
const oracle = new Map<string, { exact: number; gaps: number; failed: number }>();
for (const line of text.split("\n")) {
  const m = /oracle .*?( \(known gap\))? \[(\w+)\] \.\.\. (ok|FAILED)/.exec(line);
  if (!m) continue;
  const c = oracle.get(m[2]!) ?? { exact: 0, gaps: 0, failed: 0 };
  if (m[3] === "FAILED") c.failed++;
  else if (m[1]) c.gaps++;
  else c.exact++;
  oracle.set(m[2]!, c);
}
if (oracle.size) {
  log(
    `oracle round trips, restored exactly / known gaps / failed: ${
      [...oracle].map(([tag, c]) => `${tag} ${c.exact}/${c.gaps}/${c.failed}`).join(", ")
    }`,
  );
}
log(`whole run: ${seconds(started)}`);
console.log(`${passed} passed, ${failed} failed${ignored ? `, ${ignored} skipped` : ""}`);
Deno.exit(code);
