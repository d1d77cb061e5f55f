// deno-lint-ignore-file no-console -- a benchmark script whose job is to print
/**
 * tide against the floor: times `tide backwards all` and `tide backwards 1` next to psql
 * running the same SQL and a bare Deno + postgres.js runner, in the same run, over several
 * rounds; prints medians, ratios and tide's peak RSS.
 *
 * deno task bench [--n 500] [--small 10] [--rounds 5]
 *
 * Needs PostgreSQL: TIDE_BENCH_URL, else the service on 127.0.0.1:5432 (it creates and drops
 * its own bench_* databases) and psql on PATH.
 *
 * @module
 */

import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import postgres from "postgres";
import { PERMISSIONS } from "../tools/permissions.ts";
import { makeBenchProject, reversalSql } from "./workload.ts";

const REPO = join(dirname(fileURLToPath(import.meta.url)), "..");
const flag = (name: string, fallback: number) => {
  const i = Deno.args.indexOf(`--${name}`);
  return i === -1 ? fallback : Number(Deno.args[i + 1]);
};
const N = flag("n", 500);
const SMALL = flag("small", 10);
const ROUNDS = flag("rounds", 5);
const PGLITE = !Deno.args.includes("--no-pglite");
const ADMIN = Deno.env.get("TIDE_BENCH_URL") ?? "postgres://postgres@127.0.0.1:5432/postgres";

interface Run {
  ms: number;
  rssKb: number | undefined;
}

/** Runs a command, timing its wall clock and reading its peak RSS through GNU time. */
async function timed(cmd: string, args: string[], cwd: string, env: Record<string, string> = {}): Promise<Run> {
  const rssFile = join(await mkdtemp(join(tmpdir(), "tide-bench-rss-")), "rss");
  const started = performance.now();
  const out = await new Deno.Command("/usr/bin/time", {
    args: ["-f", "%M", "-o", rssFile, cmd, ...args],
    cwd,
    env: { TIDE_DATABASE_URL: "", DATABASE_URL: "", ...env },
    stdout: "null",
    stderr: "piped",
  }).output();
  const ms = performance.now() - started;
  if (!out.success) throw new Error(`${cmd} ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
  const rss = Number((await Deno.readTextFile(rssFile)).trim().split("\n").at(-1));
  await Deno.remove(dirname(rssFile), { recursive: true });
  return { ms, rssKb: Number.isFinite(rss) ? rss : undefined };
}

function tideArgs(url: string | undefined, ...args: string[]): string[] {
  return [
    "run",
    ...PERMISSIONS,
    "--quiet",
    "--config",
    join(REPO, "deno.json"),
    join(REPO, "main.ts"),
    ...args,
    ...(url === undefined ? [] : ["--database-url", url]),
  ];
}

async function tide(project: string, url: string, ...args: string[]): Promise<Run> {
  return await timed(Deno.execPath(), tideArgs(url, ...args), project);
}

async function psqlFile(url: string, statements: string[], single = true): Promise<Run> {
  const file = join(await mkdtemp(join(tmpdir(), "tide-bench-sql-")), "reverse.sql");
  await writeFile(file, statements.map((s) => `${s};`).join("\n") + "\n");
  try {
    return await timed(
      "psql",
      ["-X", "-q", ...(single ? ["-1"] : []), "-v", "ON_ERROR_STOP=1", "-d", url, "-f", file],
      REPO,
    );
  } finally {
    await Deno.remove(dirname(file), { recursive: true });
  }
}

async function bare(url: string, which: string): Promise<Run> {
  return await timed(Deno.execPath(), [
    "run",
    "-A",
    "--config",
    join(REPO, "deno.json"),
    join(REPO, "bench", "bare_runner.ts"),
    url,
    which,
  ], REPO);
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

async function withDatabase<T>(fn: (url: string) => Promise<T>): Promise<T> {
  const name = `bench_${crypto.randomUUID().replaceAll("-", "").slice(0, 10)}`;
  const admin = postgres(ADMIN, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  const url = ADMIN.replace(/\/[^/?]*(\?|$)/, `/${name}$1`);
  try {
    return await fn(url);
  } finally {
    await admin.unsafe(`drop database if exists ${name} with (force)`);
    await admin.end();
  }
}

const results: Record<string, number[]> = {};
const rss: Record<string, number[]> = {};
const record = (key: string, run: Run, isTide = false) => {
  (results[key] ??= []).push(run.ms);
  if (isTide && run.rssKb) (rss[key] ??= []).push(run.rssKb);
};

console.error(
  `tide bench: N=${N} (and ${SMALL} for start-up), ${ROUNDS} rounds, PostgreSQL at ${
    ADMIN.replace(/:[^:@/]*@/, ":***@")
  }`,
);
// Both projects live side by side and their `backwards 1` rounds alternate, so that drift in
// the machine's load hits N and the small project alike (the N/small ratio compares like with like).
const big = await makeBenchProject(N);
const small = await makeBenchProject(SMALL);
await withDatabase((urlBig) =>
  withDatabase(async (urlSmall) => {
    // Warm Deno's caches; create the history tables.
    await tide(big, urlBig, "forwards", "app");
    await tide(small, urlSmall, "forwards", "app");
    for (let round = 1; round <= ROUNDS; round++) {
      const [project, url, n] = [big, urlBig, N];
      record(`tide backwards all (N=${n})`, await tide(project, url, "backwards", "app", "all", "-y"), true);
      record(`tide forwards all (N=${n})`, await tide(project, url, "forwards", "app"), true);
      record(`psql -1 backwards all (N=${n})`, await psqlFile(url, reversalSql(n, 1, false)));
      await tide(project, url, "forwards", "app");
      // Not a target, a reference: psql with tide's transaction shape (BEGIN … COMMIT per
      // migration, one statement per round trip) shows what the 500 COMMITs cost.
      record(
        `psql, one transaction per migration, backwards all (N=${n})`,
        await psqlFile(url, reversalSql(n, 1, true), false),
      );
      await tide(project, url, "forwards", "app");
      record(`bare Deno+postgres.js backwards all (N=${n})`, await bare(url, "all"));
      await tide(project, url, "forwards", "app");
      for (const [project, url, n] of [[big, urlBig, N], [small, urlSmall, SMALL]] as const) {
        record(`tide backwards 1 (N=${n})`, await tide(project, url, "backwards", "app", "1", "-y"), true);
        await tide(project, url, "forwards", "app");
        record(`psql -1 backwards 1 (N=${n})`, await psqlFile(url, reversalSql(n, n, false)));
        await tide(project, url, "forwards", "app");
        record(`bare Deno+postgres.js backwards 1 (N=${n})`, await bare(url, "1"));
        await tide(project, url, "forwards", "app");
      }
      console.error(`  round ${round}/${ROUNDS} done`);
    }
  })
);
await Deno.remove(big, { recursive: true });
await Deno.remove(small, { recursive: true });

/**
 * The embedded default (no database URL anywhere): a fresh project's first run creates the
 * PGlite data folder; with an empty cache that includes initdb, otherwise the cached template
 * is unpacked. A later `check` opens the existing folder.
 */
async function pglite(): Promise<[string, number][]> {
  const rounds = Math.max(1, Math.min(ROUNDS, 3));
  const runs: Record<string, number[]> = {};
  const add = (key: string, run: Run) => (runs[key] ??= []).push(run.ms);
  const cache = await mkdtemp(join(tmpdir(), "tide-bench-cache-")); // the template, once made
  const warm = await makeBenchProject(12);
  await timedTide(warm, cache, "forwards", "app"); // Deno's caches, and the template
  await Deno.remove(warm, { recursive: true });
  for (let round = 1; round <= rounds; round++) {
    const emptyCache = await mkdtemp(join(tmpdir(), "tide-bench-cache-"));
    const first = await makeBenchProject(12);
    add(
      "fresh project, empty cache (initdb): forwards all (12)",
      await timedTide(first, emptyCache, "forwards", "app"),
    );
    await Deno.remove(first, { recursive: true });
    await Deno.remove(emptyCache, { recursive: true });
    const project = await makeBenchProject(12);
    add("fresh project, template cached: forwards all (12)", await timedTide(project, cache, "forwards", "app"));
    add("later run: check", await timedTide(project, cache, "check"));
    add("later run: backwards app 1 -y", await timedTide(project, cache, "backwards", "app", "1", "-y"));
    await Deno.remove(project, { recursive: true });
    console.error(`  pglite round ${round}/${rounds} done`);
  }
  await Deno.remove(cache, { recursive: true });
  return Object.entries(runs).map(([key, values]) => [key, median(values)]);
}

async function timedTide(project: string, cacheDir: string, ...args: string[]): Promise<Run> {
  return await timed(Deno.execPath(), tideArgs(undefined, ...args), project, { TIDE_CACHE_DIR: cacheDir });
}

const embedded = PGLITE ? await pglite() : [];

const m = (key: string) => median(results[key] ?? [NaN]);
console.log(`\n| measurement (median of ${ROUNDS}) | ms |\n|---|---:|`);
for (const key of Object.keys(results)) console.log(`| ${key} | ${m(key).toFixed(0)} |`);
const ratio = (a: string, b: string) => m(a) / m(b);
const rows: [string, number, string][] = [
  [
    `tide backwards all / psql floor (N=${N})`,
    ratio(`tide backwards all (N=${N})`, `psql -1 backwards all (N=${N})`),
    "≤ 1.5",
  ],
  [
    `tide backwards all / bare Deno+postgres.js (N=${N})`,
    ratio(`tide backwards all (N=${N})`, `bare Deno+postgres.js backwards all (N=${N})`),
    "< 1",
  ],
  [
    `tide backwards 1 / bare Deno+postgres.js (N=${N})`,
    ratio(`tide backwards 1 (N=${N})`, `bare Deno+postgres.js backwards 1 (N=${N})`),
    "≤ 1.2",
  ],
  [
    `tide backwards 1: N=${N} / N=${SMALL}`,
    ratio(`tide backwards 1 (N=${N})`, `tide backwards 1 (N=${SMALL})`),
    "≤ 1.10",
  ],
  [
    `(control) bare Deno+postgres.js backwards 1: N=${N} / N=${SMALL}`,
    ratio(`bare Deno+postgres.js backwards 1 (N=${N})`, `bare Deno+postgres.js backwards 1 (N=${SMALL})`),
    "—",
  ],
];
console.log(`\n| ratio | value | target |\n|---|---:|---|`);
for (const [name, value, target] of rows) console.log(`| ${name} | ${value.toFixed(2)} | ${target} |`);
console.log(`\n| tide peak RSS (target ≤ 70 MB) | median MB | max MB |\n|---|---:|---:|`);
for (const [key, values] of Object.entries(rss)) {
  console.log(`| ${key} | ${(median(values) / 1024).toFixed(1)} | ${(Math.max(...values) / 1024).toFixed(1)} |`);
}
if (embedded.length > 0) {
  console.log(`\n| embedded default (pglite:.tide/pglite), median | ms |\n|---|---:|`);
  for (const [key, ms] of embedded) console.log(`| ${key} | ${ms.toFixed(0)} |`);
}
