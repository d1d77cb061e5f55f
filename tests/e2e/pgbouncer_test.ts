/**
 * tide through PgBouncer 1.18, in session and in transaction pooling, with other clients
 * sharing the pool. The oracle is a direct connection to the server: history rows, tables, the
 * lock table and pg_locks as the server sees them.
 */

import postgres from "postgres";
import { assert, assertEquals, assertMatch, assertNotMatch } from "../helpers/assert.ts";
import { idOf, tableMigration } from "../helpers/backends.ts";
import { type FixtureMigration, makeProject, tide, tideCommand } from "../helpers/cli.ts";
import { backgroundTraffic, pgbouncerTest } from "../helpers/pgbouncer.ts";

const BOTH = ["session", "transaction"] as const;
/** Rounds of two racing runs (forwards, backwards, forwards, …). */
const ROUNDS = 6;

/** A direct client on the test database (the oracle). */
function direct(url: string): postgres.Sql {
  return postgres(url, { max: 1, onnotice: () => {} });
}

/** History as `app id`, tables of public, lock rows and advisory locks: what the server holds. */
async function serverState(sql: postgres.Sql) {
  const history = (await sql`select to_regclass('migration') is not null as found`)[0]!.found
    ? (await sql`select app_name || ' ' || name as row from migration order by ran_on, name`).map((r) => r.row)
    : [];
  const tables = (await sql`select tablename from pg_tables where schemaname = 'public' order by 1`).map((r) =>
    r.tablename
  );
  const locks = (await sql`select to_regclass('migration_lock') is not null as found`)[0]!.found
    ? Number((await sql`select count(*)::int as n from migration_lock`)[0]!.n)
    : 0;
  const advisory = Number(
    (await sql`select count(*)::int as n from pg_locks where locktype = 'advisory' and database =
      (select oid from pg_database where datname = current_database())`)[0]!.n,
  );
  return { history, tables, locks, advisory };
}

/** Migration `n` of app `app`: creates `<app>_t<n>`, and logs its start and end. */
function logged(app: string, n: number, sleep = 0): FixtureMigration {
  const steps = [
    `  manager.addTable("${app}_t${n}", { id: "serial primary key" });`,
    `  manager.addRaw("insert into log values ('${app}${n} start', clock_timestamp())", "select 1");`,
    ...(sleep ? [`  manager.addRaw("select pg_sleep(${sleep})", "select 1");`] : []),
    `  manager.addRaw("insert into log values ('${app}${n} end', clock_timestamp())", "select 1");`,
  ];
  return { id: idOf(n), description: `${app} ${n}`, body: steps.join("\n") };
}

pgbouncerTest("forwards, backwards and forwards again with other clients sharing the pool", BOTH, async (db, mode) => {
  const root = await makeProject({
    app: {
      migrations: [
        tableMigration(1),
        tableMigration(2),
        // CONCURRENTLY runs outside a transaction: under transaction pooling without session SET.
        { id: idOf(3), body: `  manager.addIndex("t1", ["name"], { name: "t1_name", concurrently: true });` },
      ],
    },
  });
  const env = { TIDE_DATABASE_URL: db.url };
  const sql = direct(db.direct);
  const traffic = backgroundTraffic(db.url);
  try {
    const f = await tide(["forwards", "app"], { cwd: root, env });
    assertEquals(f.code, 0, f.stderr);
    if (mode === "transaction") {
      assertMatch(f.stderr, /using the table lock migration_lock \(session state does not persist/);
      assertMatch(f.stderr, /without lock_timeout\/statement_timeout/);
    } else {
      assertNotMatch(f.stderr, /table lock/);
    }
    let state = await serverState(sql);
    assertEquals(state.history, [1, 2, 3].map((n) => `app ${idOf(n)}`));
    assertEquals(state.tables, ["migration", ...(mode === "transaction" ? ["migration_lock"] : []), "t1", "t2"]);
    assertEquals(
      (await sql`select indisvalid from pg_index where indexrelid = 't1_name'::regclass`)[0]!.indisvalid,
      true,
    );
    assertEquals([state.locks, state.advisory], [0, 0]);

    const b = await tide(["backwards", "app", "all", "-y"], { cwd: root, env });
    assertEquals(b.code, 0, b.stderr);
    state = await serverState(sql);
    assertEquals(state.history, []);
    assertEquals(state.tables.filter((t) => t.startsWith("t")), []);
    assertEquals([state.locks, state.advisory], [0, 0]);

    // The next run proceeds at once: nothing left behind.
    const again = await tide(["forwards", "app", "--lock-timeout", "1s"], { cwd: root, env });
    assertEquals(again.code, 0, again.stderr);
    assertEquals((await serverState(sql)).history.length, 3);
    // No session setting of tide's leaked into the pool: other clients see the server's defaults.
    const pooled = direct(db.url);
    try {
      for (let i = 0; i < 20; i++) {
        assertEquals((await pooled.unsafe("show lock_timeout"))[0]!.lock_timeout, "0");
      }
    } finally {
      await pooled.end();
    }
  } finally {
    const queries = await traffic.stop();
    assert(queries > 0, "the background clients ran");
    await sql.end();
  }
});

pgbouncerTest("two concurrent runs: one inside the lock at a time, never both", BOTH, async (db) => {
  // a's migration waits, inside its transaction, for an advisory lock the test holds: the test
  // decides when a is done, however slow the machine.
  const gate = `  manager.addRaw("select pg_advisory_xact_lock(4242)", "select 1");`;
  const a1 = logged("a", 1);
  const root = await makeProject({
    a: { migrations: [{ ...a1, body: a1.body.replace("\n", `\n${gate}\n`) }] },
    b: { migrations: [logged("b", 1)] },
    c: { migrations: [logged("c", 1)] },
  });
  const env = { TIDE_DATABASE_URL: db.url };
  const sql = direct(db.direct);
  await sql`create table log (what text, at timestamptz)`;
  const traffic = backgroundTraffic(db.url);
  try {
    await sql`select pg_advisory_lock(4242)`;
    // Both apps share the one lock of the history table: b must wait until a is done.
    const first = tide(["forwards", "a", "--lock-timeout", "60s", "--ddl-lock-timeout", "60s"], { cwd: root, env });
    await waitForQuery(sql, "select pg_advisory_xact_lock", "a's migration to reach the gate");
    const second = tide(["forwards", "b", "--lock-timeout", "60s"], { cwd: root, env });
    // Meanwhile a third run with a short timeout gives up, naming the lock and its holder.
    const third = await tide(["forwards", "c", "--lock-timeout", "500ms"], { cwd: root, env });
    assertEquals(third.code, 1, third.stderr);
    assertMatch(third.stderr, /Another tide run holds the migration lock/);
    await sql`select pg_advisory_unlock(4242)`;
    const [a, b] = await Promise.all([first, second]);
    assertEquals([a.code, b.code], [0, 0], `${a.stderr}\n---\n${b.stderr}`);
    const log = await sql`select what, at from log order by at`;
    assertEquals(log.map((r) => r.what), ["a1 start", "a1 end", "b1 start", "b1 end"]);
    const state = await serverState(sql);
    assertEquals(state.history.sort(), [`a ${idOf(1)}`, `b ${idOf(1)}`]);
    assertEquals([state.locks, state.advisory], [0, 0]);
  } finally {
    await traffic.stop();
    await sql.end();
  }
});

pgbouncerTest(
  "racing runs of the same plan: each migration runs once, the loser refuses",
  ["transaction"],
  async (db) => {
    const root = await makeProject({ app: { migrations: [1, 2, 3].map((n) => logged("app", n, 0.2)) } });
    const env = { TIDE_DATABASE_URL: db.url };
    const sql = direct(db.direct);
    await sql`create table log (what text, at timestamptz)`;
    try {
      for (let round = 0; round < ROUNDS; round++) {
        const direction = round % 2 === 0 ? ["forwards", "app"] : ["backwards", "app", "all", "-y"];
        const runs = await Promise.all(
          [1, 2].map(() => tide([...direction, "--lock-timeout", "30s"], { cwd: root, env })),
        );
        const ok = runs.filter((r) => r.code === 0);
        assert(ok.length >= 1, runs.map((r) => r.stderr).join("\n---\n"));
        for (const r of runs) if (r.code !== 0) assertMatch(r.stderr, /history changed|another run/i);
        const state = await serverState(sql);
        assertEquals(state.history.length, round % 2 === 0 ? 3 : 0);
        assertEquals([state.locks, state.advisory], [0, 0]);
      }
      // Never two migrations inside at once: starts and ends alternate.
      const log = (await sql`select what from log order by at`).map((r) => String(r.what));
      log.forEach((what, i) => assert(what.endsWith(i % 2 === 0 ? "start" : "end"), log.join(", ")));
      assertEquals(log.length, 6 * Math.ceil(ROUNDS / 2)); // three migrations, start and end, each forwards round
    } finally {
      await sql.end();
    }
  },
);

pgbouncerTest(
  "a killed run's lease is taken over after it expires, naming the old owner",
  ["transaction"],
  async (db) => {
    const root = await makeProject({ app: { migrations: [tableMigration(1), logged("app", 2, 30)] } });
    const env = { TIDE_DATABASE_URL: db.url };
    const sql = direct(db.direct);
    await sql`create table log (what text, at timestamptz)`;
    try {
      const [cmd, ...pre] = tideCommand();
      const child = new Deno.Command(cmd!, {
        args: [...pre, "forwards", "app", "--lock-lease", "10s"],
        cwd: root,
        env: { NO_COLOR: "1", DATABASE_URL: "", ...env },
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).spawn();
      await waitForSleep(sql, "migration 2 to start");
      const [row] = await sql`select pid, host from migration_lock`;
      assertEquals(Number(row!.pid), child.pid);
      child.kill("SIGKILL");
      await child.status;
      // The server session of the killed run dies with it (as with client_connection_check_interval).
      await sql`select pg_terminate_backend(pid) from pg_stat_activity
      where datname = current_database() and query like 'select pg_sleep%' and pid <> pg_backend_pid()`;

      // Live lease: check shows it held, unlock refuses without --force.
      const held = await tide(["check"], { cwd: root, env });
      assertMatch(
        held.stderr,
        new RegExp(`lock: held \\(table migration_lock\\) by tide forwards app on host .*pid ${child.pid}`),
      );
      const refused = await tide(["unlock"], { cwd: root, env });
      assertEquals(refused.code, 1, refused.stderr);
      assertMatch(refused.stderr, /is live/);

      // Until the lease runs out (renewed every ~3 s while the run lived; the server's clock decides).
      const deadline = Date.now() + 30_000;
      while (!(await sql`select lease_until < now() as stale from migration_lock`)[0]!.stale) {
        assert(Date.now() < deadline, "the lease never ran out");
        await new Promise((r) => setTimeout(r, 200));
      }
      const stale = await tide(["check"], { cwd: root, env });
      assertMatch(stale.stderr, /lock: STALE table lock migration_lock/);

      const next = await tide(["forwards", "app", "--lock-lease", "2s", "--lock-timeout", "5s"], { cwd: root, env });
      assertEquals(next.code, 0, next.stderr);
      assertMatch(
        next.stderr,
        new RegExp(
          `took over a stale migration lock \\(migration_lock\\) left by tide forwards app on host \\S+, pid ${child.pid}`,
        ),
      );
      const state = await serverState(sql);
      assertEquals(state.history, [`app ${idOf(1)}`, `app ${idOf(2)}`]);
      assertEquals([state.locks, state.advisory], [0, 0]);
    } finally {
      await sql.end();
    }
  },
);

pgbouncerTest("unlock clears a stale lock, and a live one only with --force", ["transaction"], async (db) => {
  const root = await makeProject({ app: { migrations: [tableMigration(1)] } });
  const env = { TIDE_DATABASE_URL: db.url };
  const sql = direct(db.direct);
  try {
    assertEquals((await tide(["unlock"], { cwd: root, env })).code, 0);
    assertEquals((await tide(["forwards", "app"], { cwd: root, env })).code, 0);
    const insert = (lease: string) =>
      sql.unsafe(
        `insert into migration_lock (name, owner, host, pid, command, lease_until)
         values ('tide:migration', 'feedface-0000', 'elsewhere', 4242, 'tide backwards app', now() + interval '${lease}')`,
      );
    await insert("1 hour");
    const live = await tide(["unlock"], { cwd: root, env });
    assertEquals(live.code, 1);
    assertMatch(live.stderr, /live: tide backwards app on host elsewhere, pid 4242/);
    const forced = await tide(["unlock", "--force"], { cwd: root, env });
    assertEquals(forced.code, 0, forced.stderr);
    assertMatch(forced.stdout, /Cleared the migration lock .* pid 4242/);
    await insert("-1 second");
    const j = JSON.parse((await tide(["unlock", "--json"], { cwd: root, env })).stdout);
    assertEquals([j.success, j.cleared, j.holder.pid, j.holder.stale], [true, true, 4242, true]);
    assertEquals((await serverState(sql)).locks, 0);
  } finally {
    await sql.end();
  }
});

/** Waits until a migration's pg_sleep step runs (its log rows are not visible before COMMIT). */
function waitForSleep(sql: postgres.Sql, what: string): Promise<void> {
  return waitForQuery(sql, "select pg_sleep", what);
}

/** Waits until another session of the database runs a statement starting with `prefix`. */
async function waitForQuery(sql: postgres.Sql, prefix: string, what: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const rows = await sql`select 1 from pg_stat_activity where datname = current_database()
      and state = 'active' and starts_with(query, ${prefix}) and pid <> pg_backend_pid()`;
    if (rows.length > 0) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

pgbouncerTest(
  "statement pooling is refused before anything runs; check and --preview work",
  ["statement"],
  async (db) => {
    const root = await makeProject({ app: { migrations: [tableMigration(1)] } });
    const env = { TIDE_DATABASE_URL: db.url };
    const sql = direct(db.direct);
    try {
      const r = await tide(["forwards", "app"], { cwd: root, env });
      assertEquals(r.code, 1, r.stderr);
      assertMatch(r.stderr, /behind a pooler in statement mode .*statement pooling forbids; nothing was run/);
      assertEquals((await tide(["check"], { cwd: root, env })).code, 0);
      assertEquals((await tide(["forwards", "app", "--preview"], { cwd: root, env })).code, 0);
      const state = await serverState(sql);
      assertEquals([state.history, state.tables, state.locks, state.advisory], [[], [], 0, 0]);
    } finally {
      await sql.end();
    }
  },
);

pgbouncerTest(
  "a live run renews its lease; a run whose lease was taken stops before its next migration",
  ["transaction"],
  async (db) => {
    const gate = `  manager.addRaw("select pg_advisory_xact_lock(4343)", "select 1");`;
    const root = await makeProject({
      app: {
        migrations: [{ id: idOf(1), body: `${gate}\n  manager.addTable("t1", { id: "int" });` }, tableMigration(2)],
      },
      other: { migrations: [tableMigration(3)] },
    });
    const env = { TIDE_DATABASE_URL: db.url };
    const sql = direct(db.direct);
    try {
      await sql`select pg_advisory_lock(4343)`;
      const run = tide(["forwards", "app", "--lock-lease", "2s", "--ddl-lock-timeout", "60s"], { cwd: root, env });
      await waitForQuery(sql, "select pg_advisory_xact_lock", "migration 1 to reach the gate");
      // Three leases long: renewed all along, so another run cannot take it over.
      const other = await tide(["forwards", "other", "--lock-timeout", "6s", "--lock-lease", "2s"], { cwd: root, env });
      assertEquals(other.code, 1, other.stderr);
      assertMatch(other.stderr, /Another tide run holds the migration lock \(table migration_lock: tide forwards app/);
      assertNotMatch(other.stderr, /took over/);
      const [renewed] = await sql`select renewed_at > started_at + interval '4 s' as ok from migration_lock`;
      assert(renewed?.ok, "the lease was renewed while the run lived");
      // Someone takes the lock over (as after a stall longer than the lease): the run notices
      // at its next renewal and starts no further migration.
      await sql`update migration_lock set owner = 'thief'`;
      await new Promise((r) => setTimeout(r, 1500));
      await sql`select pg_advisory_unlock(4343)`;
      const r = await run;
      assertEquals(r.code, 1, r.stderr);
      assertMatch(r.stderr, /applied {2}app .*000001/);
      assertMatch(
        r.stderr,
        /This run lost the migration lock \(table migration_lock\): another run took the lock over/,
      );
      assertEquals((await serverState(sql)).history, [`app ${idOf(1)}`]);
      // The thief's row is not the run's to delete: it stays, for tide unlock --force.
      assertEquals((await sql`select owner from migration_lock`).map((x) => x.owner), ["thief"]);
    } finally {
      await sql.end();
    }
  },
);
