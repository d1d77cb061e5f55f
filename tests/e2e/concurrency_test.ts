/**
 * Two runs against one PostgreSQL database (SPEC 3): the second waits on the migration lock,
 * then fails clearly; nothing is reversed twice; --lock-timeout bounds the wait.
 */

import postgres from "postgres";
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { history, idOf, postgresTest, tableMigration } from "../helpers/backends.ts";
import { makeProject, tide } from "../helpers/cli.ts";

const LOCK = "select pg_advisory_lock(hashtext('tide:migration'))";

/** Each reversal writes to a log table (made by the test), so a double reversal would show. */
const MIGRATIONS = [
  tableMigration(1, `  manager.addRaw("select 1", "insert into log values ('back 1')");`),
  { id: idOf(2), body: `  manager.addRaw("select 1", "insert into log values ('back 2')");` },
  { id: idOf(3), body: `  manager.addRaw("select 1", "insert into log values ('back 3')");` },
];

postgresTest("two concurrent backwards: one reverses, the other fails clearly; nothing twice", async (url) => {
  const root = await makeProject({ app: { migrations: MIGRATIONS } });
  const env = { TIDE_DATABASE_URL: url };
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  await sql`create table log (what text)`;
  assertEquals((await tide(["forwards", "app"], { cwd: root, env })).code, 0);
  try {
    // Hold the lock so that both runs plan the same migration, then both wait.
    await sql.unsafe(LOCK);
    const runs = [1, 2].map(() => tide(["backwards", "app", "-y", "--lock-timeout", "30s"], { cwd: root, env }));
    await waitForWaiters(sql, 2);
    await sql.unsafe("select pg_advisory_unlock(hashtext('tide:migration'))");
    const [a, b] = await Promise.all(runs);
    const codes = [a!.code, b!.code].sort();
    assertEquals(codes, [0, 1], `${a!.stderr}\n---\n${b!.stderr}`);
    const loser = a!.code === 1 ? a! : b!;
    assertMatch(loser.stderr, /another run/i);
    assertEquals(await history(url), [`app ${idOf(1)}`, `app ${idOf(2)}`]);
    assertEquals((await sql`select what from log`).map((r) => r.what), ["back 3"]);

    // Without the lock held, two runs at once: whichever way they interleave (one after the
    // other reverses 000002 then 000001; overlapping, the second fails), none reverses twice.
    const both = await Promise.all([1, 2].map(() => tide(["backwards", "app", "-y"], { cwd: root, env })));
    for (const r of both) if (r.code !== 0) assertMatch(r.stderr, /another run/i);
    const done = both.filter((r) => r.code === 0).length;
    assert(done >= 1);
    const log = (await sql`select what from log order by what`).map((r) => r.what);
    assertEquals(log, done === 2 ? ["back 1", "back 2", "back 3"] : ["back 2", "back 3"]);
    assertEquals((await history(url)).length, 3 - 1 - done);
  } finally {
    await sql.end();
  }
});

postgresTest("--lock-timeout: a held migration lock makes the run give up after about that long", async (url) => {
  const root = await makeProject({ app: { migrations: MIGRATIONS } });
  const env = { TIDE_DATABASE_URL: url };
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  await sql`create table log (what text)`;
  // 000003 stays pending, so forwards has something to wait for too.
  assertEquals((await tide(["forwards", "app", "2"], { cwd: root, env })).code, 0);
  try {
    await sql.unsafe(LOCK);
    for (const args of [["backwards", "app", "-y"], ["forwards", "app", "--fake"]]) {
      const started = performance.now();
      const r = await tide([...args, "--lock-timeout", "1500ms"], { cwd: root, env });
      const took = performance.now() - started;
      assertEquals(r.code, 1, r.stderr);
      assertMatch(r.stderr, /lock/i);
      assertMatch(r.stderr, /--lock-timeout/);
      assert(took >= 1500 && took < 8000, `took ${took} ms`);
    }
    // JSON too: one document saying so.
    const j = await tide(["backwards", "app", "-y", "--json", "--lock-timeout", "200ms"], { cwd: root, env });
    assertEquals(j.code, 1);
    const doc = JSON.parse(j.stdout);
    assertEquals(doc.success, false);
    assertMatch(doc.message, /lock/);
    assertEquals((await history(url)).length, 2);
    assertEquals((await sql`select count(*)::int as n from log`)[0]!.n, 0);

    // Released: the run goes through.
    await sql.unsafe("select pg_advisory_unlock(hashtext('tide:migration'))");
    const r = await tide(["backwards", "app", "-y", "--lock-timeout", "1s"], { cwd: root, env });
    assertEquals(r.code, 0, r.stderr);
    assertEquals(await history(url), [`app ${idOf(1)}`]);
  } finally {
    await sql.end();
  }
});

/** Waits until `n` other sessions poll for the migration lock. */
async function waitForWaiters(sql: postgres.Sql, n: number): Promise<void> {
  const deadline = Date.now() + 20_000;
  // Two consecutive sightings of the pollers: each has planned and is in withLock.
  const seen = new Set<number>();
  while (Date.now() < deadline) {
    const rows = await sql`select pid from pg_stat_activity
      where datname = current_database() and pid <> pg_backend_pid() and query like '%pg_try_advisory_lock%'`;
    for (const r of rows) seen.add(r.pid as number);
    if (seen.size >= n) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`only ${seen.size} of ${n} runs reached the lock`);
}
