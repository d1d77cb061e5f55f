/**
 * `tide backwards` through the CLI, row by row of SPEC 3 and 4: targets, order, errors,
 * --clean, a failure in the middle, --json, `all` across apps, flag spellings.
 */

import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { openDatabase } from "../../src/db/open.ts";
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { type FixtureMigration, makeProject, tide } from "../helpers/cli.ts";
import { eachBackend } from "../helpers/databases.ts";

const id = (n: number) => `2026-01-01T00:00:00:00000${n}`;
const table = (n: number): FixtureMigration => ({
  id: id(n),
  description: `Table t${n}`,
  body: `  manager.addTable("t${n}", { id: "serial primary key" });`,
});

async function ran(url: string): Promise<string[]> {
  const db = await openDatabase(url);
  try {
    const exists = await db.query<{ e: boolean }>("select to_regclass('migration') is not null as e");
    if (!exists[0]?.e) return [];
    return (await db.query<{ name: string }>("select name from migration order by name")).map((r) => r.name);
  } finally {
    await db.close();
  }
}

function ids(stdout: string): string[] {
  return JSON.parse(stdout).migrations.map((m: { id: string }) => m.id);
}

eachBackend(
  "backwards: 1 by default, N, down to an ID inclusive, --migration-id, all; most recent first",
  async ({ url }) => {
    const root = await makeProject({ app: { migrations: [1, 2, 3, 4].map(table) } });
    const env = { TIDE_DATABASE_URL: url };
    const run = (...args: string[]) => tide(args, { cwd: root, env });
    assertEquals((await run("forwards", "app")).code, 0);

    let r = await run("backwards", "app", "-y", "--json");
    assertEquals([r.code, ids(r.stdout)], [0, [id(4)]]);
    r = await run("backwards", "app", "2", "-y", "--json");
    assertEquals(ids(r.stdout), [id(3), id(2)]);
    assertEquals(await ran(url), [id(1)]);

    assertEquals((await run("forwards", "app")).code, 0);
    r = await run("backwards", "app", id(2), "-y", "--json");
    assertEquals(ids(r.stdout), [id(4), id(3), id(2)]);
    assertEquals((await run("forwards", "app")).code, 0);
    r = await run("b", "app", "--migration-id", id(3), "-y", "--json");
    assertEquals(ids(r.stdout), [id(4), id(3)]);
    assertEquals((await run("forwards", "app")).code, 0);
    r = await run("backwards", "app", "all", "-y", "--json");
    assertEquals(ids(r.stdout), [id(4), id(3), id(2), id(1)]);
    assertEquals(await ran(url), []);

    r = await run("backwards", "app", "-y");
    assertEquals([r.code, r.stdout], [0, "No migrations to reverse\n"]);
    r = await run("backwards", "app", "all", "-y", "--json");
    assertEquals([r.code, JSON.parse(r.stdout)], [0, {
      success: true,
      message: "No migrations to reverse",
      migrations: [],
      dataLoss: [],
    }]);
  },
);

eachBackend("backwards: an unknown app or a never-run ID exits 1 and says what can be given", async ({ url }) => {
  const root = await makeProject({ app: { migrations: [1, 2].map(table) } });
  const env = { TIDE_DATABASE_URL: url };
  assertEquals((await tide(["forwards", "app", "1"], { cwd: root, env })).code, 0);
  let r = await tide(["backwards", "nope", "-y"], { cwd: root, env });
  assertEquals(r.code, 1);
  assertMatch(r.stderr, /Unknown app "nope": .*tide\.json lists "app"/);
  r = await tide(["backwards", "app", id(2), "-y"], { cwd: root, env });
  assertEquals(r.code, 1);
  assertMatch(r.stderr, new RegExp(`"${id(2)}" of app "app" has not run.*IDs that can be given: ${id(1)}`));
  r = await tide(["backwards", "app", "2026-99-99T00:00:00:000000", "-y"], { cwd: root, env });
  assertEquals(r.code, 1);
  assertEquals(await ran(url), [id(1)]);
  // A mistyped flag is a usage error.
  r = await tide(["backwards", "app", "--yes-please"], { cwd: root, env });
  assertEquals(r.code, 2);
  assertMatch(r.stderr, /unknown option '--yes-please'/);
  r = await tide(["backwards"], { cwd: root, env });
  assertEquals(r.code, 2);
});

eachBackend("backwards --clean deletes the files of the reversed migrations only", async ({ url }) => {
  const root = await makeProject({ app: { migrations: [1, 2, 3].map(table) } });
  const env = { TIDE_DATABASE_URL: url };
  assertEquals((await tide(["forwards", "app"], { cwd: root, env })).code, 0);
  const r = await tide(["backwards", "app", "2", "-y", "--clean"], { cwd: root, env });
  assertEquals(r.code, 0, r.stderr);
  assertEquals(await readdir(join(root, "app", "migrations")), ["2026_01_01T00_00_00_000001_m.ts"]);
  assertEquals(await ran(url), [id(1)]);
});

eachBackend("backwards: a failure in the middle of three stops there; earlier ones stay reversed", async ({ url }) => {
  const root = await makeProject({
    app: {
      migrations: [
        table(1),
        {
          id: id(2),
          description: "Broken reversal",
          body: `  manager.addRaw("select 1", "select * from no_such_table");`,
        },
        table(3),
      ],
    },
  });
  const env = { TIDE_DATABASE_URL: url };
  assertEquals((await tide(["forwards", "app"], { cwd: root, env })).code, 0);
  const r = await tide(["backwards", "app", "all", "-y", "--json"], { cwd: root, env });
  assertEquals(r.code, 1);
  const doc = JSON.parse(r.stdout);
  assertEquals(doc.success, false);
  assertEquals(doc.migrations.map((m: { status: string }) => m.status), ["reversed", "failed", "not-run"]);
  assertMatch(
    doc.message,
    new RegExp(
      `Migration app ${
        id(2)
      } \\(Broken reversal\\) failed at statement: select \\* from no_such_table — relation "no_such_table" does not exist`,
    ),
  );
  assertEquals(await ran(url), [id(1), id(2)]);
  // Human output: the same message on stderr, exit 1.
  const again = await tide(["backwards", "app", "all", "-y"], { cwd: root, env });
  assertEquals(again.code, 1);
  assertMatch(again.stderr, /Error: Migration app .*000002 .*no_such_table/);
});

eachBackend("backwards --json prints exactly one document of SPEC 4's shape", async ({ url }) => {
  const root = await makeProject({ app: { migrations: [table(1)] } });
  const env = { TIDE_DATABASE_URL: url };
  assertEquals((await tide(["forwards", "app"], { cwd: root, env })).code, 0);
  const r = await tide(["backwards", "app", "--auto_agree", "--json"], { cwd: root, env });
  assertEquals(r.code, 0);
  const doc = JSON.parse(r.stdout);
  assertEquals(Object.keys(doc), ["success", "message", "migrations", "dataLoss"]);
  assertEquals(doc.success, true);
  assertMatch(doc.message, /^Reversed 1 migration\(s\) in \d+ ms$/);
  const [m] = doc.migrations;
  assertEquals(Object.keys(m), ["app", "id", "description", "status", "durationMs", "sql"]);
  assertEquals([m.app, m.id, m.description, m.status], ["app", id(1), "Table t1", "reversed"]);
  assert(typeof m.durationMs === "number" && m.durationMs >= 0);
  assert(m.sql.includes('DROP TABLE "t1"'), m.sql.join("\n"));
});

eachBackend("backwards all: every app in reverse dependency order, after one confirmation", async ({ url }) => {
  const root = await makeProject({
    auth: { migrations: [table(1), table(2)] },
    blog: { migrations: [{ ...table(3), id: id(3) }, { ...table(4), id: id(4) }], dependsOn: ["auth"] },
  });
  const env = { TIDE_DATABASE_URL: url };
  assertEquals((await tide(["forwards", "all"], { cwd: root, env })).code, 0);
  const r = await tide(["backwards", "all", "--auto-agree", "--json"], { cwd: root, env });
  assertEquals(r.code, 0, r.stderr);
  assertEquals(JSON.parse(r.stdout).migrations.map((m: { app: string; id: string }) => `${m.app} ${m.id}`), [
    `blog ${id(4)}`,
    `blog ${id(3)}`,
    `auth ${id(2)}`,
    `auth ${id(1)}`,
  ]);
  assertEquals(await ran(url), []);
});
