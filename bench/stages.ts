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
  const { rss, heapUsed } = Deno.memoryUsage();
  const mb = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MB`;
  console.log(
    label.padEnd(30),
    `${(performance.now() - started).toFixed(1)} ms`.padStart(10),
    `rss ${mb(rss)}, heap ${mb(heapUsed)}`,
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
const plan = await planBackwards(session, { app: "app", target: parseTarget(target) });
lap(`planned ${plan.migrations.length}`);
await measureDataLoss(session.db, plan);
lap("data-loss preflight");
const result = await executePlan(session, plan, {});
lap(`locked, re-selected, ran (${result.success ? "ok" : "failed"})`);
await session.close();
lap("closed");
