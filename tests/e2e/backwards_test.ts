/**
 * `tide backwards` end to end (SPEC 3): every target form, the order, nothing to do, unknown
 * app or ID, `--clean`, a failure in the middle of a run, `--json`, and `all` across apps.
 */

import { join } from "node:path";
import { assert, assertEquals, assertMatch, assertNotMatch } from "../helpers/assert.ts";
import {
  eachBackend,
  filesIn,
  history,
  idOf,
  tableExists,
  tableMigration,
  tables,
  withDb,
} from "../helpers/backends.ts";
import { makeProject, tide, writeMigration } from "../helpers/cli.ts";

const FIVE = [1, 2, 3, 4, 5].map((n) => tableMigration(n));

/** `app idOf(n)` for each n: the history as {@linkcode history} prints it. */
const ran = (...ns: number[]) => ns.map((n) => `app ${idOf(n)}`);

/** The `reversed app <id>` progress lines of a run, in order. */
function reversedIds(stderr: string): string[] {
  return [...stderr.matchAll(/^reversed +app (\S+)/gm)].map((m) => m[1]!);
}

eachBackend(
  "backwards: default 1, N, an ID inclusive, --migration-id, all, then nothing to reverse",
  async ({ url }) => {
    const root = await makeProject({ app: { migrations: FIVE } });
    const env = { TIDE_DATABASE_URL: url };
    const forwards = async () => assertEquals((await tide(["forwards", "app"], { cwd: root, env })).code, 0);
    await forwards();
    assertEquals(await history(url), ran(1, 2, 3, 4, 5));

    // No target: the most recently run one only.
    let r = await tide(["backwards", "app", "-y"], { cwd: root, env });
    assertEquals(r.code, 0, r.stderr);
    assertEquals(reversedIds(r.stderr), [idOf(5)]);
    assertMatch(r.stdout, /Reversed 1 migration\(s\)/);
    assertEquals(await history(url), ran(1, 2, 3, 4));
    assertEquals(await tables(url), ["migration", "t1", "t2", "t3", "t4"]);

    // A number N, through the alias `b`: the N most recently run, newest first.
    r = await tide(["b", "app", "2", "-y"], { cwd: root, env });
    assertEquals(r.code, 0, r.stderr);
    assertEquals(reversedIds(r.stderr), [idOf(4), idOf(3)]);
    assertEquals(await history(url), ran(1, 2));

    // An ID: from the most recent down to and including it.
    await forwards();
    r = await tide(["backwards", "app", idOf(2), "-y"], { cwd: root, env });
    assertEquals(r.code, 0, r.stderr);
    assertEquals(reversedIds(r.stderr), [idOf(5), idOf(4), idOf(3), idOf(2)]);
    assertEquals(await history(url), ran(1));
    assertEquals(await tables(url), ["migration", "t1"]);

    // --migration-id is the positional under another name (and may repeat it).
    await forwards();
    r = await tide(["backwards", "app", "--migration-id", idOf(4), "-y"], { cwd: root, env });
    assertEquals(r.code, 0, r.stderr);
    assertEquals(reversedIds(r.stderr), [idOf(5), idOf(4)]);
    r = await tide(["backwards", "app", idOf(3), "--migration-id", idOf(3), "-y"], { cwd: root, env });
    assertEquals(r.code, 0, r.stderr);
    assertEquals(reversedIds(r.stderr), [idOf(3)]);
    assertEquals(await history(url), ran(1, 2));
    // Two different IDs: a usage error, nothing reversed.
    r = await tide(["backwards", "app", idOf(2), "--migration-id", idOf(1), "-y"], { cwd: root, env });
    assertEquals(r.code, 2);
    assertEquals(await history(url), ran(1, 2));

    // A number larger than what has run: everything that has run.
    r = await tide(["backwards", "app", "9", "-y"], { cwd: root, env });
    assertEquals(r.code, 0, r.stderr);
    assertEquals(reversedIds(r.stderr), [idOf(2), idOf(1)]);

    // all: every run migration.
    await forwards();
    r = await tide(["backwards", "app", "all", "-y"], { cwd: root, env });
    assertEquals(r.code, 0, r.stderr);
    assertEquals(reversedIds(r.stderr), [5, 4, 3, 2, 1].map(idOf));
    assertEquals(await history(url), []);
    assertEquals(await tables(url), ["migration"]);

    // Nothing left: says so on stdout and succeeds, for every target form that selects nothing.
    for (const target of [[], ["all"], ["3"]]) {
      r = await tide(["backwards", "app", ...target, "-y"], { cwd: root, env });
      assertEquals([r.code, r.stdout], [0, "No migrations to reverse\n"], r.stderr);
    }
    // Without -y too: there is nothing to ask about, so no TTY is needed.
    r = await tide(["backwards", "app"], { cwd: root, env });
    assertEquals([r.code, r.stdout], [0, "No migrations to reverse\n"], r.stderr);
  },
);

eachBackend("backwards on a database where nothing ever ran: nothing to reverse, no table created", async ({ url }) => {
  const root = await makeProject({ app: { migrations: FIVE } });
  const r = await tide(["backwards", "app", "--database-url", url], { cwd: root });
  assertEquals([r.code, r.stdout], [0, "No migrations to reverse\n"], r.stderr);
  assertEquals(await tables(url), []);
});

eachBackend("backwards orders by ran_on, then by ID; not by ID alone", async ({ url }) => {
  // 000002 runs first; 000001's file appears later and runs later.
  const root = await makeProject({ app: { migrations: [tableMigration(2)] } });
  const env = { TIDE_DATABASE_URL: url };
  assertEquals((await tide(["forwards", "app"], { cwd: root, env })).code, 0);
  await writeMigration(join(root, "app", "migrations"), tableMigration(1));
  assertEquals((await tide(["forwards", "app"], { cwd: root, env })).code, 0);
  assertEquals(await history(url), ran(2, 1));

  let r = await tide(["backwards", "app", "all", "--preview", "--json"], { cwd: root, env });
  assertEquals(r.code, 0, r.stderr);
  assertEquals(JSON.parse(r.stdout).migrations.map((m: { id: string }) => m.id), [idOf(1), idOf(2)]);

  // The default target is the most recently *run*, which has the smaller ID here.
  r = await tide(["backwards", "app", "-y"], { cwd: root, env });
  assertEquals(reversedIds(r.stderr), [idOf(1)]);
  assertEquals(await history(url), ran(2));

  // Same ran_on: the larger ID counts as the more recent.
  await writeMigration(join(root, "app", "migrations"), tableMigration(3));
  assertEquals((await tide(["forwards", "app"], { cwd: root, env })).code, 0);
  await withDb(url, (db) => db.execute(["update migration set ran_on = '2026-01-01T00:00:00Z'"]));
  r = await tide(["backwards", "app", "all", "--preview", "--json"], { cwd: root, env });
  assertEquals(JSON.parse(r.stdout).migrations.map((m: { id: string }) => m.id), [idOf(3), idOf(2), idOf(1)]);
});

eachBackend(
  "backwards: unknown app, unknown or never-run ID: exit 1, nothing reversed, valid IDs listed",
  async ({ url }) => {
    const root = await makeProject({ app: { migrations: FIVE }, other: { migrations: [] } });
    const env = { TIDE_DATABASE_URL: url };
    assertEquals((await tide(["forwards", "app", "3"], { cwd: root, env })).code, 0);

    let r = await tide(["backwards", "nope", "-y"], { cwd: root, env });
    assertEquals(r.code, 1);
    assertMatch(r.stderr, /Unknown app "nope"/);
    assertMatch(r.stderr, /"app"/);

    for (const id of ["2030-01-01T00:00:00:000000", idOf(4)]) {
      r = await tide(["backwards", "app", id, "-y"], { cwd: root, env });
      assertEquals(r.code, 1, `${id}: ${r.stderr}`);
      assertMatch(r.stderr, new RegExp(`${id}.*has not run`));
      // The IDs that can be given: the run ones, not the pending ones.
      for (const n of [1, 2, 3]) assertMatch(r.stderr, new RegExp(idOf(n)));
      assertNotMatch(r.stderr.replace(id, ""), new RegExp(`${idOf(4)}|${idOf(5)}`));
      assertEquals(r.stdout, "");
    }
    // --json: the same, as the one document on stdout.
    r = await tide(["backwards", "app", idOf(5), "-y", "--json"], { cwd: root, env });
    assertEquals(r.code, 1);
    const doc = JSON.parse(r.stdout);
    assertEquals([doc.success, doc.migrations], [false, []]);
    assertMatch(doc.message, new RegExp(idOf(3)));

    // An app where nothing has run has no valid IDs, and says so.
    r = await tide(["backwards", "other", idOf(1), "-y"], { cwd: root, env });
    assertEquals(r.code, 1);
    assertMatch(r.stderr, /has not run/);
    assertEquals(await history(url), ran(1, 2, 3));
  },
);

eachBackend(
  "a failure in the middle: earlier reversal committed, failed one untouched, later not run; --clean only for committed",
  async ({ url }) => {
    const migrations = [
      tableMigration(1),
      {
        id: idOf(2),
        description: "Breaks backwards",
        // Backwards runs DROP TABLE t2 first, then the raw step, which fails.
        body: `  manager.addRaw("create table side (id int)", "drop table no_such_table");
  manager.addTable("t2", { id: "int" });`,
      },
      tableMigration(3),
    ];
    const root = await makeProject({ app: { migrations } });
    const dir = join(root, "app", "migrations");
    const env = { TIDE_DATABASE_URL: url };
    assertEquals((await tide(["forwards", "app"], { cwd: root, env })).code, 0);
    const files = await filesIn(dir);

    let r = await tide(["backwards", "app", "all", "-y", "--clean"], { cwd: root, env });
    assertEquals(r.code, 1, r.stderr);
    assertEquals(r.stdout, "");
    // The message names the migration, the statement and the server's error.
    assertMatch(r.stderr, new RegExp(`Error: Migration app ${idOf(2)} \\(Breaks backwards\\) failed`));
    assertMatch(r.stderr, /drop table no_such_table/);
    assertMatch(r.stderr, /table "no_such_table" does not exist/);
    assertMatch(r.stderr, /reversed +app 2026-01-01T00:00:00:000003/);
    // 000003 reversed and committed (and its file cleaned); 000002 and 000001 untouched.
    assertEquals(await history(url), ran(1, 2));
    assertEquals(await tables(url), ["migration", "side", "t1", "t2"]);
    assertEquals(await filesIn(dir), files.filter((f) => !f.startsWith("2026_01_01T00_00_00_000003")));

    // --json: failed, then not-run, success false, the message as above.
    r = await tide(["backwards", "app", "all", "-y", "--json"], { cwd: root, env });
    assertEquals(r.code, 1);
    const doc = JSON.parse(r.stdout);
    assertEquals(doc.success, false);
    assertMatch(doc.message, /app 2026-01-01T00:00:00:000002 .*drop table no_such_table.*does not exist/);
    assertEquals(
      doc.migrations.map((m: { id: string; status: string }) => [m.id, m.status]),
      [[idOf(2), "failed"], [idOf(1), "not-run"]],
    );
    assert(doc.migrations[0].sql.some((s: string) => s === "drop table no_such_table"), doc.migrations[0].sql);
    assertEquals(doc.migrations[1].sql, []);
    assertEquals(await history(url), ran(1, 2));
    assertEquals(await filesIn(dir), files.filter((f) => !f.startsWith("2026_01_01T00_00_00_000003")));
  },
);

eachBackend("--clean deletes exactly the reversed migrations' files", async ({ url }) => {
  const root = await makeProject({ app: { migrations: FIVE } });
  const dir = join(root, "app", "migrations");
  const env = { TIDE_DATABASE_URL: url };
  assertEquals((await tide(["forwards", "app", "4"], { cwd: root, env })).code, 0);
  const before = await filesIn(dir);
  assertEquals(before.length, 5);
  const r = await tide(["backwards", "app", "2", "--clean", "-y"], { cwd: root, env });
  assertEquals(r.code, 0, r.stderr);
  // 000004 and 000003 reversed and deleted; 000005 (never run), 000002 and 000001 stay.
  assertEquals(await filesIn(dir), [before[0], before[1], before[4]]);
  assertMatch(r.stderr, /deleted .*000004_m\.ts/);
  // The remaining files are still a working project.
  assertEquals((await tide(["forwards", "app"], { cwd: root, env })).code, 0);
  assertEquals(await history(url), ran(1, 2, 5));
  // Without --clean nothing is deleted.
  assertEquals((await tide(["backwards", "app", "all", "-y"], { cwd: root, env })).code, 0);
  assertEquals((await filesIn(dir)).length, 3);
});

eachBackend("--json: one document, SPEC 4's shape, for reversed, nothing to do and errors", async ({ url }) => {
  const root = await makeProject({ app: { migrations: FIVE.slice(0, 2) } });
  const env = { TIDE_DATABASE_URL: url };
  let r = await tide(["forwards", "app", "--json"], { cwd: root, env });
  assertEquals(r.code, 0, r.stderr);
  assertRunJson(r.stdout, true, ["applied", "applied"]);

  r = await tide(["backwards", "app", "all", "-y", "--json"], { cwd: root, env });
  assertEquals(r.code, 0, r.stderr);
  const doc = assertRunJson(r.stdout, true, ["reversed", "reversed"]);
  assertEquals(doc.migrations.map((m) => [m.app, m.id, m.description]), [
    ["app", idOf(2), "Create t2"],
    ["app", idOf(1), "Create t1"],
  ]);
  assert(doc.migrations[0]!.sql.some((s) => /DROP TABLE "t2"/.test(s)), doc.migrations[0]!.sql.join("\n"));
  assert(doc.migrations[0]!.sql.some((s) => /DELETE FROM "migration"/.test(s)));
  assertMatch(doc.message!, /Reversed 2 migration\(s\)/);

  r = await tide(["backwards", "app", "--json"], { cwd: root, env });
  assertEquals(r.code, 0, r.stderr);
  assertEquals(assertRunJson(r.stdout, true, []).message, "No migrations to reverse");

  // Errors are the one document too: an unknown app (1), a bad flag (2), no TTY (2).
  r = await tide(["backwards", "nope", "--json"], { cwd: root, env });
  assertEquals(r.code, 1);
  assertMatch(assertRunJson(r.stdout, false, []).message!, /Unknown app "nope"/);
  r = await tide(["backwards", "app", "--json", "--bogus"], { cwd: root, env });
  assertEquals(r.code, 2);
  assertMatch(assertRunJson(r.stdout, false, []).message!, /bogus/);
  assertEquals((await tide(["forwards", "app"], { cwd: root, env })).code, 0);
  r = await tide(["backwards", "app", "--json"], { cwd: root, env });
  assertEquals(r.code, 2);
  assertMatch(assertRunJson(r.stdout, false, []).message!, /--auto-agree/);
  assertEquals((await history(url)).length, 2);
});

interface RunDoc {
  success: boolean;
  message: string | null;
  migrations: { app: string; id: string; description: string; status: string; durationMs: number; sql: string[] }[];
}

/** Parses stdout as exactly one JSON document and checks SPEC 4's fields and their types. */
function assertRunJson(stdout: string, success: boolean, statuses: string[]): RunDoc {
  const doc = JSON.parse(stdout) as RunDoc; // throws unless stdout is one document
  for (const key of ["success", "message", "migrations"]) assert(key in doc, `missing ${key}: ${stdout}`);
  assertEquals(doc.success, success);
  assert(doc.message === null || typeof doc.message === "string");
  assert(Array.isArray(doc.migrations));
  assertEquals(doc.migrations.map((m) => m.status), statuses);
  for (const m of doc.migrations) {
    for (const key of ["app", "id", "description", "status"]) {
      assertEquals(typeof (m as unknown as Record<string, unknown>)[key], "string", key);
    }
    assert(typeof m.durationMs === "number" && m.durationMs >= 0, "durationMs");
    assert(Array.isArray(m.sql) && m.sql.every((s) => typeof s === "string"), "sql");
    assert(["reversed", "applied", "faked", "previewed", "failed", "not-run"].includes(m.status));
  }
  return doc;
}

eachBackend(
  "backwards all across two apps: reverse dependency order, one listing, every migration",
  async ({ url }) => {
    // "alpha" depends on "zeta": sorted order is zeta, alpha (not by name), so reverse is alpha, zeta.
    const root = await makeProject({
      zeta: { migrations: [tableMigration(1), tableMigration(3)] },
      alpha: {
        migrations: [{ id: idOf(2), body: `  manager.addTable("a2", { id: "int", t: "int references t1 (id)" });` }],
        dependsOn: ["zeta"],
      },
    });
    const env = { TIDE_DATABASE_URL: url };
    let r = await tide(["forwards", "all", "--json"], { cwd: root, env });
    assertEquals(r.code, 0, r.stderr);
    assertEquals(
      JSON.parse(r.stdout).migrations.map((m: { app: string; id: string }) => `${m.app} ${m.id}`),
      [`zeta ${idOf(1)}`, `zeta ${idOf(3)}`, `alpha ${idOf(2)}`],
    );

    // Without a TTY the one confirmation cannot be asked: it lists the apps, then exit 2.
    r = await tide(["backwards", "all"], { cwd: root, env });
    assertEquals(r.code, 2);
    assertMatch(r.stderr, /apps alpha, zeta/);
    assertEquals((r.stderr.match(/\[y\/N\]|Reverse \d+ migration/g) ?? []).length, 1, r.stderr);

    r = await tide(["backwards", "all", "-y", "--json"], { cwd: root, env });
    assertEquals(r.code, 0, r.stderr);
    assertEquals(
      JSON.parse(r.stdout).migrations.map((m: { app: string; id: string }) => `${m.app} ${m.id}`),
      [`alpha ${idOf(2)}`, `zeta ${idOf(3)}`, `zeta ${idOf(1)}`],
    );
    assertEquals(await history(url), []);
    assertEquals(await tables(url), ["migration"]);
    assert(!(await withDb(url, (db) => tableExists(db, "a2"))));

    // SPEC: with `all`, each app runs with migration id `all`, whatever target follows.
    assertEquals((await tide(["forwards", "all"], { cwd: root, env })).code, 0);
    r = await tide(["backwards", "all", "1", "-y"], { cwd: root, env });
    assertEquals(r.code, 0, r.stderr);
    assertEquals(await history(url), []);
  },
);
