/**
 * `tide forwards` end to end (SPEC 3): all, 1, N, an ID, ID order, already run, --fake,
 * --preview, apps in dependency order and the pending-dependency warning.
 */

import { join } from "node:path";
import { assert, assertEquals, assertMatch, assertNotMatch } from "../helpers/assert.ts";
import { eachBackend, history, idOf, tableExists, tableMigration, tables, withDb } from "../helpers/backends.ts";
import { makeProject, tide, writeMigration } from "../helpers/cli.ts";

const ran = (...ns: number[]) => ns.map((n) => `app ${idOf(n)}`);

/** The `applied app <id>` progress lines of a run, in order. */
function appliedIds(stderr: string): string[] {
  return [...stderr.matchAll(/^applied +\S+ (\S+)/gm)].map((m) => m[1]!);
}

eachBackend("forwards: 1, N, an ID, all (default), in ID order; already run says so", async ({ url }) => {
  const migrations = [2, 3, 4, 5, 6].map((n) => tableMigration(n));
  const root = await makeProject({ app: { migrations } });
  // ID order, not file-name order: the smallest ID lives in a file named to sort last.
  await writeMigration(join(root, "app", "migrations"), { ...tableMigration(1), file: "zz_first.ts" });
  const env = { TIDE_DATABASE_URL: url };

  let r = await tide(["f", "app", "1"], { cwd: root, env });
  assertEquals(r.code, 0, r.stderr);
  assertEquals(appliedIds(r.stderr), [idOf(1)]);
  assertMatch(r.stdout, /Applied 1 migration\(s\)/);
  assertEquals(await history(url), ran(1));

  r = await tide(["forwards", "app", "2"], { cwd: root, env });
  assertEquals(appliedIds(r.stderr), [idOf(2), idOf(3)]);

  r = await tide(["forwards", "app", idOf(5)], { cwd: root, env });
  assertEquals(r.code, 0, r.stderr);
  assertEquals(appliedIds(r.stderr), [idOf(4), idOf(5)]);
  r = await tide(["forwards", "app", "--migration-id", idOf(6)], { cwd: root, env });
  assertEquals(appliedIds(r.stderr), [idOf(6)]);
  assertEquals(await history(url), ran(1, 2, 3, 4, 5, 6));

  // Already run: says so and succeeds, changing nothing.
  r = await tide(["forwards", "app", idOf(3)], { cwd: root, env });
  assertEquals(r.code, 0, r.stderr);
  assertMatch(r.stdout + r.stderr, new RegExp(`${idOf(3)}.* has already run`));
  for (const args of [["forwards", "app"], ["forwards", "app", "1"], ["forwards", "all"]]) {
    r = await tide(args, { cwd: root, env });
    assertEquals([r.code, r.stdout], [0, "No migrations to run\n"], args.join(" "));
  }

  // An ID no file has: exit 1, naming it.
  r = await tide(["forwards", "app", "2030-01-01T00:00:00:000000"], { cwd: root, env });
  assertEquals(r.code, 1);
  assertMatch(r.stderr, /no migration "2030-01-01T00:00:00:000000"/);
  // An unknown app: exit 1.
  assertEquals((await tide(["forwards", "nope"], { cwd: root, env })).code, 1);

  // all is the default, and runs everything pending in ID order.
  assertEquals((await tide(["backwards", "app", "all", "-y"], { cwd: root, env })).code, 0);
  r = await tide(["forwards", "app"], { cwd: root, env });
  assertEquals(appliedIds(r.stderr), [1, 2, 3, 4, 5, 6].map(idOf));
  assertEquals(await tables(url), ["migration", "t1", "t2", "t3", "t4", "t5", "t6"]);
});

eachBackend("forwards --fake records without running, the next one runs for real", async ({ url }) => {
  const root = await makeProject({ app: { migrations: [tableMigration(1), tableMigration(2)] } });
  const env = { TIDE_DATABASE_URL: url };
  // The schema already exists (made by hand): --fake only records it.
  await withDb(
    url,
    (db) => db.execute(["create table t1 (id serial primary key, name text)", "insert into t1 (name) values ('kept')"]),
  );
  let r = await tide(["forwards", "app", "1", "--fake", "--json"], { cwd: root, env });
  assertEquals(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout);
  assertEquals(doc.migrations.map((m: { id: string; status: string }) => [m.id, m.status]), [[idOf(1), "faked"]]);
  assertMatch(doc.message, /Faked 1 migration/);
  assertEquals(await history(url), ran(1));
  assertEquals(await withDb(url, (db) => db.query("select name from t1")), [{ name: "kept" }]);
  // The next one runs for real.
  r = await tide(["forwards", "app"], { cwd: root, env });
  assertEquals(appliedIds(r.stderr), [idOf(2)]);
  assert(await withDb(url, (db) => tableExists(db, "t2")));
});

eachBackend("forwards --preview prints the SQL, runs nothing, creates no history table", async ({ url }) => {
  const root = await makeProject({ app: { migrations: [tableMigration(1)] } });
  const r = await tide(["forwards", "app", "--preview", "--database-url", url], { cwd: root });
  assertEquals(r.code, 0, r.stderr);
  assertMatch(r.stdout, /^BEGIN;$/m);
  assertMatch(r.stdout, /CREATE TABLE "t1"/);
  assertMatch(r.stdout, /CREATE TABLE IF NOT EXISTS "migration"/);
  assertNotMatch(r.stdout, /Preview: would/);
  assertEquals(await tables(url), []);
  const j = await tide(["forwards", "app", "--preview", "--json", "--database-url", url], { cwd: root });
  assertEquals(JSON.parse(j.stdout).migrations.map((m: { status: string }) => m.status), ["previewed"]);
  assertEquals(await tables(url), []);
});

eachBackend(
  "forwards all runs apps in dependency order; forwards <app> warns about a pending dependency",
  async ({ url }) => {
    // "alpha" depends on "zeta": sorted order is zeta then alpha, whatever the names say.
    const root = await makeProject({
      zeta: { migrations: [tableMigration(1), tableMigration(3)] },
      alpha: { migrations: [tableMigration(2)], dependsOn: ["zeta"] },
      beta: { migrations: [tableMigration(4)] },
    });
    const env = { TIDE_DATABASE_URL: url };
    let r = await tide(["forwards", "alpha"], { cwd: root, env });
    assertEquals(r.code, 0, r.stderr);
    assertMatch(r.stderr, /warning: .*"alpha" depends on "zeta", which has 2 pending migration\(s\)/);
    assertEquals(await history(url), [`alpha ${idOf(2)}`]);

    // No warning once the dependency is up to date, nor for an app without dependencies.
    r = await tide(["forwards", "beta"], { cwd: root, env });
    assertNotMatch(r.stderr, /warning/);
    r = await tide(["forwards", "all", "--json"], { cwd: root, env });
    assertEquals(r.code, 0, r.stderr);
    assertEquals(
      JSON.parse(r.stdout).migrations.map((m: { app: string; id: string }) => `${m.app} ${m.id}`),
      [`zeta ${idOf(1)}`, `zeta ${idOf(3)}`],
    );
    assertEquals((await tide(["backwards", "alpha", "-y"], { cwd: root, env })).code, 0);
    r = await tide(["forwards", "alpha"], { cwd: root, env });
    assertEquals(r.code, 0, r.stderr);
    assertNotMatch(r.stderr, /warning/);

    // From nothing, all apps: beta and zeta have no dependencies (by name), then alpha.
    assertEquals((await tide(["backwards", "all", "-y"], { cwd: root, env })).code, 0);
    assertEquals(await history(url), []);
    r = await tide(["forwards", "all", "--json"], { cwd: root, env });
    assertEquals(
      JSON.parse(r.stdout).migrations.map((m: { app: string; id: string }) => `${m.app} ${m.id}`),
      [`beta ${idOf(4)}`, `zeta ${idOf(1)}`, `zeta ${idOf(3)}`, `alpha ${idOf(2)}`],
    );
  },
);
