/**
 * Started from source as scripts write it (`deno run -A main.ts …`, no V8 flags), a long run
 * happens in a child given the binary's V8 flags (src/cli/relaunch.ts). Observed from outside:
 * the command line of the process that ran the migration's code, exit codes, and what a
 * second session sees after the first process is stopped (SIGTERM) or killed (SIGKILL).
 * With TIDE_BIN, the binary (its flags baked in) runs the migration in its own process.
 */

import postgres from "postgres";
import { join } from "node:path";
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { makeProject, REPO } from "../helpers/cli.ts";
import { createPostgresDatabase, POSTGRES_URL } from "../helpers/databases.ts";
import { V8_FLAGS_ARG } from "../../src/v8_flags.ts";

const BIN = Deno.env.get("TIDE_BIN");

/** The command scripts and harnesses write: every permission, no V8 flags. */
function bareCommand(): [string, string[]] {
  if (BIN) return [BIN, []];
  return [Deno.execPath(), ["run", "-A", "--quiet", "--config", join(REPO, "deno.json"), join(REPO, "main.ts")]];
}

function spawn(args: string[], cwd: string, env: Record<string, string>) {
  const [cmd, pre] = bareCommand();
  return new Deno.Command(cmd, {
    args: [...pre, ...args],
    cwd,
    env: { NO_COLOR: "1", TIDE_DATABASE_URL: "", DATABASE_URL: "", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

/** Pids of the processes whose working folder is `dir` (the run's, and a child's it started). */
function processesIn(dir: string): number[] {
  const pids: number[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      if (Deno.readLinkSync(`/proc/${entry.name}/cwd`) === dir) pids.push(Number(entry.name));
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
  return pids;
}

const ID = "2026-01-01T00:00:00:000001";

/** One migration whose code writes the command line of the process running it to `$RL_OUT`. */
const recording = [{
  id: ID,
  body: `  const out = Deno.env.get("RL_OUT");
  if (out) Deno.writeTextFileSync(out, Deno.readTextFileSync("/proc/self/cmdline").split("\\0").join(" ") + "\\n", { append: true });
  manager.addTable("rl", { id: "serial primary key" });`,
}];

/** One migration that waits a minute in its code, its transaction open (the server reads the socket). */
const waiting = [{
  id: ID,
  body: `  manager.addTable("rl", { id: "serial primary key" });
  manager.addRaw(async (db) => {
    await db.query("select 1");
    await new Promise((r) => setTimeout(r, 60_000));
  }, "select 1");`,
}];

Deno.test({
  name: "from source without V8 flags, a long run runs in a child given them; the exit code is the child's [postgres]",
  ignore: !POSTGRES_URL,
  sanitizeResources: false,
  fn: async () => {
    const { url, drop } = await createPostgresDatabase();
    try {
      const root = await makeProject({ app: { migrations: recording } });
      const out = join(root, "cmdline");
      const run = await spawn(["forwards", "app", "--json"], root, { TIDE_DATABASE_URL: url, RL_OUT: out }).output();
      assertEquals(run.code, 0, new TextDecoder().decode(run.stderr));
      assertEquals(JSON.parse(new TextDecoder().decode(run.stdout)).migrations[0].status, "applied");
      const lines = (await Deno.readTextFile(out)).trim().split("\n");
      assertEquals(lines.length, 1);
      if (BIN) assert(!lines[0]!.includes(" run "), `the binary ran it in a child: ${lines[0]}`);
      else assert(lines[0]!.includes(` run ${V8_FLAGS_ARG} --no-code-cache -A `), lines[0]);
      // The child's failure is the exit code: an unknown app is 1, a prompt without a terminal 2.
      const unknown = await spawn(["forwards", "nope"], root, { TIDE_DATABASE_URL: url }).output();
      assertEquals(unknown.code, 1);
      assertMatch(new TextDecoder().decode(unknown.stderr), /Unknown app "nope"/);
      const prompt = await spawn(["backwards", "app", "all"], root, { TIDE_DATABASE_URL: url }).output();
      assertEquals(prompt.code, 2);
      assertMatch(new TextDecoder().decode(prompt.stderr), /standard input is not a terminal/);
      // TIDE_RELAUNCH=0 keeps it in one process.
      await Deno.remove(out);
      const one = await spawn(["backwards", "app", "all", "-y"], root, { TIDE_DATABASE_URL: url }).output();
      assertEquals(one.code, 0);
      const kept = await spawn(["forwards", "app"], root, { TIDE_DATABASE_URL: url, RL_OUT: out, TIDE_RELAUNCH: "0" })
        .output();
      assertEquals(kept.code, 0);
      assert(!(await Deno.readTextFile(out)).includes(V8_FLAGS_ARG));
    } finally {
      await drop();
    }
  },
});

for (const signal of ["SIGTERM", "SIGKILL"] as const) {
  Deno.test({
    name: `${signal} to the process a supervisor started ends the run: no session, lock or history row left [postgres]`,
    ignore: !POSTGRES_URL,
    sanitizeResources: false,
    fn: async () => {
      const { url, drop } = await createPostgresDatabase();
      const sql = postgres(url, { max: 1, onnotice: () => {} });
      try {
        const root = await makeProject({ app: { migrations: waiting } });
        const child = spawn(["forwards", "app"], root, { TIDE_DATABASE_URL: url });
        const others = async () =>
          (await sql`select count(*)::int as n from pg_stat_activity
            where datname = current_database() and pid <> pg_backend_pid()`)[0]!.n as number;
        // Inside the migration: its transaction is open, the code waiting.
        for (let i = 0; i < 400; i++) {
          const [row] = await sql`select count(*)::int as n from pg_stat_activity
            where datname = current_database() and state = 'idle in transaction'`;
          if (row!.n > 0) break;
          await new Promise((r) => setTimeout(r, 25));
        }
        child.kill(signal);
        const status = await child.status;
        assertEquals(status.success, false);
        if (signal === "SIGTERM") assertEquals(status.code, 143);
        await child.stdout.cancel();
        await child.stderr.cancel();
        // Whatever ran it is gone within seconds (a relaunched child follows its parent).
        let left = await others();
        for (let i = 0; i < 100 && left > 0; i++) {
          await new Promise((r) => setTimeout(r, 50));
          left = await others();
        }
        assertEquals(left, 0, "a session of the run is still on the server");
        assertEquals(processesIn(root), [], "a process of the run is still there");
        const [history] = await sql`select to_regclass('migration') is not null as e`;
        if (history!.e) assertEquals((await sql`select count(*)::int as n from migration`)[0]!.n, 0);
        assertEquals((await sql`select to_regclass('rl') is null as gone`)[0]!.gone, true);
        const [locks] = await sql`select count(*)::int as n from pg_locks where locktype = 'advisory'
          and database = (select oid from pg_database where datname = current_database())`;
        assertEquals(locks!.n, 0);
      } finally {
        await sql.end();
        await drop();
      }
    },
  });
}
