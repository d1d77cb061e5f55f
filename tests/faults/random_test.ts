/**
 * Randomised fault injection (issue 13): many runs of tide, forwards and backwards, each with
 * one fault at a random point — a connection cut after a random number of bytes either way,
 * before or after a chosen statement reaches the server (COMMIT, the history row, BEGIN, the
 * CONCURRENTLY index, the lock), after a random delay, with the server side closing at once
 * or lingering (a partition the server has not noticed), or pg_terminate_backend from a
 * second session; sometimes the new connection tide opens to learn the truth is cut too.
 * After every trial a second session checks: history == schema, every reported status is the
 * truth, exit 0 only when all committed, no advisory lock left, and the next run proceeds.
 *
 * Seeded: TIDE_FAULTS_SEED replays a run; TIDE_FAULTS_TRIALS sets the count (default 50).
 */

import postgres from "postgres";
import { assertEquals } from "../helpers/assert.ts";
import { makeProject, tide, type TideRun } from "../helpers/cli.ts";
import { createPostgresDatabase } from "../helpers/databases.ts";
import {
  advisoryLocksLeft,
  faultMigrations,
  faultsTest,
  historyMatchesSchema,
  observe,
  runDoc,
  statusesAreTrue,
  waitForIdle,
} from "../helpers/faults.ts";
import { type CutOptions, type Fault, FaultProxy } from "../helpers/proxy.ts";

const TRIALS = Number(Deno.env.get("TIDE_FAULTS_TRIALS") ?? "50");
const SEED = Number(Deno.env.get("TIDE_FAULTS_SEED") ?? String(Date.now() % 1_000_000_007));

/** mulberry32: small, seedable, good enough to spread faults. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Statements whose arrival at the server is a fault point of its own. */
const TEXTS = ["COMMIT", 'INSERT INTO "migration"', "WITH gone AS", "BEGIN", "CONCURRENTLY", "pg_try_advisory_lock"];

interface Injection {
  /** Kind, for the tally. */
  kind: string;
  /** Faults armed on connections (0 = the run's, 1 = the one tide opens to learn the truth). */
  armed: { index: number; fault: Fault; options: CutOptions }[];
  /** pg_terminate_backend after this many ms, from a second session. */
  terminateAfterMs?: number;
}

function pick<T>(rnd: () => number, items: readonly T[]): T {
  return items[Math.floor(rnd() * items.length)]!;
}

function chooseInjection(rnd: () => number, bytes: { client: number; server: number }): Injection {
  const linger = (): CutOptions => (rnd() < 0.65 ? {} : { lingerMs: Math.round(200 + rnd() * 1500) });
  const roll = rnd();
  if (roll < 0.05) return { kind: "none (control)", armed: [] };
  if (roll < 0.2) {
    return {
      kind: "client-bytes",
      armed: [{
        index: 0,
        fault: { kind: "client-bytes", bytes: Math.round(rnd() * bytes.client * 0.6) },
        options: linger(),
      }],
    };
  }
  if (roll < 0.32) {
    return {
      kind: "server-bytes",
      armed: [{
        index: 0,
        fault: { kind: "server-bytes", bytes: Math.round(rnd() * bytes.server * 0.6) },
        options: linger(),
      }],
    };
  }
  if (roll < 0.72) {
    const text = pick(rnd, TEXTS);
    const when = rnd() < 0.5 ? "before" : "after";
    const occurrence = 1 + Math.floor(rnd() * (text === "COMMIT" || text === 'INSERT INTO "migration"' ? 3 : 2));
    const injection: Injection = {
      kind: `${when} ${text}`,
      armed: [{ index: 0, fault: { kind: "client-text", text, occurrence, when }, options: linger() }],
    };
    // Now and then the connection that learns the truth is cut too: the outcome may then be
    // unknown, and must say so.
    if (rnd() < 0.12) {
      injection.kind += " + truth connection cut";
      injection.armed.push({ index: 1, fault: { kind: "server-bytes", bytes: Math.round(rnd() * 600) }, options: {} });
    }
    return injection;
  }
  if (roll < 0.86) {
    return {
      kind: "time",
      armed: [{ index: 0, fault: { kind: "time", ms: Math.round(150 + rnd() * 900) }, options: linger() }],
    };
  }
  return { kind: "pg_terminate_backend", armed: [], terminateAfterMs: Math.round(rnd() * 900) };
}

faultsTest("randomised faults: history == schema, statuses true, no lock left, the next run proceeds", async () => {
  // deno-lint-ignore no-console -- the seed replays a failing run
  console.error(`fault suite: seed ${SEED}, ${TRIALS} trials (TIDE_FAULTS_SEED=${SEED} replays them)`);
  const rnd = random(SEED);
  const migrations = faultMigrations(100);
  const { url, drop } = await createPostgresDatabase();
  const root = await makeProject({ app: { migrations } });
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  const u = new URL(url);
  const proxy = FaultProxy.start({ hostname: u.hostname, port: Number(u.port || 5432) });
  const tally = new Map<string, number>();
  /** Faults that fired (a time fault may come after the run ended). */
  const fired = new Map<string, number>();
  const outcomes = new Map<string, number>();
  const problems: string[] = [];
  const partial = new Set<string>();
  const found0: string[] = [];
  const started = performance.now();
  try {
    // Calibration, fault-free: how many bytes a full run sends each way (the byte faults' range).
    const before0 = await proxy.stats.clientBytes;
    const serverBefore0 = proxy.stats.serverBytes;
    const forwards = await tide(["forwards", "app", "--json"], {
      cwd: root,
      env: { TIDE_DATABASE_URL: proxy.urlFor(url) },
    });
    const back = await tide(["backwards", "app", "all", "-y", "--json"], {
      cwd: root,
      env: { TIDE_DATABASE_URL: proxy.urlFor(url) },
    });
    assertEquals([forwards.code, back.code], [0, 0], forwards.stderr + back.stderr);
    const bytes = {
      client: (proxy.stats.clientBytes - before0) / 2,
      serverBefore0,
      server: (proxy.stats.serverBytes - serverBefore0) / 2,
    };

    for (let trial = 0; trial < TRIALS; trial++) {
      const state = await observe(sql, migrations);
      const applied = state.history.size;
      const direction = applied === 0 ? "forwards" : applied === migrations.length ? "backwards" : pick(
        rnd,
        [
          "forwards",
          "backwards",
        ] as const,
      );
      const args = direction === "forwards"
        ? ["forwards", "app"]
        : ["backwards", "app", rnd() < 0.4 ? "all" : String(1 + Math.floor(rnd() * applied)), "-y"];
      if (rnd() < 0.15 && !(direction === "forwards" && !state.history.has(migrations[2]!.id))) {
        // --atomic, where the plan has no CONCURRENTLY step.
        const concurrentPlanned = direction === "forwards"
          ? !state.history.has(migrations[2]!.id)
          : state.history.has(migrations[2]!.id);
        if (!concurrentPlanned) args.push("--atomic");
      }
      const injection = chooseInjection(rnd, bytes);
      tally.set(injection.kind, (tally.get(injection.kind) ?? 0) + 1);
      proxy.reset();
      for (const a of injection.armed) proxy.arm(a.index, a.fault, a.options);
      const cutsBefore = proxy.stats.cuts;
      let terminated = 0;
      const killer = injection.terminateAfterMs === undefined ? Promise.resolve() : (async () => {
        // Counted from tide's connecting (its start-up time varies with the machine's load).
        for (let i = 0; i < 400; i++) {
          const [row] = await sql`select count(*)::int as n from pg_stat_activity
            where datname = current_database() and pid <> pg_backend_pid() and backend_type = 'client backend'`;
          if (row?.n) break;
          await new Promise((r) => setTimeout(r, 25));
        }
        await new Promise((r) => setTimeout(r, injection.terminateAfterMs));
        const rows = await sql`select pg_terminate_backend(pid) as ok from pg_stat_activity
          where datname = current_database() and pid <> pg_backend_pid() and backend_type = 'client backend'`;
        terminated = rows.filter((r) => r.ok).length;
      })();
      const run: TideRun = await tide([...args, "--json"], {
        cwd: root,
        env: { TIDE_DATABASE_URL: proxy.urlFor(url) },
      });
      await killer;
      // The network heals: lingering server sides end, as the server would notice in time.
      proxy.dropAll();
      await waitForIdle(sql);
      const after = await observe(sql, migrations);
      const label = `trial ${trial} (${args.join(" ")}; ${injection.kind}; ${proxy.stats.cutLog.slice(-1)[0] ?? ""})`;
      // A CONCURRENTLY migration reported failed/unknown may stay half done until it runs again.
      for (const m of runDoc(run)?.migrations ?? []) {
        const unwrapped = migrations.find((x) => x.id === m.id)?.transactional === false;
        if (!unwrapped) continue;
        if (m.status === "failed" || m.status === "unknown") {
          if (m.status === "unknown" || /may have stayed applied|stayed applied/.test(m.error ?? "")) partial.add(m.id);
          else found0.push(`${m.id} failed without saying what may have stayed applied: ${m.error}`);
        } else if (m.status === "applied" || m.status === "reversed") partial.delete(m.id);
      }
      const found = [
        ...found0.splice(0),
        ...statusesAreTrue(run, direction, state, after),
        ...historyMatchesSchema(after, migrations, partial),
      ];
      const locks = await advisoryLocksLeft(sql);
      if (locks > 0) found.push(`${locks} advisory lock(s) left behind`);
      const faulted = proxy.stats.cuts > cutsBefore || terminated > 0;
      if (faulted) fired.set(injection.kind, (fired.get(injection.kind) ?? 0) + 1);
      // A fault that did not fire (the run was over first) must leave a clean run: the next
      // run proceeds after every fault, so this is where a left-behind lock or state would show.
      if (!faulted && run.code !== 0) found.push(`no fault fired, yet exit ${run.code}: ${run.stderr.slice(-400)}`);
      for (const m of runDoc(run)?.migrations ?? []) outcomes.set(m.status, (outcomes.get(m.status) ?? 0) + 1);
      if (runDoc(run)?.migrations.length === 0 && run.code !== 0) {
        outcomes.set("stopped before any migration", (outcomes.get("stopped before any migration") ?? 0) + 1);
      }
      problems.push(...found.map((f) => `${label}: ${f}`));
    }
    // The end: plain runs proceed, and finish what any half-done CONCURRENTLY migration left
    // (backwards skips an index already dropped; forwards keeps one already built), leaving
    // everything consistent.
    for (const args of [["backwards", "app", "all", "-y"], ["forwards", "app"]]) {
      const last = await tide(args, { cwd: root, env: { TIDE_DATABASE_URL: url } });
      if (last.code !== 0) problems.push(`final ${args[0]} failed: ${last.stderr}`);
      const o = await observe(sql, migrations);
      problems.push(...historyMatchesSchema(o, migrations).map((p) => `after the final ${args[0]}: ${p}`));
    }
    const end = await observe(sql, migrations);
    problems.push(...historyMatchesSchema(end, migrations).map((p) => `after the final run: ${p}`));
    if (end.history.size !== migrations.length) problems.push(`final forwards left ${end.history.size} applied`);
  } finally {
    proxy.close();
    await sql.end();
    await drop();
  }
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  // deno-lint-ignore no-console -- the suite's figures: trials, faults by kind, outcomes
  console.error(
    `fault suite: seed ${SEED}: ${TRIALS} trials in ${seconds} s; faults: ${
      [...tally].map(([k, n]) => `${k} ${n}`).join(", ")
    }; fired: ${[...fired].map(([k, n]) => `${k} ${n}`).join(", ")} (${
      [...fired.values()].reduce((a, b) => a + b, 0)
    } trials); statuses: ${[...outcomes].map(([k, n]) => `${k} ${n}`).join(", ")}; cuts ${proxy.stats.cuts}; ` +
      `inconsistencies: ${problems.length}`,
  );
  assertEquals(problems, [], `seed ${SEED}`);
});
