/**
 * Two runs racing (issue 13): the loser's data-loss preflight reads before the lock, so the
 * winner may drop what it measures under its feet. That must become the "history changed"
 * refusal (re-checked under the lock), not a raw `relation "t2" does not exist`. And every
 * server error a query meets carries its SQLSTATE, on both databases.
 */

import postgres from "postgres";
import { planBackwards, preflightDataLoss } from "../../src/engine/commands.ts";
import { openSession } from "../../src/engine/session.ts";
import { assertEquals, assertRejects } from "../helpers/assert.ts";
import { postgresTest, tableMigration } from "../helpers/backends.ts";
import { makeProject, tide } from "../helpers/cli.ts";
import { eachDatabase } from "../helpers/databases.ts";

postgresTest("a preflight that fails because another run went first is the 'history changed' refusal", async (url) => {
  const root = await makeProject({
    app: { migrations: [tableMigration(1), tableMigration(2, `  manager.addRaw("select 1", "delete from t2");`)] },
  });
  assertEquals((await tide(["forwards", "app"], { cwd: root, env: { TIDE_DATABASE_URL: url } })).code, 0);
  const other = postgres(url, { max: 2, onnotice: () => {} });
  const session = await openSession({ cwd: root, databaseUrl: url });
  try {
    // This run plans to reverse 000002; its preflight will count the rows `delete from t2` removes.
    const plan = await planBackwards(session, { app: "app", target: { kind: "count", count: 1 } });
    // The other run is reversing it right now: t2 dropped, its history row deleted, not yet committed.
    const reserved = await other.reserve();
    await reserved.unsafe("begin");
    await reserved.unsafe("drop table t2");
    await reserved.unsafe("delete from migration where name like '%000002'");
    const preflight = preflightDataLoss(session, plan, 5000).then(() => "measured", (e: Error) => e.message);
    // Once the preflight waits on t2's lock, the other run commits.
    for (let i = 0; i < 200; i++) {
      const [row] = await other`select count(*)::int as n from pg_stat_activity
        where datname = current_database() and wait_event_type = 'Lock'`;
      if (row?.n) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    await reserved.unsafe("commit");
    reserved.release();
    const message = await preflight;
    assertEquals(/The history changed while this run was planning/.test(message), true, message);
  } finally {
    await session.close();
    await other.end();
  }
});

eachDatabase("a failing query's message carries the SQLSTATE", async (t) => {
  await assertRejects(() => t.db.query("select * from no_such_table"), /no_such_table.*\(SQLSTATE 42P01\)/);
});
