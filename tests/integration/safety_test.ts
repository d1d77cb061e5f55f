/**
 * DDL safety: lock_timeout with retries against a real blocking transaction, and --atomic.
 */

import { diffCatalog, snapshotCatalog } from "../../src/engine/catalog.ts";
import { History } from "../../src/engine/history.ts";
import { planBackwardsMigration, planForwardsMigration } from "../../src/engine/plan.ts";
import { runPlan } from "../../src/engine/run.ts";
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { holdLock } from "../helpers/blocker.ts";
import { eachDatabase } from "../helpers/databases.ts";
import { fakeMigration } from "../helpers/fake_migrations.ts";

eachDatabase(
  "a lock held by another session: retried with lock_timeout, then applied once it is released",
  async (t) => {
    const history = new History("migration");
    await history.ensure(t.db);
    await t.db.execute(["create table band (id int)"]);
    const blocker = await holdLock(t.url, "lock table band in access exclusive mode");
    const pauses: number[] = [];
    // Release the blocker during the second pause: the third try must succeed.
    const retryPause = (attempt: number) => {
      pauses.push(attempt);
      if (attempt === 2) setTimeout(() => void blocker.rollback(), 50);
      return 200;
    };
    const migration = fakeMigration("2026-01-01T00:00:00:000001", (m) => m.addColumn("band", "name", "text"));
    const started = performance.now();
    const result = await runPlan(t.db, history, {
      direction: "forwards",
      migrations: [await planForwardsMigration(migration)],
    }, {
      safety: { lockTimeoutMs: 150, retries: 3 },
      retryPause,
    });
    await blocker.end();
    assertEquals(result.outcomes[0]?.error, undefined);
    assertEquals(pauses, [1, 2]);
    assert(performance.now() - started >= 3 * 150, "each try waited for its lock_timeout");
    assertEquals(result.outcomes[0]?.sql[0], "SET LOCAL lock_timeout = '150ms'");
    assertEquals((await history.list(t.db)).length, 1);
  },
  { postgresOnly: true },
);

eachDatabase("a lock never released: fails after the retries with a message naming the cause", async (t) => {
  const history = new History("migration");
  await history.ensure(t.db);
  await t.db.execute(["create table band (id int)"]);
  const blocker = await holdLock(t.url, "lock table band in access share mode");
  const migration = fakeMigration("2026-01-01T00:00:00:000001", (m) => m.dropTable("band"));
  let tries = 0;
  const result = await runPlan(t.db, history, {
    direction: "forwards",
    migrations: [await planForwardsMigration(migration)],
  }, {
    safety: { lockTimeoutMs: 100, retries: 2, statementTimeoutMs: 10_000 },
    retryPause: () => (tries++, 10),
  });
  await blocker.rollback();
  await blocker.end();
  assertEquals(tries, 2);
  assertEquals(result.outcomes[0]?.status, "failed");
  assertMatch(
    result.outcomes[0]!.error!.message,
    /kept waiting for a lock held by another session .*--ddl-lock-timeout/,
  );
  assertEquals(await history.list(t.db), []);
}, { postgresOnly: true });

eachDatabase("--atomic rolls every migration back when the third of three fails", async (t) => {
  const history = new History("migration");
  await history.ensure(t.db);
  const before = await snapshotCatalog(t.db, ["public.migration"]);
  const migrations = await Promise.all([
    fakeMigration("2026-01-01T00:00:00:000001", (m) => m.addTable("a", { id: "int" })),
    fakeMigration("2026-01-01T00:00:00:000002", (m) => m.addTable("b", { id: "int" })),
    fakeMigration("2026-01-01T00:00:00:000003", (m) => m.addColumn("missing", "x", "int")),
  ].map(planForwardsMigration));
  const result = await runPlan(t.db, history, { direction: "forwards", migrations }, { atomic: true });
  assertEquals(result.success, false);
  assertEquals(result.outcomes.map((o) => o.status), ["not-run", "not-run", "failed"]);
  assertMatch(result.outcomes[2]!.error!.message, /whole --atomic run was rolled back/);
  assertEquals(diffCatalog(before, await snapshotCatalog(t.db, ["public.migration"])), []);
  assertEquals(await history.list(t.db), []);

  const ok = await runPlan(t.db, history, { direction: "forwards", migrations: migrations.slice(0, 2) }, {
    atomic: true,
  });
  assertEquals(ok.outcomes.map((o) => o.status), ["applied", "applied"]);
  assertEquals((await history.list(t.db)).map((r) => r.id), [
    "2026-01-01T00:00:00:000001",
    "2026-01-01T00:00:00:000002",
  ]);
});

eachDatabase("a reversal whose history row is already gone fails and changes nothing", async (t) => {
  const history = new History("migration");
  await history.ensure(t.db);
  const migration = fakeMigration("2026-01-01T00:00:00:000001", (m) => {
    m.addTable("band", { id: "int" });
    m.addRaw("insert into band values (1)", "delete from band");
  });
  await runPlan(t.db, history, { direction: "forwards", migrations: [await planForwardsMigration(migration)] });
  const [row] = await history.list(t.db);
  const plan = await planBackwardsMigration(row!, migration);
  // Another run reversed it between planning and running (as if there were no lock).
  await t.db.execute(["delete from migration"]);
  const result = await runPlan(t.db, history, { direction: "backwards", migrations: [plan] });
  assertEquals(result.outcomes[0]?.status, "failed");
  assertMatch(result.outcomes[0]!.error!.message, /history row was already gone .*nothing was changed/);
  assertEquals(await t.db.query("select count(*)::int as n from band"), [{ n: 1 }]);
});
