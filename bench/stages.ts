// deno-lint-ignore-file no-console -- a profiling script whose job is to print
/**
 * Where a `backwards` run's time goes, stage by stage, in process:
 *
 * deno run -A bench/stages.ts PROJECT_DIR DATABASE_URL [1|N|all]
 *
 * @module
 */

const started = performance.now();
const lap = (label: string) => {
  const { rss, heapUsed, heapTotal, external } = Deno.memoryUsage();
  const mb = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MB`;
  console.log(
    label.padEnd(30),
    `${(performance.now() - started).toFixed(1)} ms`.padStart(10),
    `rss ${mb(rss)}, heap ${mb(heapUsed)} of ${mb(heapTotal)}, external ${mb(external)}`,
  );
};
const { openSession } = await import("../src/engine/session.ts");
const { planBackwards, executePlan } = await import("../src/engine/commands.ts");
const { measureDataLoss } = await import("../src/engine/data_loss.ts");
const { parseTarget } = await import("../src/engine/target.ts");
const { parseArgs } = await import("../src/cli/args.ts");
void parseArgs;
lap("modules loaded");
const [cwd, databaseUrl, target = "1"] = Deno.args;
const session = await openSession({ cwd, databaseUrl });
lap("config read, connected");
const plan = await planBackwards(session, { app: Deno.env.get("APP") ?? "app", target: parseTarget(target) });
lap(`planned ${plan.migrations.length}`);
await measureDataLoss(session.db, plan);
lap("data-loss preflight");
const result = await executePlan(session, plan, {});
lap(`locked, re-selected, ran (${result.success ? "ok" : "failed"})`);
await session.close();
lap("closed");
if (Deno.env.get("SMAPS")) {
  // The biggest resident mappings, to tell V8's heap from malloc and code.
  const text = Deno.readTextFileSync("/proc/self/smaps");
  const maps: { name: string; rss: number }[] = [];
  let cur: { name: string; rss: number } | undefined;
  for (const line of text.split("\n")) {
    const head = line.match(/^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/);
    if (head) maps.push(cur = { name: head[1] || "[anon]", rss: 0 });
    const r = line.match(/^Rss:\s+(\d+) kB/);
    if (r && cur) cur.rss += Number(r[1]);
  }
  const by = new Map<string, number>();
  for (const m of maps) by.set(m.name, (by.get(m.name) ?? 0) + m.rss);
  console.log(
    [...by].sort((a, b) => b[1] - a[1]).slice(0, 8).map(([n, k]) => `${(k / 1024).toFixed(1)} MB ${n}`).join("\n"),
  );
  console.log(
    maps.filter((m) => m.name === "[anon]").sort((a, b) => b.rss - a.rss).slice(0, 12).map((m) =>
      (m.rss / 1024).toFixed(1)
    ).join(" "),
  );
}
if (Deno.env.get("SPACES")) {
  const v8 = await import("node:v8");
  for (const s of v8.getHeapSpaceStatistics()) {
    console.log(
      s.space_name.padEnd(28),
      (s.space_size / 1048576).toFixed(1),
      "MB size",
      (s.space_used_size / 1048576).toFixed(1),
      "used",
    );
  }
}
