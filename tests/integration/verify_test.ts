/**
 * verify: a round trip per migration on a scratch database catches reversals that do not
 * restore the schema, and leaves the user's database alone.
 */

import { loadConfig } from "../../src/config.ts";
import { snapshotCatalog } from "../../src/engine/catalog.ts";
import { makeSession } from "../../src/engine/session.ts";
import { verify } from "../../src/engine/verify.ts";
import { assertEquals, assertMatch } from "../helpers/assert.ts";
import { makeProject } from "../helpers/cli.ts";
import { eachDatabase } from "../helpers/databases.ts";

const base = {
  id: "2026-01-01T00:00:00:000001",
  body: `  manager.addTable("band", { id: "serial primary key", name: "text", pop: "int default 1" });
  manager.addIndex("band", ["name"], { name: "band_name_idx" });`,
};

eachDatabase("verify() passes exact reversals and reports one that loses an index or changes a default", async (t) => {
  const root = await makeProject({
    music: {
      migrations: [
        base,
        {
          id: "2026-01-01T00:00:00:000002",
          body: `  manager.dropColumn("band", "pop");\n  manager.alterColumn("band", "name", { type: "varchar(50)" });`,
        },
        {
          id: "2026-01-01T00:00:00:000003",
          body: `  manager.addRaw("drop index if exists band_name_idx", "select 1");`,
        },
        {
          id: "2026-01-01T00:00:00:000004",
          body:
            `  manager.addRaw("create index band_name_idx on band (name)", "drop index band_name_idx");\n  manager.addRaw("alter table band alter column name set default 'x'", "alter table band alter column name set default 'y'");`,
        },
      ],
    },
  });
  const session = makeSession(await loadConfig("tide.json", root), t.db, t.url);
  const live = await snapshotCatalog(t.db);
  const result = await verify(session, { app: "music", target: { kind: "all" } });
  assertEquals(result.success, false);
  assertEquals(result.migrations.map((m) => m.status), ["ok", "ok", "differs", "differs"]);
  assertEquals(result.migrations[2]!.differences, [
    { object: "index public.band_name_idx", attribute: "exists", before: "yes", after: null },
  ]);
  assertEquals(result.migrations[3]!.differences.map((d) => [d.object, d.attribute, d.before, d.after]), [
    ["column public.band.name", "default", "", "'y'::character varying"],
  ]);
  // The user's database was never touched.
  assertEquals(await snapshotCatalog(t.db), live);
  if (t.kind === "postgres") assertMatch(result.scratch, /^temporary database tide_verify_/);
});

eachDatabase("verify() of one ID applies what comes before and checks only that one", async (t) => {
  const root = await makeProject({
    music: {
      migrations: [
        base,
        { id: "2026-01-01T00:00:00:000002", body: `  manager.addRaw("insert into band (name) values ('x')");` },
        { id: "2026-01-01T00:00:00:000003", body: `  manager.renameColumn("band", "name", "title");` },
      ],
    },
  });
  const session = makeSession(await loadConfig("tide.json", root), t.db, t.url);
  const one = await verify(session, { app: "music", target: { kind: "id", id: "2026-01-01T00:00:00:000003" } });
  assertEquals(one.migrations.map((m) => m.status), ["applied", "applied", "ok"]);
  assertEquals(one.success, true);
  const all = await verify(session, { app: "music", target: { kind: "all" } });
  assertEquals(all.migrations.map((m) => m.status), ["ok", "irreversible"]);
  assertMatch(all.migrations[1]!.error!, /has no backwards/);
});
