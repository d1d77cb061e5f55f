/**
 * Crash safety: tide killed with SIGKILL at random moments, forwards and backwards, 20 times;
 * after each kill the history and the schema agree, and the next run proceeds.
 */

import postgres from "postgres";
import { assertEquals } from "../helpers/assert.ts";
import { makeProject, tide, tideCommand } from "../helpers/cli.ts";
import { createPostgresDatabase, POSTGRES_URL } from "../helpers/databases.ts";

const COUNT = 8;
const migrations = Array.from({ length: COUNT }, (_, i) => ({
  id: `2026-01-01T00:00:00:${String(i + 1).padStart(6, "0")}`,
  body: `  manager.addTable("t${i}", { id: "serial primary key", a: "text", b: "int default 0" });
  manager.addIndex("t${i}", ["a", "b"]);
  manager.addColumn("shared", "c${i}", "int");
  manager.addRaw("insert into t${i} (a) select md5(g::text) from generate_series(1, 2000) g", "delete from t${i}; select pg_sleep(0.04)");`,
}));

Deno.test({
  name: "kill -9 at random moments never leaves history and schema disagreeing [postgres]",
  ignore: !POSTGRES_URL,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const { url, drop } = await createPostgresDatabase();
    const sql = postgres(url, { max: 1, onnotice: () => {} });
    try {
      await sql`create table shared (id int)`;
      const root = await makeProject({ app: { migrations } });
      const env = { TIDE_DATABASE_URL: url };
      const [cmd, ...pre] = tideCommand();
      const partial: number[] = [];
      for (let round = 0; round < 20; round++) {
        const args = round % 2 === 0 ? ["forwards", "app"] : ["backwards", "app", "all", "-y"];
        const child = new Deno.Command(cmd!, {
          args: [...pre, ...args],
          cwd: root,
          env,
          stdout: "null",
          stderr: "null",
        }).spawn();
        // Half the kills at a random moment; the other half once the run has made progress
        // (the history changed), so that some land mid-run however slow the machine is.
        if (round % 4 < 2) await untilProgress(sql, child.status);
        await new Promise((r) => setTimeout(r, round % 4 < 2 ? Math.random() * 60 : 150 + Math.random() * 700));
        try {
          child.kill("SIGKILL");
        } catch { /* it finished first */ }
        await child.status;
        // The server notices the dropped connection and rolls its transaction back.
        await waitForIdle(sql);
        partial.push(await assertConsistent(sql));
      }
      // Kills must land mid-run (some migrations done, some not), not only before or after.
      // deno-lint-ignore no-console -- shows where the kills landed
      console.error(`applied after each kill: ${partial.join(" ")}`);
      assertEquals(partial.some((n) => n > 0 && n < COUNT), true, "no kill landed mid-run");
      // After all that, a normal run proceeds.
      assertEquals((await tide(["forwards", "app"], { cwd: root, env })).code, 0);
      await assertConsistent(sql);
      assertEquals((await sql`select count(*)::int as n from migration`)[0]?.n, COUNT);
    } finally {
      await sql.end();
      await drop();
    }
  },
});

/** Waits until the number of history rows changes (a migration committed), or the run ends. */
async function untilProgress(sql: postgres.Sql, ended: Promise<unknown>): Promise<void> {
  let done = false;
  void ended.then(() => (done = true));
  // Two statements: a query naming a table that does not exist yet fails even in a CASE branch.
  const rows = async () => {
    const [exists] = await sql`select to_regclass('migration') is not null as e`;
    if (!exists?.e) return -1;
    const [row] = await sql`select count(*)::int as n from migration`;
    return row?.n as number;
  };
  const start = await rows();
  for (let i = 0; i < 3000 && !done; i++) {
    if ((await rows()) !== start) return;
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function waitForIdle(sql: postgres.Sql): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const [row] =
      await sql`select count(*)::int as n from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()`;
    if (row?.n === 0) return;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Checks that history and schema agree; returns how many migrations are applied. */
async function assertConsistent(sql: postgres.Sql): Promise<number> {
  const exists = await sql`select to_regclass('migration') is not null as e`;
  const ran = new Set(exists[0]?.e ? (await sql`select name from migration`).map((r) => r.name as string) : []);
  const columns = new Set(
    (await sql`select attname from pg_attribute where attrelid = 'shared'::regclass and attnum > 0 and not attisdropped`)
      .map((r) => r.attname as string),
  );
  for (const [i, m] of migrations.entries()) {
    const [t] = await sql`select to_regclass(${`t${i}`}) is not null as e`;
    const state = { history: ran.has(m.id), table: Boolean(t?.e), column: columns.has(`c${i}`) };
    assertEquals(
      state,
      { history: state.history, table: state.history, column: state.history },
      `migration ${m.id} disagrees`,
    );
  }
  return ran.size;
}
