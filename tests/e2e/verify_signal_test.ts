/**
 * A verify stopped by a signal drops its scratch database before it exits: observed from a
 * second session, which sees the `tide_verify_…` database while a migration's code runs in
 * it, and no such database once tide has exited (128 + the signal's number).
 */

import postgres from "postgres";
import { join } from "node:path";
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { makeProject, REPO } from "../helpers/cli.ts";
import { POSTGRES_URL } from "../helpers/databases.ts";

const BIN = Deno.env.get("TIDE_BIN");

/** As scripts start it (from source: a long command, so relaunched with the V8 flags). */
function spawn(args: string[], cwd: string): Deno.ChildProcess {
  const [cmd, pre] = BIN
    ? [BIN, []]
    : [Deno.execPath(), ["run", "-A", "--quiet", "--config", join(REPO, "deno.json"), join(REPO, "main.ts")]];
  return new Deno.Command(cmd, {
    args: [...pre, ...args],
    cwd,
    env: { NO_COLOR: "1", TIDE_DATABASE_URL: POSTGRES_URL!, DATABASE_URL: "" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

const SLEEP = "select pg_sleep(60) /* tide verify signal test */";

for (const [signal, code] of [["SIGTERM", 143], ["SIGINT", 130]] as const) {
  Deno.test({
    name: `verify stopped by ${signal}: its scratch database is dropped, exit ${code} [postgres]`,
    ignore: !POSTGRES_URL,
    sanitizeResources: false,
    fn: async () => {
      const sql = postgres(POSTGRES_URL!, { max: 1, onnotice: () => {} });
      try {
        const root = await makeProject({
          app: {
            migrations: [{
              id: "2026-01-01T00:00:00:000001",
              body: `  manager.addTable("vs", { id: "int" });\n` +
                `  manager.addRaw(async (db) => { await db.query(${JSON.stringify(SLEEP)}); }, "select 1");`,
            }],
          },
        });
        const child = spawn(["verify", "app"], root);
        // The scratch database, while the migration's code runs in it.
        let scratch: string | undefined;
        for (let i = 0; i < 600 && scratch === undefined; i++) {
          const [row] = await sql`select datname from pg_stat_activity where query = ${SLEEP}`;
          scratch = row?.datname as string | undefined;
          if (scratch === undefined) await new Promise((r) => setTimeout(r, 25));
        }
        assert(scratch?.startsWith("tide_verify_"), `no scratch database seen: ${scratch}`);
        child.kill(signal);
        const [status, stderr] = await Promise.all([
          child.status,
          new Response(child.stderr).text(),
          child.stdout.cancel(),
        ]);
        assertEquals(status.code, code, stderr);
        assertMatch(stderr, new RegExp(`${signal}: stopped; the scratch database was dropped`));
        const [left] = await sql`select count(*)::int as n from pg_database where datname = ${scratch!}`;
        assertEquals(left!.n, 0, `${scratch} is still on the server`);
      } finally {
        await sql.end();
      }
    },
  });
}
