// deno-lint-ignore-file no-console -- a profiling script whose job is to print
/**
 * Where a `backwards` run's time goes, finer than `stages.ts`: the same steps as the CLI
 * (config, connect, plan, preflight, lock + re-select + run, close), with every database call
 * timed and counted, the `postgres` import timed on its own, and per-migration run time summed.
 *
 * deno run -A --config deno.json bench/profile.ts PROJECT_DIR DATABASE_URL [1|N|all]
 *
 * Add `--cpu-prof-dir DIR --cpu-prof-md` to the `deno run` flags for a V8 profile of the same.
 *
 * @module
 */

const t0 = performance.now();
const now = () => performance.now() - t0;
const laps: [string, number][] = [];
let last = 0;
const lap = (label: string) => {
  const t = now();
  laps.push([label, t - last]);
  last = t;
};

// Static graph of the CLI path (what `main.ts` loads before any command runs).
await import("../src/cli/main.ts");
lap("tide modules (static graph of main.ts)");
const { openSession } = await import("../src/engine/session.ts");
const { planBackwards, executePlan } = await import("../src/engine/commands.ts");
const { measureDataLoss } = await import("../src/engine/data_loss.ts");
const { parseTarget } = await import("../src/engine/target.ts");
type Queryable = import("../src/db/database.ts").Queryable;
lap("engine modules (already in the graph)");
await import("postgres");
lap("npm postgres import (+ node compat)");
await import("../src/db/postgres.ts");
lap("src/db/postgres.ts");

const [cwd, databaseUrl, target = "1"] = Deno.args;
interface Call {
  kind: string;
  ms: number;
  what: string;
}
const calls: Call[] = [];
function timedQueryable<T extends object>(q: T, prefix: string): T {
  return new Proxy(q, {
    get(target, prop, receiver) {
      // deno-lint-ignore ban-types
      const value = Reflect.get(target, prop, receiver) as Function | unknown;
      if (typeof value !== "function" || !["query", "execute", "executeAndCommit"].includes(String(prop))) {
        return typeof value === "function" ? value.bind(target) : value;
      }
      return async (...args: unknown[]) => {
        const s = performance.now();
        try {
          return await value.apply(target, args);
        } finally {
          const first = Array.isArray(args[0]) ? `${(args[0] as string[]).length} stmts` : String(args[0]);
          calls.push({
            kind: `${prefix}${String(prop)}`,
            ms: performance.now() - s,
            what: first.replace(/\s+/g, " ").slice(0, 70),
          });
        }
      };
    },
  });
}

const session = await openSession({ cwd, databaseUrl });
lap("config read + connect (select 1)");
const db = session.db;
const wrapped = {
  ...session,
  db: timedQueryable(
    {
      kind: db.kind,
      query: db.query.bind(db),
      execute: db.execute.bind(db),
      transaction: <T>(fn: (tx: Queryable) => Promise<T>) => {
        const s = performance.now();
        return db.transaction((tx) => fn(timedQueryable(tx, "tx."))).finally(() =>
          calls.push({ kind: "transaction", ms: performance.now() - s, what: "" })
        );
      },
      withLock: async <T>(key: string, ms: number, fn: () => Promise<T>) => {
        const s = performance.now();
        let inner = 0;
        const r = await db.withLock(key, ms, async () => {
          inner = performance.now();
          calls.push({ kind: "lock acquire", ms: inner - s, what: key });
          return await fn();
        });
        calls.push({ kind: "lock release", ms: 0, what: `held ${(performance.now() - inner).toFixed(1)} ms` });
        return r;
      },
      close: () => db.close(),
    },
    "",
  ),
} as typeof session;
const plan = await planBackwards(wrapped, { app: Deno.env.get("APP") ?? "app", target: parseTarget(target) });
lap(`plan ${plan.migrations.length} (history queries, file checks)`);
const planCalls = calls.length;
await measureDataLoss(wrapped.db, plan);
lap("data-loss preflight");
const preCalls = calls.length;
const result = await executePlan(wrapped, plan, {});
lap(`lock + re-select + run (${result.success ? "ok" : "FAILED"})`);
await session.close();
lap("close");

const total = now();
console.log(`\nstage                                          ms`);
for (const [label, ms] of laps) console.log(`${label.padEnd(44)} ${ms.toFixed(1).padStart(7)}`);
console.log(`${"total (after Deno's own start-up)".padEnd(44)} ${total.toFixed(1).padStart(7)}`);

const group = (list: Call[]) => {
  const by = new Map<string, { n: number; ms: number }>();
  for (const c of list) {
    const g = by.get(c.kind) ?? { n: 0, ms: 0 };
    g.n++;
    g.ms += c.ms;
    by.set(c.kind, g);
  }
  return [...by].map(([k, v]) => `${k} ×${v.n} ${v.ms.toFixed(1)} ms`).join(", ");
};
console.log(`\nplanning calls: ${group(calls.slice(0, planCalls))}`);
for (const c of calls.slice(0, planCalls)) console.log(`  ${c.kind} ${c.ms.toFixed(1)} ms  ${c.what}`);
console.log(`preflight calls: ${group(calls.slice(planCalls, preCalls))}`);
for (const c of calls.slice(planCalls, preCalls)) console.log(`  ${c.kind} ${c.ms.toFixed(1)} ms  ${c.what}`);
const runCalls = calls.slice(preCalls);
console.log(`run calls: ${group(runCalls)}`);
for (const c of runCalls.slice(0, 8)) console.log(`  ${c.kind} ${c.ms.toFixed(1)} ms  ${c.what}`);
const durations = result.outcomes.map((o) => o.durationMs);
const sum = durations.reduce((a, b) => a + b, 0);
console.log(
  `per migration (runPlan's durationMs): n=${durations.length}, sum ${sum.toFixed(0)} ms, mean ${
    (sum / Math.max(1, durations.length)).toFixed(2)
  } ms`,
);
