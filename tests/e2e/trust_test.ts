/**
 * Rollback you can trust, through the CLI: data-loss preflight and its gate, rollback without
 * the migration file, and drift (a file edited after it ran).
 */

import { readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { snapshotCatalog } from "../../src/engine/catalog.ts";
import { assertEquals, assertMatch, assertNotMatch } from "../helpers/assert.ts";
import { makeProject, tide } from "../helpers/cli.ts";
import { eachBackend, withDb } from "../helpers/backends.ts";

const BAND = {
  id: "2026-01-01T00:00:00:000001",
  description: "Create band",
  body: `  manager.addTable("band", { id: "serial primary key", name: "text not null" });
  manager.addTable("empty", { id: "int" });`,
};
const GENRE = {
  id: "2026-01-01T00:00:00:000002",
  description: "Genre and index",
  body: `  manager.addColumn("band", "genre", "text default 'rock'");
  manager.addIndex("band", ["genre"]);
  manager.alterColumn("band", "name", { type: "varchar(200)" });`,
};

eachBackend(
  "data-loss preflight: --forbid-data-loss refuses, --auto-agree proceeds and reports, counts are real",
  async ({ url }) => {
    const root = await makeProject({ music: { migrations: [BAND] } });
    const env = { TIDE_DATABASE_URL: url };
    assertEquals((await tide(["forwards", "all"], { cwd: root, env })).code, 0);
    await withDb(url, (db) => db.execute(["insert into band (name) select 'b' || g from generate_series(1, 10000) g"]));

    const refused = await tide(["backwards", "music", "--forbid-data-loss", "-y", "--json"], { cwd: root, env });
    assertEquals(refused.code, 1);
    const doc = JSON.parse(refused.stdout);
    assertEquals(doc.success, false);
    assertEquals(doc.dataLoss.map((d: { object: string; rows: number }) => [d.object, d.rows]), [[
      "table band",
      10000,
    ]]);
    assertMatch(refused.stderr, /music 2026-01-01T00:00:00:000001: table band: 10000 row\(s\)/);
    await withDb(
      url,
      async (db) => assertEquals((await db.query("select count(*)::int as n from band"))[0], { n: 10000 }),
    );

    // The same gate from tide.json.
    const config = JSON.parse(await readFile(join(root, "tide.json"), "utf8"));
    await writeFile(join(root, "tide.json"), JSON.stringify({ ...config, forbidDataLoss: true }));
    assertEquals((await tide(["backwards", "music", "-y"], { cwd: root, env })).code, 1);
    await writeFile(join(root, "tide.json"), JSON.stringify(config));

    const preview = await tide(["backwards", "music", "--preview"], { cwd: root, env });
    assertMatch(preview.stdout, /-- data loss: table band: 10000\n/);

    const agreed = await tide(["backwards", "music", "-y", "--json"], { cwd: root, env });
    assertEquals(agreed.code, 0);
    const done = JSON.parse(agreed.stdout);
    assertEquals(done.migrations[0].status, "reversed");
    assertEquals(done.dataLoss.map((d: { object: string; rows: number }) => [d.object, d.rows]), [[
      "table band",
      10000,
    ]]);
    assertMatch(agreed.stderr, /Data that this plan destroys[\s\S]*table band: 10000/);
  },
);

eachBackend(
  "backwards after the file is deleted reproduces the schema exactly, from the history row",
  async ({ url }) => {
    const root = await makeProject({ music: { migrations: [BAND, GENRE] } });
    const env = { TIDE_DATABASE_URL: url };
    assertEquals((await tide(["forwards", "music", "1"], { cwd: root, env })).code, 0);
    const before = await withDb(url, (db) => snapshotCatalog(db, ["public.migration"]));
    assertEquals((await tide(["forwards", "music"], { cwd: root, env })).code, 0);
    await rm(join(root, "music", "migrations", "2026_01_01T00_00_00_000002_m.ts"));

    const check = await tide(["check", "--json"], { cwd: root, env });
    const missing = JSON.parse(check.stdout).find((s: { migrationId: string }) => s.migrationId === GENRE.id);
    assertEquals([missing.fileMissing, missing.hasRan, missing.reversibleFromHistory], [true, true, true]);
    assertMatch((await tide(["check"], { cwd: root, env })).stdout, /yes \(file missing, reversible from history\)/);

    const back = await tide(["backwards", "music", "-y"], { cwd: root, env });
    assertEquals(back.code, 0, back.stderr);
    assertMatch(back.stderr, /file of migration 2026-01-01T00:00:00:000002 is gone; reversing it from its history row/);
    assertEquals(await withDb(url, (db) => snapshotCatalog(db, ["public.migration"])), before);
  },
);

eachBackend(
  "a file with function steps that is gone needs the source: check says so, backwards refuses",
  async ({ url }) => {
    const fn = {
      id: "2026-01-01T00:00:00:000002",
      body:
        `  manager.addRaw(async (db) => { await db.query("select 1"); }, async (db) => { await db.query("select 2"); });`,
    };
    const root = await makeProject({ music: { migrations: [BAND, fn] } });
    const env = { TIDE_DATABASE_URL: url };
    assertEquals((await tide(["forwards", "music"], { cwd: root, env })).code, 0);
    await rm(join(root, "music", "migrations", "2026_01_01T00_00_00_000002_m.ts"));
    assertMatch((await tide(["check"], { cwd: root, env })).stdout, /yes \(file missing, needs the source\)/);
    const back = await tide(["backwards", "music", "-y"], { cwd: root, env });
    assertEquals(back.code, 1);
    assertMatch(back.stderr, /file of migration "2026-01-01T00:00:00:000002" is missing .*restore the file/);
  },
);

eachBackend(
  "a file edited after it ran: check flags it, backwards reverses what was applied and warns",
  async ({ url }) => {
    const root = await makeProject({ music: { migrations: [BAND, GENRE] } });
    const env = { TIDE_DATABASE_URL: url };
    assertEquals((await tide(["forwards", "music", "1"], { cwd: root, env })).code, 0);
    const before = await withDb(url, (db) => snapshotCatalog(db, ["public.migration"]));
    assertEquals((await tide(["forwards", "music"], { cwd: root, env })).code, 0);
    const path = join(root, "music", "migrations", "2026_01_01T00_00_00_000002_m.ts");
    // The edit renames the column and index: reversing the edited file would drop the wrong things.
    await writeFile(path, (await readFile(path, "utf8")).replaceAll("genre", "style"));
    assertMatch((await tide(["check"], { cwd: root, env })).stdout, /yes \(file changed since it ran\)/);
    const back = await tide(["backwards", "music", "-y"], { cwd: root, env });
    assertEquals(back.code, 0, back.stderr);
    assertMatch(back.stderr, /changed since it ran; reversing what was applied/);
    assertNotMatch(back.stderr, /style/);
    assertEquals(await withDb(url, (db) => snapshotCatalog(db, ["public.migration"])), before);
  },
);
