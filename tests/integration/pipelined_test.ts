/**
 * Pipelined migrations on a server: a migration made of SQL only is sent while the one before
 * it still runs, its transaction opening with a check that the one before committed. These
 * tests make a migration fail (or wait for a lock) with another one already sent behind it,
 * and check on the database itself that the one behind changed nothing.
 */

import type { Database } from "../../src/db/database.ts";
import { History } from "../../src/engine/history.ts";
import { planBackwardsMigration, planForwardsMigration, type PlannedMigration } from "../../src/engine/plan.ts";
import { runPlan } from "../../src/engine/run.ts";
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { holdLock } from "../helpers/blocker.ts";
import { eachDatabase, type TestDatabase } from "../helpers/databases.ts";
import { fakeMigration } from "../helpers/fake_migrations.ts";

const id = (i: number) => `2026-01-01T00:00:00:00000${i}`;

/** The database, with each pipelined send recorded: how many sends had not settled when it was made. */
function spied(db: Database): { db: Database; unsettledAtSend: number[] } {
  const unsettledAtSend: number[] = [];
  let unsettled = 0;
  const send = db.sendTransaction?.bind(db);
  assert(send !== undefined, "a server pipelines");
  const wrapped: Database = {
    kind: db.kind,
    ...(db.url === undefined ? {} : { url: db.url }),
    session: db.session,
    query: (sql, params) => db.query(sql, params),
    execute: (statements) => db.execute(statements),
    transaction: (fn) => db.transaction(fn),
    withLock: (key, ms, fn) => db.withLock(key, ms, fn),
    close: () => db.close(),
    ...(db.openAnother ? { openAnother: () => db.openAnother!() } : {}),
    sendTransaction: (statements) => {
      unsettledAtSend.push(unsettled++);
      return send(statements).finally(() => unsettled--);
    },
  };
  return { db: wrapped, unsettledAtSend };
}

async function forwardsAll(t: TestDatabase, history: History, count: number): Promise<void> {
  await history.ensure(t.db);
  const migrations: PlannedMigration[] = [];
  for (let i = 1; i <= count; i++) {
    migrations.push(
      await planForwardsMigration(fakeMigration(id(i), (m) => {
        m.addTable(`t${i}`, { id: "int primary key" });
        m.addColumn(`t${i}`, "extra", "int");
      })),
    );
  }
  const result = await runPlan(t.db, history, { direction: "forwards", migrations });
  assert(result.success, JSON.stringify(result.outcomes.find((o) => o.error)));
}

async function backwardsPlan(t: TestDatabase, history: History): Promise<PlannedMigration[]> {
  const rows = (await history.list(t.db)).sort((a, b) => (a.id < b.id ? 1 : -1));
  return await Promise.all(rows.map((row) => planBackwardsMigration(row, undefined)));
}

async function tables(t: TestDatabase): Promise<string[]> {
  const rows = await t.db.query<{ name: string }>(
    "select relname::text as name from pg_class where relkind = 'r' and relname ~ '^t[0-9]+$' order by 1",
  );
  return rows.map((r) => r.name);
}

eachDatabase(
  "pipelined reversals: one fails while the next is already sent; the next changes nothing",
  async (t) => {
    const history = new History("migration");
    await forwardsAll(t, history, 4);
    // Reversing t3 must fail: a view outside tide depends on it.
    await t.db.execute(["create view v3 as select * from t3"]);
    const { db, unsettledAtSend } = spied(t.db);
    const result = await runPlan(db, history, { direction: "backwards", migrations: await backwardsPlan(t, history) });
    assertEquals(result.outcomes.map((o) => o.status), ["reversed", "failed", "not-run", "not-run"]);
    assertMatch(result.outcomes[1]!.error!.message, /t3.*(depend|view)/is);
    // t2 was sent while t3 still ran, and its transaction rolled back: t2 and its column remain.
    assert(unsettledAtSend.some((n) => n > 0), `a migration was sent behind another: ${unsettledAtSend}`);
    // t4, t3, then t2 behind t3 (and t1 behind t2, the pipeline being deeper than one): none of them after t3 applied.
    assert(unsettledAtSend.length >= 3, `t4, t3 and t2 were sent: ${unsettledAtSend}`);
    assertEquals(await tables(t), ["t1", "t2", "t3"]);
    const [column] = await t.db.query<{ n: number }>(
      "select count(*)::int as n from pg_attribute where attrelid = 't2'::regclass and attname = 'extra'",
    );
    assertEquals(column?.n, 1);
    assertEquals((await history.list(t.db)).map((r) => r.id).sort(), [id(1), id(2), id(3)]);
    // What the failed one executed ends at the failing statement; tide's check is not reported.
    assert(result.outcomes.every((o) => o.sql.every((s) => !History.isPreviousCommittedCheck(s))));
    assertMatch(result.outcomes[1]!.sql.at(-1)!, /ALTER TABLE "t3" DROP COLUMN "extra"/);
  },
  { postgresOnly: true },
);

eachDatabase(
  "pipelined forwards: a failing migration stops the run; the one sent behind it is not applied",
  async (t) => {
    const history = new History("migration");
    await history.ensure(t.db);
    await t.db.execute(["create table taken (id int)"]);
    const migrations = [
      await planForwardsMigration(fakeMigration(id(1), (m) => m.addTable("t1", { id: "int" }))),
      await planForwardsMigration(fakeMigration(id(2), (m) => m.addTable("taken", { id: "int" }))),
      await planForwardsMigration(fakeMigration(id(3), (m) => m.addTable("t3", { id: "int" }))),
    ];
    const { db, unsettledAtSend } = spied(t.db);
    const result = await runPlan(db, history, { direction: "forwards", migrations });
    assertEquals(result.outcomes.map((o) => o.status), ["applied", "failed", "not-run"]);
    assertMatch(result.outcomes[1]!.error!.message, /taken.*already exists/);
    assert(unsettledAtSend.some((n) => n > 0), `a migration was sent behind another: ${unsettledAtSend}`);
    assertEquals(await tables(t), ["t1"]);
    assertEquals((await history.list(t.db)).map((r) => r.id), [id(1)]);
  },
  { postgresOnly: true },
);

eachDatabase(
  "pipelined reversals: a lock timeout retries that migration, then the rest run in order",
  async (t) => {
    const history = new History("migration");
    await forwardsAll(t, history, 3);
    const blocker = await holdLock(t.url, "lock table t2 in access share mode");
    const pauses: number[] = [];
    const retryPause = (attempt: number) => {
      pauses.push(attempt);
      // Released during the first pause: the second try gets the lock.
      if (attempt === 1) setTimeout(() => void blocker.rollback(), 20);
      return 150;
    };
    const { db, unsettledAtSend } = spied(t.db);
    const result = await runPlan(db, history, {
      direction: "backwards",
      migrations: await backwardsPlan(t, history),
    }, { safety: { lockTimeoutMs: 150, retries: 2 }, retryPause });
    await blocker.end();
    assertEquals(result.outcomes.map((o) => `${o.status} ${o.id}`), [
      `reversed ${id(3)}`,
      `reversed ${id(2)}`,
      `reversed ${id(1)}`,
    ]);
    assertEquals(pauses, [1]);
    assert(unsettledAtSend.some((n) => n > 0), `a migration was sent behind another: ${unsettledAtSend}`);
    assertEquals(await tables(t), []);
    assertEquals(await history.list(t.db), []);
  },
  { postgresOnly: true },
);
