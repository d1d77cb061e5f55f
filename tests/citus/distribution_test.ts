/**
 * Reversals on a Citus coordinator restore distribution: dropped distributed, colocated,
 * single-shard, reference and Citus-managed local tables come back as they were, compared in
 * a second session with Citus' own catalogs (pg_dist_partition, pg_dist_shard, citus_tables),
 * not with tide's capture. And the data-loss preflight counts the rows on the shards.
 */

import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { idOf } from "../helpers/backends.ts";
import { citusTest, distributionOf, sqlAt } from "../helpers/citus.ts";
import { makeProject, tide } from "../helpers/cli.ts";
import { DROPS, SCHEMA } from "./fixtures.ts";

/** Foreign keys, indexes and comments of the shells, from the coordinator's catalog. */
async function structure(url: string): Promise<string[]> {
  const rows = await sqlAt(
    url,
    `select conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid) as d from pg_constraint
      where connamespace = 'public'::regnamespace and contype in ('p', 'f', 'c', 'u')
     union all select indexrelid::regclass::text || ' ' || pg_get_indexdef(indexrelid) from pg_index
      where indrelid in (select oid from pg_class where relnamespace = 'public'::regnamespace)
     union all select 'comment ' || relname || ' ' || obj_description(oid, 'pg_class') from pg_class
      where relnamespace = 'public'::regnamespace and obj_description(oid, 'pg_class') is not null
     order by 1`,
  );
  // Shards placed on the coordinator (a local table's) have new shard ids: leave them out.
  return rows.map((r) => r.d as string).filter((d) => !/^\S+_\d+ /.test(d));
}

citusTest(
  "dropped distributed, colocated, single-shard, reference and local tables come back as they were",
  async ({ url }) => {
    const root = await makeProject({ app: { migrations: [SCHEMA, DROPS] } });
    const env = { TIDE_DATABASE_URL: url };
    let r = await tide(["forwards", "app", "1"], { cwd: root, env });
    assertEquals(r.code, 0, r.stderr);
    const before = await distributionOf(url);
    assertEquals(Object.keys(before).sort(), ["audit", "events", "loc", "plans", "sessions", "single", "solo"]);
    assertMatch(
      before.events!,
      /method=h column=tenant_id repmodel=s type=distributed shards=8 .*colocated=audit,events,sessions/,
    );
    const shape = await structure(url);

    r = await tide(["forwards", "app"], { cwd: root, env });
    assertEquals(r.code, 0, r.stderr);
    assertEquals(Object.keys(await distributionOf(url)), ["audit"]);

    // The plan says how each table comes back, and that the migration runs in sequential mode.
    r = await tide(["backwards", "app", "1", "--preview"], { cwd: root, env });
    assertEquals(r.code, 0, r.stderr);
    assertMatch(
      r.stdout,
      /-- note: distributes "events" again by "tenant_id" \(hash, 8 shards\), colocated with public.sessions, public.audit \(the first/,
    );
    assertMatch(r.stdout, /-- note: re-creates "plans" as a Citus reference table/);
    assertMatch(r.stdout, /SET LOCAL citus.multi_shard_modify_mode TO 'sequential';/);
    r = await tide(["backwards", "app", "1", "--auto-agree"], { cwd: root, env });
    assertEquals(r.code, 0, r.stderr);
    assertEquals(await distributionOf(url), before);
    assertEquals(await structure(url), shape);
    // Rows are not restored (the plan says so), but the tables work as distributed ones again.
    await sqlAt(
      url,
      "insert into plans values (1, 'p'); insert into sessions values (3, 1, 1); insert into events (tenant_id, session_id) values (3, 1)",
    );
    const [joined] = await sqlAt(
      url,
      "select count(*)::int as n from events e join sessions s on s.tenant_id = e.tenant_id and s.id = e.session_id join plans p on p.id = s.plan_id",
    );
    assertEquals(joined!.n, 1);
  },
);

citusTest(
  "a table whose colocation partners are all gone comes back in a new group with the same shard count",
  async ({ url }) => {
    const root = await makeProject({
      app: {
        migrations: [SCHEMA, {
          id: idOf(2),
          description: "Drop the whole colocation group",
          body: `  manager.dropTable("events");
  manager.addRaw("drop table audit", "create table audit (tenant_id int not null, at timestamptz default now()); select create_distributed_table('audit', 'tenant_id', colocate_with := 'none')");
  manager.dropTable("sessions");`,
        }],
      },
    });
    const env = { TIDE_DATABASE_URL: url };
    assertEquals((await tide(["forwards", "app"], { cwd: root, env })).code, 0);
    // sessions finds no partner left (events went first, audit was re-created elsewhere): a new
    // group of 8 shards; events joins sessions, the table its foreign key needs, not audit.
    const r = await tide(["backwards", "app", "1", "--auto-agree"], { cwd: root, env });
    assertEquals(r.code, 0, r.stderr);
    const after = await distributionOf(url);
    assertMatch(
      after.sessions!,
      /method=h column=tenant_id repmodel=s type=distributed shards=8 placements=8 colocated=events,sessions$/,
    );
    assertMatch(after.events!, /shards=8 placements=8 colocated=events,sessions$/);
    assertMatch(after.audit!, /colocated=audit$/);
  },
);

citusTest(
  "the preflight counts the rows on the shards, as select count(*) on the coordinator does",
  async ({ url }) => {
    const root = await makeProject({ app: { migrations: [SCHEMA, DROPS] } });
    const env = { TIDE_DATABASE_URL: url };
    assertEquals((await tide(["forwards", "app", "1"], { cwd: root, env })).code, 0);
    const [counts] = await sqlAt(
      url,
      `select (select count(*) from plans)::int as plans, (select count(*) from events)::int as events,
            (select count(*) from sessions)::int as sessions, (select count(*) from solo)::int as solo,
            (select count(*) from single)::int as single, (select count(*) from loc)::int as loc,
            (select pg_relation_size('events'))::int as shell`,
    );
    assertEquals(counts!.shell, 0); // the shell has no pages: the old preflight reported 0 rows
    assert(Number(counts!.events) > 100, JSON.stringify(counts));
    const r = await tide(["forwards", "app", "--forbid-data-loss", "--json"], { cwd: root, env });
    assertEquals(r.code, 1, r.stderr);
    const found = Object.fromEntries(
      (JSON.parse(r.stdout).dataLoss as { object: string; rows: number; estimated: boolean }[])
        .map((f) => [f.object.replace(/^table /, ""), f.rows]),
    );
    const { shell: _shell, ...expected } = counts!;
    assertEquals(found, expected);
    assertEquals(Object.keys(await distributionOf(url)).length, 7, "nothing was dropped");

    // Values of a dropped column and values a cast alters, on the shards, against the coordinator.
    const columns = await makeProject({
      app: {
        migrations: [SCHEMA, {
          id: idOf(2),
          description: "Drop a column, cast another",
          body: `  manager.dropColumn("events", "payload");
  manager.alterColumn("solo", "v", { type: "boolean", using: "v <> 0" });`,
        }],
      },
    });
    const [values] = await sqlAt(
      url,
      `select (select count(payload) from events)::int as payload,
              (select count(*) from solo where v::boolean::int is distinct from v)::int as cast`,
    );
    const c = await tide(["forwards", "app", "--forbid-data-loss", "--json"], { cwd: columns, env });
    assertEquals(c.code, 1, c.stderr);
    assertEquals(
      (JSON.parse(c.stdout).dataLoss as { object: string; rows: number }[]).map((f) => [f.object, f.rows]),
      [["column events.payload", values!.payload], ["cast solo.v to boolean", values!.cast]],
    );
    assert(Number(values!.payload) === 250 && Number(values!.cast) === 39, JSON.stringify(values));
  },
);

citusTest(
  "dropping a distribution column is refused at plan time, naming the table and what to do",
  async ({ url }) => {
    const root = await makeProject({
      app: {
        migrations: [SCHEMA, {
          id: idOf(2),
          description: "Drop the key",
          body: `  manager.dropColumn("audit", "tenant_id");`,
        }],
      },
    });
    const env = { TIDE_DATABASE_URL: url };
    assertEquals((await tide(["forwards", "app", "1"], { cwd: root, env })).code, 0);
    for (const extra of [[], ["--preview"]]) {
      const r = await tide(["forwards", "app", ...extra], { cwd: root, env });
      assertEquals(r.code, 1, r.stderr);
      assertMatch(
        r.stderr,
        /Cannot drop column "audit.tenant_id" \(migration app 2026-01-01T00:00:00:000002\): it is the distribution column of Citus table "audit".*undistribute_table.*Nothing was run/,
      );
    }
    const [row] = await sqlAt(url, "select count(*)::int as n from migration");
    assertEquals(row!.n, 1);
  },
);
