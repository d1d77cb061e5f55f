/**
 * A server restart during a long function step (issue 13): on a throwaway cluster of its own
 * (tools/faults.ts), restarted with `pg_ctl restart -m fast` while tide waits inside a
 * migration's transaction. tide must not carry on on a new connection: it waits for the server
 * to come back, reads the history, reports the migration failed (it was rolled back), exits 1,
 * and the next run proceeds. Forwards, backwards, and restarts at random moments.
 */

import postgres from "postgres";
import { assertEquals } from "../helpers/assert.ts";
import { makeProject, tideCommand, type TideRun } from "../helpers/cli.ts";
import {
  advisoryLocksLeft,
  type FaultMigration,
  faultMigrations,
  historyMatchesSchema,
  observe,
  runDoc,
  statusesAreTrue,
} from "../helpers/faults.ts";
import { startRestartableCluster } from "../../tools/faults.ts";

const BIN = Deno.env.get("TIDE_TEST_FAULTS_PG_BIN");

function spawnTide(args: string[], cwd: string, url: string): Promise<TideRun> {
  const [cmd, ...pre] = tideCommand();
  const child = new Deno.Command(cmd!, {
    args: [...pre, ...args],
    cwd,
    env: { NO_COLOR: "1", TIDE_DATABASE_URL: url, DATABASE_URL: "" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  return child.output().then((o) => ({
    code: o.code,
    stdout: new TextDecoder().decode(o.stdout),
    stderr: new TextDecoder().decode(o.stderr),
  }));
}

/** Polls (each time on a new connection: the restart ends them) until tide waits in a transaction. */
async function waitForOpenTransaction(url: string, withinMs: number): Promise<boolean> {
  const deadline = Date.now() + withinMs;
  while (Date.now() < deadline) {
    const sql = postgres(url, { max: 1, onnotice: () => {}, connect_timeout: 2 });
    try {
      const [row] = await sql`select count(*)::int as n from pg_stat_activity
        where datname = current_database() and state = 'idle in transaction'`;
      if (row?.n) return true;
    } catch {
      /* not up */
    } finally {
      await sql.end({ timeout: 1 }).catch(() => {});
    }
    await new Promise((r) => setTimeout(r, 30));
  }
  return false;
}

Deno.test({
  name: "a server restart during a long function step: failed, not continued, the next run proceeds [faults]",
  ignore: !BIN,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const cluster = await startRestartableCluster(BIN!);
    const admin = postgres(cluster.url, { max: 1, onnotice: () => {} });
    await admin.unsafe("create database tide_t_restart");
    await admin.end();
    const url = cluster.url.replace(/\/postgres$/, "/tide_t_restart");
    const migrations: FaultMigration[] = faultMigrations(2500).filter((_, i) => i !== 2).slice(0, 3);
    const root = await makeProject({ app: { migrations } });
    const problems: string[] = [];
    try {
      const trial = async (args: string[], restartAt: "function step" | number) => {
        const observer = postgres(url, { max: 1, onnotice: () => {} });
        const before = await observe(observer, migrations);
        await observer.end();
        const running = spawnTide([...args, "--json"], root, url);
        if (restartAt === "function step") {
          assertEquals(await waitForOpenTransaction(url, 20_000), true, "tide never reached the function step");
        } else {
          await new Promise((r) => setTimeout(r, restartAt));
        }
        await cluster.restart();
        const run = await running;
        const sql = postgres(url, { max: 1, onnotice: () => {} });
        try {
          const after = await observe(sql, migrations);
          const found = [
            ...statusesAreTrue(run, args[0] as "forwards" | "backwards", before, after),
            ...historyMatchesSchema(after, migrations),
          ];
          const locks = await advisoryLocksLeft(sql);
          if (locks > 0) found.push(`${locks} advisory lock(s) left`);
          problems.push(...found.map((f) => `${args.join(" ")} / restart at ${restartAt}: ${f}`));
        } finally {
          await sql.end();
        }
        return run;
      };
      // Forwards: t1 commits, t2's function step waits 2.5 s with its transaction open.
      const forwards = await trial(["forwards", "app"], "function step");
      assertEquals(
        runDoc(forwards)?.migrations.map((m) => m.status),
        ["applied", "failed", "not-run"],
        forwards.stderr,
      );
      assertEquals(forwards.code, 1);
      // The next run proceeds.
      const next = await spawnTide(["forwards", "app"], root, url);
      assertEquals(next.code, 0, next.stderr);
      // Backwards: the newest (t4) reverses, t2's reversal waits in its function step.
      const backwards = await trial(["backwards", "app", "all", "-y"], "function step");
      assertEquals(runDoc(backwards)?.migrations.map((m) => m.status), ["reversed", "failed", "not-run"]);
      // Restarts at other moments, forwards and backwards.
      for (const [i, at] of [300, 900, 1600].entries()) {
        const state = await (async () => {
          const s = postgres(url, { max: 1, onnotice: () => {} });
          try {
            return (await observe(s, migrations)).history.size;
          } finally {
            await s.end();
          }
        })();
        await trial(
          state === 0 || (i % 2 === 0 && state < 3) ? ["forwards", "app"] : ["backwards", "app", "all", "-y"],
          at,
        );
      }
      const last = await spawnTide(["forwards", "app"], root, url);
      assertEquals(last.code, 0, last.stderr);
      assertEquals(problems, []);
    } finally {
      await cluster.remove();
    }
  },
});
