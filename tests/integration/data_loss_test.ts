/**
 * The data-loss preflight counts what a plan would destroy, on the live database.
 */

import { measureDataLoss } from "../../src/engine/data_loss.ts";
import { History } from "../../src/engine/history.ts";
import { planBackwardsMigration, planForwardsMigration } from "../../src/engine/plan.ts";
import { runPlan } from "../../src/engine/run.ts";
import type { MigrationManager } from "../../src/migration/manager.ts";
import { assertEquals } from "../helpers/assert.ts";
import { eachDatabase, type TestDatabase } from "../helpers/databases.ts";
import { fakeMigration } from "../helpers/fake_migrations.ts";

async function applyAndPlanBack(t: TestDatabase, record: (m: MigrationManager) => void, fill: string[]) {
  const history = new History("migration");
  await history.ensure(t.db);
  const migration = fakeMigration("2026-01-01T00:00:00:000001", record);
  const result = await runPlan(t.db, history, {
    direction: "forwards",
    migrations: [await planForwardsMigration(migration)],
  });
  assertEquals(result.success, true);
  if (fill.length) await t.db.execute(fill);
  const [row] = await history.list(t.db);
  return { direction: "backwards" as const, migrations: [await planBackwardsMigration(row!, migration)] };
}

eachDatabase("measureDataLoss() counts rows of tables a rollback drops: 0, 1 and 10,000", async (t) => {
  const plan = await applyAndPlanBack(t, (m) => {
    m.addTable("empty", { id: "int" });
    m.addTable("one", { id: "int" });
    m.addTable("many", { id: "int" });
  }, ["insert into one values (1)", "insert into many select g from generate_series(1, 10000) g"]);
  const findings = await measureDataLoss(t.db, plan);
  assertEquals(findings.map((f) => [f.object, f.rows, f.estimated]), [
    ["table many", 10000, false],
    ["table one", 1, false],
  ]);
  assertEquals(findings[0]!.migration, "app 2026-01-01T00:00:00:000001");
});

eachDatabase(
  "measureDataLoss() counts non-null values of dropped columns, altered casts and raw deletes",
  async (t) => {
    await t.db.execute(["create table band (id serial primary key, name text, score numeric(6,2))"]);
    const plan = await applyAndPlanBack(t, (m) => {
      m.addColumn("band", "genre", "text");
      m.alterColumn("band", "score", { type: "numeric(8,3)" });
      m.addRaw("insert into band (name) values ('x')", "delete from band where name = 'x'");
    }, [
      "insert into band (name, genre, score) values ('a', 'rock', 1.5), ('b', null, 2.25), ('c', 'jazz', null)",
      "update band set score = 2.125 where name = 'b'",
    ]);
    const findings = await measureDataLoss(t.db, plan);
    assertEquals(findings.map((f) => [f.object, f.rows]), [
      ["rows of band (raw delete)", 1],
      // 2.125 becomes 2.13; 1.5 and null come back unchanged.
      ["cast band.score to numeric(6,2)", 1],
      ["column band.genre", 2],
    ]);
  },
);

eachDatabase("measureDataLoss() uses the catalog's estimate above the threshold and says so", async (t) => {
  const plan = await applyAndPlanBack(t, (m) => m.addTable("big", { id: "int" }), [
    "insert into big select g from generate_series(1, 5000) g",
    "analyze big",
  ]);
  const [finding] = await measureDataLoss(t.db, plan, { exactBelow: 100 });
  assertEquals(finding?.estimated, true);
  assertEquals(finding!.rows > 4000 && finding!.rows < 6000, true);
});

eachDatabase("measureDataLoss() follows renames made earlier in the same plan", async (t) => {
  const history = new History("migration");
  await history.ensure(t.db);
  const first = fakeMigration("2026-01-01T00:00:00:000001", (m) => {
    m.addTable("band", { id: "serial primary key" });
    m.addColumn("band", "genre", "text");
  });
  const second = fakeMigration("2026-01-01T00:00:00:000002", (m) => {
    m.renameColumn("band", "genre", "style");
    m.renameTable("band", "music_group");
  });
  for (const m of [first, second]) {
    await runPlan(t.db, history, { direction: "forwards", migrations: [await planForwardsMigration(m)] });
  }
  await t.db.execute(["insert into music_group (style) values ('rock'), ('jazz'), (null)"]);
  const rows = await history.list(t.db);
  const plan = {
    direction: "backwards" as const,
    migrations: [await planBackwardsMigration(rows[1]!, second), await planBackwardsMigration(rows[0]!, first)],
  };
  const findings = await measureDataLoss(t.db, plan);
  assertEquals(findings.map((f) => [f.migration, f.object, f.rows]), [
    ["app 2026-01-01T00:00:00:000001", "column band.genre", 2],
    ["app 2026-01-01T00:00:00:000001", "table band", 3],
  ]);
});
