/**
 * Plans longer than one batch (PLAN_BATCH): checked whole before anything runs, kept as light
 * listing entries, planned again one by one where their operations are needed, and refused
 * from the migration whose history changed since it was shown.
 */

import { join } from "node:path";
import { loadConfig } from "../../src/config.ts";
import { executePlan, PLAN_BATCH, planBackwards, planForwards } from "../../src/engine/commands.ts";
import { measureDataLoss } from "../../src/engine/data_loss.ts";
import { previewPlan } from "../../src/engine/preview.ts";
import { makeSession } from "../../src/engine/session.ts";
import { runPlan } from "../../src/engine/run.ts";
import { assert, assertEquals, assertMatch, assertRejects } from "../helpers/assert.ts";
import { eachDatabase } from "../helpers/databases.ts";
import { makeProject } from "../helpers/cli.ts";
import { idOf, tableMigration } from "../helpers/backends.ts";

const N = 2 * PLAN_BATCH + 30;

async function tableCount(t: { db: { query<T>(sql: string): Promise<T[]> } }): Promise<number> {
  const [row] = await t.db.query<{ n: number }>(
    "select count(*)::int as n from pg_tables where schemaname = 'public' and tablename ~ '^t[0-9]+$'",
  );
  return row!.n;
}

eachDatabase("a plan longer than a batch: light entries, run batch by batch, same result", async (t) => {
  const root = await makeProject({
    app: {
      migrations: Array.from(
        { length: N },
        (_, i) => tableMigration(i + 1, `  manager.addColumn("t${i + 1}", "extra", "int");`),
      ),
    },
  });
  const session = makeSession(await loadConfig(join(root, "tide.json"), root), t.db, t.url);

  const forwards = await planForwards(session, { app: "app", target: { kind: "all" }, lightAbove: PLAN_BATCH });
  assertEquals(forwards.migrations.length, N);
  assert(forwards.migrations.every((m) => m.light), "a long plan keeps listing entries");
  // Listing entries cannot be run by mistake: they have no SQL, and without the plan's way of
  // planning them again (`each`), or under --atomic, runPlan refuses them.
  const bare = { direction: forwards.direction, migrations: forwards.migrations };
  await assertRejects(() => runPlan(t.db, session.history, bare), /listing entries/);
  await assertRejects(() => runPlan(t.db, session.history, forwards, { atomic: true }), /listing entries/);
  const applied = await executePlan(session, forwards, {});
  assert(applied.success, JSON.stringify(applied.outcomes.find((o) => o.error)));
  assertEquals(applied.outcomes.map((o) => o.status), Array(N).fill("applied"));
  assertEquals(await tableCount(t), N);

  const backwards = await planBackwards(session, { app: "app", target: { kind: "all" }, lightAbove: PLAN_BATCH });
  assert(backwards.migrations.every((m) => m.light && m.history?.reversal === null));
  // The preflight reads the light entries: every table and column would be dropped (empty: no finding).
  assertEquals(await measureDataLoss(t.db, backwards), []);
  await t.db.execute([`insert into t${N} (name) values ('x')`]);
  assertEquals((await measureDataLoss(t.db, backwards)).map((f) => [f.migration, f.object, f.rows]), [
    [`app ${idOf(N)}`, `table t${N}`, 1],
  ]);
  // The preview plans them in full: every migration's SQL, newest first.
  const previews = await previewPlan(t.db, session.history, backwards);
  assertEquals(previews.length, N);
  assertMatch(previews[0]!.statements.join("\n"), new RegExp(`DROP TABLE "t${N}"`));
  assertMatch(previews.at(-1)!.statements.join("\n"), /DROP TABLE "t1"/);

  const reversed = await executePlan(session, backwards, { keepSql: false });
  assert(reversed.success, JSON.stringify(reversed.outcomes.find((o) => o.error)));
  assertEquals(
    reversed.outcomes.map((o) => `${o.status} ${o.id}`),
    backwards.migrations.map((m) => `reversed ${m.id}`),
  );
  assert(reversed.outcomes.every((o) => o.sql.length === 0), "keepSql: false keeps results small");
  assertEquals(await tableCount(t), 0);
  assertEquals(await session.history.list(t.db), []);
});

eachDatabase("a long plan whose history row changed after it was shown: refused from that migration on", async (t) => {
  const root = await makeProject({ app: { migrations: Array.from({ length: N }, (_, i) => tableMigration(i + 1)) } });
  const session = makeSession(await loadConfig(join(root, "tide.json"), root), t.db, t.url);
  assert(
    (await executePlan(
      session,
      await planForwards(session, { app: "app", target: { kind: "all" }, lightAbove: PLAN_BATCH }),
    )).success,
  );
  const plan = await planBackwards(session, { app: "app", target: { kind: "all" }, lightAbove: PLAN_BATCH });
  // The second batch's third migration now stores another reversal than the one shown.
  const changed = plan.migrations[PLAN_BATCH + 2]!;
  await t.db.query(
    `update migration set reversal = jsonb_set(reversal, '{operations,0,table}', '"elsewhere"') where name = $1`,
    [changed.id],
  );
  const result = await executePlan(session, plan, {});
  assertEquals(result.success, false);
  // Each migration is planned again just before it runs: those before it were reversed, it
  // was refused (and not run), the later ones did not happen.
  const at = PLAN_BATCH + 2;
  const statuses = result.outcomes.map((o) => o.status);
  assertEquals(statuses, [...Array(at).fill("reversed"), "failed", ...Array(N - at - 1).fill("not-run")]);
  assertMatch(result.outcomes[at]!.error!.message, new RegExp(`${changed.id} no longer plans`));
  assertEquals(await tableCount(t), N - at);
  assertEquals((await session.history.list(t.db)).length, N - at);
});
