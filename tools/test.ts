// deno-lint-ignore-file no-console -- a script whose job is to print
/**
 * `deno task test`: finds or starts PostgreSQL, runs the whole suite on PGlite and on it, and
 * ends with `N passed, N failed` from the real counts. With TIDE_REQUIRE_POSTGRES=1 a suite
 * that could not run its PostgreSQL half fails.
 *
 * The version matrix (tools/matrix.ts: PostgreSQL 13, 14, 16, 17, 18) is installed when
 * missing and started when a selected test file uses tests/helpers/matrix.ts; its URLs go to
 * the tests in TIDE_TEST_MATRIX (`off` skips it, a JSON object uses those servers instead).
 * With TIDE_REQUIRE_MATRIX=1 a version that did not run fails the suite.
 *
 * Citus (tools/citus.ts): one throwaway three-node cluster when `[citus]` tests are selected
 * (TIDE_TEST_CITUS_URL); TIDE_REQUIRE_CITUS=1 makes a skipped Citus test a failure.
 *
 * Extra arguments go to `deno test` (e.g. a file or `--filter`).
 *
 * @module
 */

import { startCitus } from "./citus.ts";
import { findTestServer } from "./postgres.ts";
import { installMatrix, type Matrix, MATRIX_VERSIONS, matrixProblem, startMatrix } from "./matrix.ts";

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

/** Whether any test file among the arguments uses the matrix (starting it costs seconds and 5 servers). */
async function usesMatrix(paths: string[]): Promise<boolean> {
  const files: string[] = [];
  const walk = async (path: string): Promise<void> => {
    const info = await Deno.stat(path).catch(() => undefined);
    if (!info) return;
    if (info.isFile) files.push(path);
    else if (info.isDirectory) {
      for await (const entry of Deno.readDir(path)) {
        if (entry.isDirectory || /[._]test\.[jt]s$/.test(entry.name)) await walk(`${path}/${entry.name}`);
      }
    }
  };
  for (const p of paths) if (!p.startsWith("-")) await walk(p);
  for (const file of files) {
    if ((await Deno.readTextFile(file)).includes("helpers/matrix.ts")) return true;
  }
  return false;
}

const requireMatrix = Deno.env.get("TIDE_REQUIRE_MATRIX") === "1";
const givenMatrix = Deno.env.get("TIDE_TEST_MATRIX");
const matrixWanted = await usesMatrix(args);
let matrix: Matrix | undefined;
let matrixVersions: string[] = [];
if (givenMatrix === "off") {
  log("!!! TIDE_TEST_MATRIX=off: the version matrix (PostgreSQL 13, 14, 16, 17, 18) is SKIPPED !!!");
} else if (givenMatrix) {
  env.TIDE_TEST_MATRIX = givenMatrix;
  matrixVersions = Object.keys(JSON.parse(givenMatrix));
  log(`version matrix from TIDE_TEST_MATRIX: ${matrixVersions.map((v) => `pg${v}`).join(" ")}`);
} else if (matrixWanted) {
  const problem = await matrixProblem();
  if (problem) {
    log(`version matrix: ${problem}; installing it (tools/pg-matrix/install.sh)`);
    await installMatrix(log);
  }
  matrix = await startMatrix();
  matrixVersions = [...matrix.servers.keys()];
  env.TIDE_TEST_MATRIX = matrix.env;
  log(
    `version matrix: ${matrixVersions.map((v) => `pg${v}`).join(" ") || "none"} started in ${
      matrix.startSeconds.toFixed(1)
    } s`,
  );
  for (const [v, why] of matrix.missing) log(`!!! pg${v} is NOT available, its tests are SKIPPED: ${why} !!!`);
}
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
} else if (wantsCitus) {
  log("!!! No Citus cluster could be started: the [citus] tests are SKIPPED !!!");
  if (requireCitus) {
    log("TIDE_REQUIRE_CITUS=1: failing because the Citus tests cannot run");
    await Promise.allSettled([server?.stop(), matrix?.stop()]);
    console.log("0 passed, 1 failed");
    Deno.exit(1);
  }
}
const testsStarted = performance.now();
// Interrupted (Ctrl-C, a CI timeout): stop and remove the clusters started here before leaving.
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(signal, async () => {
    log(`${signal}: stopping the servers this run started`);
    await Promise.allSettled([server?.stop(), matrix?.stop(), citus?.stop()]);
    Deno.exit(130);
  });
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
const testSeconds = (performance.now() - testsStarted) / 1000;
await server?.stop();
await matrix?.stop();
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
const postgresRan = (text.match(/\[postgres\] \.\.\. ok/g) ?? []).length;
const citusRan = (text.match(/\[citus\] \.\.\. ok/g) ?? []).length;
const citusIgnored = (text.match(/\[citus\] \.\.\. ignored/g) ?? []).length;
let code = status.code;
// A skipped Citus half is TIDE_REQUIRE_CITUS's business, below.
if (require && (ignored - citusIgnored > 0 || postgresRan === 0)) {
  log(`TIDE_REQUIRE_POSTGRES=1 but ${ignored} test(s) were ignored and ${postgresRan} PostgreSQL test(s) passed`);
  code = code || 1;
}
log(`PostgreSQL tests passed: ${postgresRan}`);
if (wantsCitus) log(`Citus tests passed: ${citusRan}${citusIgnored ? `, ignored: ${citusIgnored}` : ""}`);
if (requireCitus && wantsCitus && (citusIgnored > 0 || citusRan === 0)) {
  log(`TIDE_REQUIRE_CITUS=1 but ${citusIgnored} Citus test(s) were ignored and ${citusRan} passed`);
  code = code || 1;
}
if (matrixWanted || givenMatrix) {
  const counts = MATRIX_VERSIONS.map((v) => {
    const ok = (text.match(new RegExp(`\\[pg${v}\\] \\.\\.\\. ok`, "g")) ?? []).length;
    const bad = (text.match(new RegExp(`\\[pg${v}\\] \\.\\.\\. FAILED`, "g")) ?? []).length;
    return { v, ok, bad, ran: matrixVersions.includes(v) };
  });
  log(
    `version matrix: ${
      counts.map((c) => c.ran ? `pg${c.v} ${c.ok} passed${c.bad ? ` ${c.bad} failed` : ""}` : `pg${c.v} SKIPPED`).join(
        ", ",
      )
    } (tests took ${testSeconds.toFixed(0)} s)`,
  );
  const absent = counts.filter((c) => !c.ran || c.ok + c.bad === 0);
  if (requireMatrix && matrixWanted && absent.length) {
    log(`TIDE_REQUIRE_MATRIX=1 but ${absent.map((c) => `pg${c.v}`).join(", ")} did not run`);
    code = code || 1;
  }
}
// The oracle round trips (tests/oracle/): objects restored exactly, known gaps, failures, per database.
const oracle = new Map<string, { exact: number; gaps: number; failed: number }>();
for (const line of text.split("\n")) {
  const m = /oracle .*?( \(known gap\))? \[(\w+)\] \.\.\. (ok|FAILED)/.exec(line);
  if (!m) continue;
  const count = oracle.get(m[2]!) ?? { exact: 0, gaps: 0, failed: 0 };
  if (m[3] === "FAILED") count.failed++;
  else if (m[1]) count.gaps++;
  else count.exact++;
  oracle.set(m[2]!, count);
}
if (oracle.size) {
  log(
    `oracle round trips, restored exactly / known gaps / failed: ${
      [...oracle].map(([tag, c]) => `${tag} ${c.exact}/${c.gaps}/${c.failed}`).join(", ")
    }`,
  );
}
console.log(`${passed} passed, ${failed} failed${ignored ? `, ${ignored} skipped` : ""}`);
Deno.exit(code);
