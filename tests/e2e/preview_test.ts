/**
 * `--preview` (SPEC 3): changes nothing anywhere, and its stdout is a SQL script that psql runs
 * to the same effect as the real command (compared on a twin database).
 */

import { tmpdir } from "node:os";
import { join } from "node:path";
import { snapshotCatalog } from "../../src/engine/catalog.ts";
import { assert, assertEquals, assertMatch, assertNotMatch } from "../helpers/assert.ts";
import { eachBackend, filesIn, history, idOf, postgresTest, tables, withDb } from "../helpers/backends.ts";
import { makeProject, runPsqlScript, tide } from "../helpers/cli.ts";
import { createPostgresDatabase } from "../helpers/databases.ts";

/** Migrations that exercise captures (drop, alter), raw steps and an index. */
const MIGRATIONS = [
  {
    id: idOf(1),
    description: "Band",
    body:
      `  manager.addTable("band", { id: "serial primary key", name: "varchar(100) not null", popularity: "int default 0 check (popularity >= 0)" });
  manager.addIndex("band", ["name"], { unique: true });
  manager.addRaw("insert into band (name) values ('Pythonistas')", "delete from band where name = 'Pythonistas'");`,
  },
  {
    id: idOf(2),
    description: "It's altered",
    body: `  manager.alterColumn("band", "name", { type: "text", nullable: true, default: "'x'" });
  manager.dropColumn("band", "popularity");
  manager.renameTable("band", "group");`,
  },
  {
    id: idOf(3),
    description: "Drop and add",
    body: `  manager.addTable("billing.invoice", { id: "int primary key" });
  manager.addColumn("group", "rating", "numeric(3, 1) not null default 1.5");
  manager.dropIndex("band_name_idx");`,
  },
];

async function projectWithSchema(): Promise<string> {
  const root = await makeProject({ app: { migrations: MIGRATIONS } });
  return root;
}

/** Everything a preview must leave alone: catalog, history rows with all their columns, files. */
async function state(url: string, root: string) {
  return {
    catalog: await withDb(url, (db) => snapshotCatalog(db)),
    history: await withDb(url, async (db) => {
      const exists = (await db.query<{ e: boolean }>("select to_regclass('migration') is not null as e"))[0]?.e;
      return exists
        ? await db.query("select id, name, app_name, ran_on::text, reversal::text from migration order by id")
        : null;
    }),
    files: await filesIn(join(root, "app", "migrations")),
  };
}

eachBackend("--preview changes nothing: no table on a fresh database, no rows, no DDL, no files", async ({ url }) => {
  const root = await projectWithSchema();
  await withDb(url, (db) => db.execute(["create schema billing"]));
  const env = { TIDE_DATABASE_URL: url };

  // Fresh database: forwards --preview neither runs anything nor creates the history table.
  const fresh = await state(url, root);
  let r = await tide(["forwards", "app", "--preview"], { cwd: root, env });
  assertEquals(r.code, 0, r.stderr);
  assertMatch(r.stdout, /CREATE TABLE "band"/);
  assertMatch(r.stdout, /INSERT INTO "migration"/);
  assertMatch(r.stderr, /Preview: would apply 3 migration\(s\)/);
  assertEquals(await state(url, root), fresh);
  assertEquals(await tables(url), []);
  r = await tide(["backwards", "app", "all", "--preview"], { cwd: root, env });
  assertEquals([r.code, r.stdout], [0, "No migrations to reverse\n"]);
  assertEquals(await state(url, root), fresh);

  assertEquals((await tide(["forwards", "app"], { cwd: root, env })).code, 0);
  const before = await state(url, root);
  assertEquals(before.history?.length, 3);
  // No TTY needed, and --clean deletes nothing in a preview.
  r = await tide(["backwards", "app", "all", "--preview", "--clean"], { cwd: root, env });
  assertEquals(r.code, 0, r.stderr);
  assertMatch(r.stderr, /Preview: would reverse 3 migration\(s\)/);
  assertEquals((r.stdout.match(/^BEGIN;$/gm) ?? []).length, 3);
  assertEquals((r.stdout.match(/^COMMIT;$/gm) ?? []).length, 3);
  assertEquals((r.stdout.match(/DELETE FROM "migration"/g) ?? []).length, 3);
  assertNotMatch(r.stdout, /Preview: would/);
  // --json: every migration previewed, with its SQL.
  const j = await tide(["backwards", "app", "2", "--preview", "--json"], { cwd: root, env });
  assertEquals(j.code, 0, j.stderr);
  const doc = JSON.parse(j.stdout);
  assertEquals(doc.success, true);
  assertEquals(doc.migrations.map((m: { id: string; status: string }) => [m.id, m.status]), [
    [idOf(3), "previewed"],
    [idOf(2), "previewed"],
  ]);
  assert(doc.migrations[0].sql.some((s: string) => /DROP TABLE "billing"\."invoice"/.test(s)), doc.migrations[0].sql);
  // forwards --preview with nothing pending, and with --fake.
  r = await tide(["forwards", "app", "--preview", "--fake"], { cwd: root, env });
  assertEquals(r.code, 0, r.stderr);
  assertEquals(await state(url, root), before);
});

// Embedded only: a server database always exists (the test above is its PostgreSQL half).
Deno.test("--preview on an embedded database that does not exist yet creates nothing [pglite]", async () => {
  const dir = join(await Deno.makeTempDir({ dir: tmpdir() }), "db");
  const root = await projectWithSchema();
  const r = await tide(["forwards", "app", "--preview", "--database-url", `pglite:${dir}`], { cwd: root });
  assertEquals(r.code, 0, r.stderr);
  assertMatch(r.stdout, /CREATE TABLE "band"/);
  assertEquals(await Deno.stat(dir).then(() => true, () => false), false);
  // And the default database (.tide/pglite next to tide.json) is not created either.
  const d = await tide(["backwards", "app", "--preview"], { cwd: root });
  assertEquals([d.code, d.stdout], [0, "No migrations to reverse\n"], d.stderr);
  assertEquals(await Deno.stat(join(root, ".tide")).then(() => true, () => false), false);
});

/** Catalog and history rows (without the serial id and the time) of a database. */
async function outcome(url: string) {
  return await withDb(url, async (db) => ({
    catalog: await snapshotCatalog(db),
    history: (await db.query<{ to_regclass: string | null }>("select to_regclass('migration')::text"))[0]?.to_regclass
      ? await db.query(
        "select name, app_name, description, checksum, reversal::text as reversal from migration order by name",
      )
      : null,
  }));
}

postgresTest("the preview script, run by psql, has the effect of the real run on a twin database", async (a) => {
  const twin = await createPostgresDatabase();
  const b = twin.url;
  try {
    const root = await projectWithSchema();
    for (const url of [a, b]) await withDb(url, (db) => db.execute(["create schema billing"]));

    // A preview of all three cannot capture what migration 2 drops and alters (migration 1
    // creates it): it must say so, on stderr and in the script.
    const all = await tide(["forwards", "app", "--preview", "--database-url", a], { cwd: root });
    assertEquals(all.code, 0, all.stderr);
    assertMatch(all.stderr, new RegExp(`warning: app ${idOf(2)}: .*does not exist yet`));
    assertMatch(all.stdout, /-- warning: .*does not exist yet/);

    // forwards, one migration at a time: psql runs A's preview on A; tide runs for real on B.
    for (let n = 1; n <= 3; n++) {
      const f = await tide(["forwards", "app", "1", "--preview", "--database-url", a], { cwd: root });
      assertEquals(f.code, 0, f.stderr);
      assertNotMatch(f.stderr, /warning/);
      assertEquals((await history(a)).length, n - 1);
      await runPsqlScript(a, f.stdout);
      assertEquals((await tide(["forwards", "app", "1", "--database-url", b], { cwd: root })).code, 0);
      const forwardsA = await outcome(a);
      assertEquals(forwardsA, await outcome(b), `forwards, migration ${n}`);
      assertEquals(forwardsA.history?.length, n);
    }
    assert(Object.keys(await withDb(a, (db) => snapshotCatalog(db))).includes('table public."group"'));

    for (const target of ["1", "all"]) {
      const p = await tide(["backwards", "app", target, "--preview", "--database-url", a], { cwd: root });
      assertEquals(p.code, 0, p.stderr);
      // Nothing changed by the preview itself.
      assertEquals(await outcome(a), await outcome(b));
      await runPsqlScript(a, p.stdout);
      const real = await tide(["backwards", "app", target, "-y", "--database-url", b], { cwd: root });
      assertEquals(real.code, 0, real.stderr);
      assertEquals(await outcome(a), await outcome(b), `backwards ${target}`);
    }
    const end = await outcome(a);
    assertEquals(end.history, []);
    assertEquals(Object.keys(end.catalog).filter((k) => !k.includes("migration")), ["schema billing", "schema public"]);

    // A database brought forwards by psql is an ordinary tide database: tide reverses it.
    const f2 = await tide(["forwards", "app", "1", "--preview", "--database-url", a], { cwd: root });
    await runPsqlScript(a, f2.stdout);
    const back = await tide(["backwards", "app", "all", "-y", "--database-url", a], { cwd: root });
    assertEquals(back.code, 0, back.stderr);
    assertEquals(await outcome(a), end);
  } finally {
    await twin.drop();
  }
});
