/**
 * Steps that cannot run in a transaction (CONCURRENTLY): they run unwrapped, the history row
 * last; a leftover of an interrupted build is cleaned up; the run lock does not deadlock with
 * them.
 */

import { openPostgres } from "../../src/db/postgres.ts";
import { History } from "../../src/engine/history.ts";
import { planBackwardsMigration, planForwardsMigration } from "../../src/engine/plan.ts";
import { runPlan } from "../../src/engine/run.ts";
import { assert, assertEquals, assertMatch, assertRejects } from "../helpers/assert.ts";
import { eachDatabase } from "../helpers/databases.ts";
import { fakeMigration } from "../helpers/fake_migrations.ts";

eachDatabase(
  "a CONCURRENTLY migration runs unwrapped and reverses, and a leftover INVALID index is rebuilt",
  async (t) => {
    const history = new History("migration");
    await history.ensure(t.db);
    await t.db.execute([
      "create table band (id serial primary key, name text)",
      "insert into band (name) values ('a'), ('a')",
    ]);
    // A unique build that fails leaves an INVALID index behind, as a crash mid-build does.
    await assertRejects(() => t.db.execute(["create unique index concurrently band_name_idx on band (name)"]));
    await t.db.execute(["delete from band where id = 2"]);
    const migration = fakeMigration(
      "2026-01-01T00:00:00:000001",
      (m) => m.addIndex("band", ["name"], { name: "band_name_idx", unique: true, concurrently: true }),
    );
    const plan = await planForwardsMigration(migration);
    assertEquals(plan.transactional, false);
    const result = await runPlan(t.db, history, { direction: "forwards", migrations: [plan] });
    assertEquals(result.outcomes[0]?.error, undefined);
    assertMatch(
      result.outcomes[0]!.sql.join("\n"),
      /INVALID leftover[\s\S]*DROP INDEX CONCURRENTLY "band_name_idx"[\s\S]*CREATE UNIQUE INDEX CONCURRENTLY/,
    );
    const [valid] = await t.db.query<{ v: boolean }>(
      "select indisvalid as v from pg_index where indexrelid = 'band_name_idx'::regclass",
    );
    assertEquals(valid?.v, true);
    const [row] = await history.list(t.db);
    const back = await runPlan(t.db, history, {
      direction: "backwards",
      migrations: [await planBackwardsMigration(row!, migration)],
    });
    assertEquals(back.outcomes[0]?.sql.includes('DROP INDEX CONCURRENTLY "band_name_idx"'), true);
    assertEquals(await history.list(t.db), []);
  },
  { postgresOnly: true },
);

eachDatabase(
  "a run waiting for the lock does not deadlock with CREATE INDEX CONCURRENTLY in the run holding it",
  async (t) => {
    const history = new History("migration");
    await history.ensure(t.db);
    await t.db.execute([
      "create table big (id int, v text)",
      "insert into big select g, md5(g::text) from generate_series(1, 300000) g",
    ]);
    const other = await openPostgres(t.url);
    const migration = fakeMigration(
      "2026-01-01T00:00:00:000001",
      (m) => m.addIndex("big", ["v"], { concurrently: true }),
    );
    const plan = await planForwardsMigration(migration);
    let waiterGotIt = false;
    const holder = t.db.withLock("tide:migration", 1000, async () => {
      const result = await runPlan(t.db, history, { direction: "forwards", migrations: [plan] });
      assertEquals(result.outcomes[0]?.error, undefined);
    });
    await new Promise((r) => setTimeout(r, 30));
    // A short wait fails clearly; a long one gets the lock once the build is done.
    await assertRejects(
      () => other.withLock("tide:migration", 50, () => Promise.resolve()),
      /holds the migration lock/,
    );
    const waiter = other.withLock("tide:migration", 30_000, () => {
      waiterGotIt = true;
      return Promise.resolve();
    });
    await holder;
    await waiter;
    await other.close();
    assert(waiterGotIt);
    assertEquals((await history.list(t.db)).length, 1);
  },
  { postgresOnly: true },
);
