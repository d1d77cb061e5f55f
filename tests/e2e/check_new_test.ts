/**
 * `tide check` and `tide new` end to end (SPEC 3, 1.3).
 */

import { readFile, rm, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { eachBackend, filesIn, history, idOf, tableMigration, tables } from "../helpers/backends.ts";
import { makeProject, tide } from "../helpers/cli.ts";

eachBackend("check: one row per file and per orphan history row, table and --json", async ({ url }) => {
  const root = await makeProject({
    app: { migrations: [1, 2, 3].map((n) => tableMigration(n)) },
    other: { migrations: [tableMigration(4)] },
  });
  const env = { TIDE_DATABASE_URL: url };

  // On a fresh database: nothing ran, and check creates no history table.
  let r = await tide(["check"], { cwd: root, env });
  assertEquals(r.code, 0, r.stderr);
  assertEquals(await tables(url), []);
  const lines = r.stdout.trimEnd().split("\n");
  assertMatch(lines[0]!, /^APP +ID +DESCRIPTION +RAN$/);
  assertEquals(lines.length, 5);
  assertMatch(r.stdout, new RegExp(`app +${idOf(1)} +Create t1 +no`));

  assertEquals((await tide(["forwards", "app", "2"], { cwd: root, env })).code, 0);
  // The file of a run migration is deleted: its history row is still listed, marked.
  await rm(join(root, "app", "migrations", "2026_01_01T00_00_00_000002_m.ts"));
  r = await tide(["check"], { cwd: root, env });
  assertEquals(r.code, 0, r.stderr);
  assertMatch(r.stdout, new RegExp(`app +${idOf(1)} +Create t1 +yes\\n`));
  assertMatch(r.stdout, new RegExp(`app +${idOf(2)} +Create t2 +yes \\(file missing`));
  assertMatch(r.stdout, new RegExp(`app +${idOf(3)} +Create t3 +no\\n`));
  assertMatch(r.stdout, new RegExp(`other +${idOf(4)} +Create t4 +no\\n`));

  r = await tide(["check", "--json"], { cwd: root, env });
  assertEquals(r.code, 0, r.stderr);
  const statuses = JSON.parse(r.stdout) as Record<string, unknown>[];
  assert(Array.isArray(statuses));
  assertEquals(
    statuses.map((s) => [s.appName, s.migrationId, s.description, s.hasRan, s.fileMissing]),
    [
      ["app", idOf(1), "Create t1", true, false],
      ["app", idOf(2), "Create t2", true, true],
      ["app", idOf(3), "Create t3", false, false],
      ["other", idOf(4), "Create t4", false, false],
    ],
  );

  // check <app>: that app only; an unknown app: exit 1.
  r = await tide(["check", "other", "--json"], { cwd: root, env });
  assertEquals(JSON.parse(r.stdout).map((s: { migrationId: string }) => s.migrationId), [idOf(4)]);
  r = await tide(["check", "nope"], { cwd: root, env });
  assertEquals(r.code, 1);
  assertMatch(r.stderr, /Unknown app "nope"/);
});

eachBackend("new: Piccolo's ID format, the file name from it, later IDs sort later, and it runs", async ({ url }) => {
  const root = await makeProject({ app: { migrations: [] } });
  const dir = join(root, "app", "migrations");
  const env = { TIDE_DATABASE_URL: url };
  const r = await tide(["new", "app", "--desc", "Add the Band table!"], { cwd: root, env });
  assertEquals(r.code, 0, r.stderr);
  const path = r.stdout.trim();
  assertEquals(await filesIn(dir), [basename(path)]);
  const text = await readFile(path, "utf8");
  const id = /export const ID = "([^"]+)"/.exec(text)?.[1];
  assert(id, text);
  assertMatch(id, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d:\d{6}$/);
  assertEquals(basename(path), `${id.replace(/[:-]/g, "_")}_add_the_band_table.ts`);
  assertMatch(text, /export const DESCRIPTION = "Add the Band table!"/);
  // Close to now (UTC).
  const when = Date.parse(`${id.slice(0, 19)}Z`);
  assert(Math.abs(when - Date.now()) < 120_000, id);

  // Several in a row: distinct, increasing IDs; without --desc a default slug.
  const more: string[] = [];
  for (let i = 0; i < 3; i++) {
    const m = await tide(["new", "app"], { cwd: root, env });
    assertEquals(m.code, 0, m.stderr);
    more.push(/export const ID = "([^"]+)"/.exec(await readFile(m.stdout.trim(), "utf8"))![1]!);
  }
  assertEquals([...new Set([id, ...more])].sort(), [id, ...more]);
  assertEquals((await filesIn(dir)).length, 4);

  // The template runs as it is (no operations), and with an operation added.
  await writeFile(
    path,
    text.replace("return manager;", `manager.addTable("band", { id: "serial primary key" });\n  return manager;`),
  );
  const f = await tide(["forwards", "app"], { cwd: root, env });
  assertEquals(f.code, 0, f.stderr);
  assertEquals(await history(url), [id, ...more].map((i) => `app ${i}`));
  assertEquals(await tables(url), ["band", "migration"]);
  const c = await tide(["check", "--json"], { cwd: root, env });
  assertEquals(JSON.parse(c.stdout).map((s: { hasRan: boolean }) => s.hasRan), [true, true, true, true]);

  // new for an unknown app: exit 1, nothing written.
  const bad = await tide(["new", "nope"], { cwd: root, env });
  assertEquals(bad.code, 1);
  assertEquals((await filesIn(dir)).length, 4);
});

eachBackend("check reads without importing: IDs from names, descriptions from history or text", async ({ url }) => {
  const root = await makeProject({ app: { migrations: [1, 2].map((n) => tableMigration(n)) } });
  const dir = join(root, "app", "migrations");
  const env = { TIDE_DATABASE_URL: url };
  assertEquals((await tide(["forwards", "app"], { cwd: root, env })).code, 0);
  // Run, then edited: the description it ran with, and "changed since it ran".
  const first = join(dir, "2026_01_01T00_00_00_000001_m.ts");
  await writeFile(first, (await readFile(first, "utf8")).replace('"Create t1"', '"Renamed"'));
  // A module that fails when imported: check still lists it, from its text.
  await writeFile(
    join(dir, "2026_01_01T00_00_00_000003_m.ts"),
    `export const ID = "${idOf(3)}";\nexport const DESCRIPTION = 'it\\'s \`3\`';\n` +
      `throw new Error("imported!");\nexport async function forwards({ manager }) { return manager; }\n`,
  );
  // A description only JavaScript can compute: imported, as before.
  await writeFile(
    join(dir, "2026_01_01T00_00_00_000004_m.ts"),
    `export const ID = "${idOf(4)}";\nexport const DESCRIPTION = ["four", "computed"].join(" ");\n` +
      `export async function forwards({ manager }) { return manager; }\n`,
  );
  const r = await tide(["check", "--json"], { cwd: root, env });
  assertEquals(r.code, 0, r.stderr);
  const statuses = JSON.parse(r.stdout) as Record<string, unknown>[];
  assertEquals(
    statuses.map((s) => [s.migrationId, s.description, s.hasRan, s.changedSinceRun]),
    [
      [idOf(1), "Create t1", true, true],
      [idOf(2), "Create t2", true, false],
      [idOf(3), "it's `3`", false, false],
      [idOf(4), "four computed", false, false],
    ],
  );
  // A name and an exported ID that disagree: the import that settles it says so.
  await writeFile(
    join(dir, "2026_01_01T00_00_00_000005_m.ts"),
    `export const ID = "${idOf(6)}";\nexport async function forwards({ manager }) { return manager; }\n`,
  );
  const bad = await tide(["check"], { cwd: root, env });
  assertEquals(bad.code, 1);
  assertMatch(bad.stderr, /exports ID .* but its name says/);
});
