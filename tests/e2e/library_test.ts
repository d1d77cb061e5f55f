/**
 * The library API of SPEC 5, used from code: runBackwards, BackwardsMigrationManager,
 * CheckMigrationManager.
 */

import { join } from "node:path";
import { BackwardsMigrationManager, CheckMigrationManager, runBackwards } from "../../src/mod.ts";
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { eachBackend, history } from "../helpers/backends.ts";
import { makeProject, tide } from "../helpers/cli.ts";

const migrations = [1, 2, 3].map((n) => ({
  id: `2026-01-01T00:00:00:00000${n}`,
  description: `Table t${n}`,
  body: `  manager.addTable("t${n}", { id: "int" });`,
}));

eachBackend("runBackwards(), BackwardsMigrationManager and CheckMigrationManager work from code", async ({ url }) => {
  const root = await makeProject({ app: { migrations } });
  assertEquals((await tide(["forwards", "app"], { cwd: root, env: { TIDE_DATABASE_URL: url } })).code, 0);
  const config = join(root, "tide.json");

  const statuses = await new CheckMigrationManager("app", { config, databaseUrl: url }).getMigrationStatuses();
  assertEquals(
    statuses.map((s) => [s.appName, s.migrationId, s.description, s.hasRan]),
    migrations.map((m) => ["app", m.id, m.description, true]),
  );

  const preview = await runBackwards({ appName: "app", preview: true, config, databaseUrl: url });
  assertEquals(preview.success, true);
  assertMatch(preview.script!, /BEGIN;[\s\S]*DROP TABLE "t3";[\s\S]*COMMIT;/);
  assertEquals((await history(url)).length, 3);

  // No terminal to ask on: refused, not hung, and nothing changed.
  const refused = await runBackwards({ appName: "app", config, databaseUrl: url });
  assertEquals(refused.success, false);
  assertMatch(refused.message!, /--auto-agree/);
  assertEquals((await history(url)).length, 3);

  const one = await runBackwards({ appName: "app", migrationId: "1", autoAgree: true, config, databaseUrl: url });
  assertEquals([one.success, one.message], [true, "Reversed 1 migration(s)"]);
  assertEquals(one.migrations?.map((m) => [m.id, m.status]), [[migrations[2]!.id, "reversed"]]);

  const manager = new BackwardsMigrationManager({
    appName: "app",
    migrationId: "all",
    autoAgree: true,
    config,
    databaseUrl: url,
  });
  const rest = await manager.runMigrationsBackwards({ name: "app" });
  assertEquals(rest.migrations?.map((m) => m.id), [migrations[1]!.id, migrations[0]!.id]);
  assertEquals(await history(url), []);

  const unknown = await runBackwards({ appName: "nope", autoAgree: true, config, databaseUrl: url });
  assertEquals(unknown.success, false);
  assertMatch(unknown.message!, /Unknown app "nope"/);
  const none = await runBackwards({ appName: "app", autoAgree: true, config, databaseUrl: url });
  assertEquals([none.success, none.message], [true, "No migrations to reverse"]);
  assert(!JSON.stringify(none).includes("undefined"));
});
