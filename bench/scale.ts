// deno-lint-ignore-file no-console -- a benchmark script whose job is to print
/**
 * Scale: wall time and peak RSS of `check --json`, `backwards 1`, `backwards all` and
 * `forwards all` as the number of migrations grows (issue 16), on the workload of
 * /work/shared/bench (create table + index + add column per migration).
 *
 * deno run -A bench/scale.ts [--sizes 10,500,3000] [--rounds 3] [--v8-flags FLAGS]
 *
 * Needs PostgreSQL: TIDE_BENCH_URL, else the service on 127.0.0.1:5432 (it creates and drops
 * its own bench_* databases) and /usr/bin/time.
 *
 * @module
 */

import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import postgres from "postgres";
import { PERMISSIONS } from "../tools/permissions.ts";
import { makeSharedWorkloadProject } from "./workload.ts";

const REPO = join(dirname(fileURLToPath(import.meta.url)), "..");
const option = (name: string, fallback: string) => {
  const i = Deno.args.indexOf(`--${name}`);
  return i === -1 ? fallback : Deno.args[i + 1]!;
};
const SIZES = option("sizes", "10,500,3000").split(",").map(Number);
const ROUNDS = Number(option("rounds", "3"));
const V8_FLAGS = option("v8-flags", "");
const ADMIN = Deno.env.get("TIDE_BENCH_URL") ?? "postgres://postgres@127.0.0.1:5432/postgres";

interface Run {
  ms: number;
  rssMb: number;
}

async function tide(project: string, url: string, ...args: string[]): Promise<Run> {
  const rssFile = join(await mkdtemp(join(tmpdir(), "tide-scale-rss-")), "rss");
  const started = performance.now();
  const out = await new Deno.Command("/usr/bin/time", {
    args: [
      "-f",
      "%M",
      "-o",
      rssFile,
      Deno.execPath(),
      "run",
      ...PERMISSIONS,
      ...(V8_FLAGS ? [`--v8-flags=${V8_FLAGS}`] : []),
      "--quiet",
      "--config",
      join(REPO, "deno.json"),
      join(REPO, "main.ts"),
      ...args,
      "--database-url",
      url,
    ],
    cwd: project,
    env: { TIDE_DATABASE_URL: "", DATABASE_URL: "" },
    stdout: "null",
    stderr: "piped",
  }).output();
  const ms = performance.now() - started;
  if (!out.success) throw new Error(`tide ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
  const kb = Number((await Deno.readTextFile(rssFile)).trim().split("\n").at(-1));
  await Deno.remove(dirname(rssFile), { recursive: true });
  return { ms, rssMb: kb / 1024 };
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

const admin = postgres(ADMIN, { max: 1, onnotice: () => {} });
const runs = new Map<string, Run[]>();
const record = (command: string, n: number, run: Run) => {
  const key = `${command}\0${n}`;
  runs.set(key, [...(runs.get(key) ?? []), run]);
};
console.error(`tide scale bench: N = ${SIZES.join(", ")}, ${ROUNDS} rounds${V8_FLAGS ? `, V8 flags ${V8_FLAGS}` : ""}`);
const load = () => Deno.loadavg().map((l) => l.toFixed(1)).join(" ");
console.error(`  load average before: ${load()}`);
for (const n of SIZES) {
  const project = await makeSharedWorkloadProject(n);
  const name = `bench_scale_${crypto.randomUUID().replaceAll("-", "").slice(0, 8)}`;
  await admin.unsafe(`create database ${name}`);
  const url = ADMIN.replace(/\/[^/?]*(\?|$)/, `/${name}$1`);
  try {
    // Warm-up (Deno's caches, the history table), not timed.
    await tide(project, url, "forwards", "app");
    await tide(project, url, "backwards", "app", "all", "-y");
    for (let round = 1; round <= ROUNDS; round++) {
      record("forwards all", n, await tide(project, url, "forwards", "app"));
      record("check --json", n, await tide(project, url, "check", "--json"));
      record("backwards 1", n, await tide(project, url, "backwards", "app", "1", "-y"));
      await tide(project, url, "forwards", "app");
      record("backwards all", n, await tide(project, url, "backwards", "app", "all", "-y"));
      console.error(`  N=${n} round ${round}/${ROUNDS} done (load ${load()})`);
    }
  } finally {
    await admin.unsafe(`drop database if exists ${name} with (force)`);
    await Deno.remove(project, { recursive: true });
  }
}
await admin.end();

const commands = ["check --json", "backwards 1", "backwards all", "forwards all"];
const get = (c: string, n: number) => runs.get(`${c}\0${n}`) ?? [];
const ms = (c: string, n: number) => median(get(c, n).map((r) => r.ms));
const mb = (c: string, n: number) => median(get(c, n).map((r) => r.rssMb));
console.log(`\n| command (median of ${ROUNDS}) | ${SIZES.map((n) => `N=${n} ms | N=${n} MB`).join(" | ")} |`);
console.log(`|---|${SIZES.map(() => "---:|---:").join("|")}|`);
for (const c of commands) {
  console.log(`| ${c} | ${SIZES.map((n) => `${ms(c, n).toFixed(0)} | ${mb(c, n).toFixed(1)}`).join(" | ")} |`);
}
const [small, big] = [SIZES[0]!, SIZES.at(-1)!];
const targets: [string, number, string][] = [
  [`check --json time, N=${big} / N=${small}`, ms("check --json", big) / ms("check --json", small), "≤ 2"],
  [`backwards 1 time, N=${big} / N=${small}`, ms("backwards 1", big) / ms("backwards 1", small), "≤ 1.2"],
  [`backwards all peak RSS, N=${big} (MB)`, mb("backwards all", big), "≤ 80"],
  [`forwards all peak RSS, N=${big} (MB)`, mb("forwards all", big), "≤ 90"],
  [`check --json peak RSS, N=${big} (MB)`, mb("check --json", big), "≤ 70"],
];
console.log(`\n| target | value | target |\n|---|---:|---|`);
for (const [what, value, target] of targets) console.log(`| ${what} | ${value.toFixed(2)} | ${target} |`);
console.log(`\nload average after: ${load()}`);
