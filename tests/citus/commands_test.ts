/**
 * The rest of tide on a Citus coordinator as on a single server: two concurrent runs (the
 * advisory lock), CREATE INDEX CONCURRENTLY on a distributed table, check, the --preview script
 * run by psql on the coordinator against a real run on a twin database, and verify on a
 * scratch database that is distributed too.
 */

import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { idOf } from "../helpers/backends.ts";
import { citusTest, createCitusDatabase, distributionOf, sqlAt } from "../helpers/citus.ts";
import { makeProject, runPsqlScript, tide } from "../helpers/cli.ts";
import { DROPS, INDEPENDENT_DROPS, SCHEMA } from "./fixtures.ts";

const CONCURRENT_INDEX = {
  id: idOf(3),
  description: "Index events concurrently",
  body: `  manager.addIndex("events", ["tenant_id", "payload"], { name: "events_payload_idx", concurrently: true });`,
};

/** Per shard of `table`, whether the index is there and valid, from the shards' own catalogs. */
async function indexOnShards(url: string, table: string, index: string): Promise<string[]> {
  const rows = await sqlAt(
    url,
    `select result from run_command_on_shards('${table}', $$
       select coalesce(string_agg(indisvalid::text, ','), 'none') from pg_index
        where indrelid = '%s'::regclass and indexrelid::regclass::text like '${index}%%' $$) order by shardid`,
  );
  return rows.map((r) => r.result as string);
}

async function historyRows(url: string): Promise<string[]> {
  const rows = await sqlAt(url, "select app_name || ' ' || name as r from migration order by ran_on, name");
  return rows.map((r) => r.r as string);
}

citusTest(
  "two concurrent runs on the coordinator: each migration runs once, CONCURRENTLY included; check agrees",
  async ({ url }) => {
    const root = await makeProject({ app: { migrations: [SCHEMA, CONCURRENT_INDEX] } });
    const env = { TIDE_DATABASE_URL: url };
    const runs = await Promise.all([1, 2].map(() => tide(["forwards", "app"], { cwd: root, env })));
    // The one that waited for the lock finds the history changed: nothing run, exit 1.
    for (const r of runs) {
      assert(r.code === 0 || /another run went first\); nothing was run/.test(r.stderr), r.stderr);
    }
    assert(runs.some((r) => r.code === 0));
    const applied = runs.map((r) => r.stdout + r.stderr).join("\n").match(/applied\s+app/g) ?? [];
    assertEquals(applied.length, 2, runs.map((r) => r.stderr).join("\n"));
    assertEquals(await historyRows(url), [`app ${idOf(1)}`, `app ${idOf(3)}`]);
    assertEquals(await indexOnShards(url, "events", "events_payload_idx"), Array(8).fill("true"));

    const check = await tide(["check", "--json"], { cwd: root, env });
    assertEquals(check.code, 0, check.stderr);
    assertEquals((JSON.parse(check.stdout) as { hasRan: boolean }[]).map((s) => s.hasRan), [true, true]);

    const back = await Promise.all(
      [1, 2].map(() => tide(["backwards", "app", "1", "--auto-agree"], { cwd: root, env })),
    );
    const reversed = back.map((r) => r.stdout + r.stderr).join("\n").match(/reversed\s+app/g) ?? [];
    // The second run either waited and found the plan changed (exit 1, nothing run) or reversed the next one.
    assert(reversed.length >= 1, back.map((r) => r.stderr).join("\n"));
    assertEquals(await historyRows(url), reversed.length === 1 ? [`app ${idOf(1)}`] : []);
    assertEquals(
      await indexOnShards(url, "events", "events_payload_idx").catch(() => []),
      reversed.length === 1 ? Array(8).fill("none") : [],
    );
  },
);

/** What must be equal on the twins: distribution, shells' structure, history rows. */
async function outcome(url: string) {
  const structure = await sqlAt(
    url,
    `select conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid) as d from pg_constraint
      where connamespace = 'public'::regnamespace and conrelid::regclass::text !~ '_[0-9]+$'
     union all select indexrelid::regclass::text || ' ' || pg_get_indexdef(indexrelid) from pg_index
      where indrelid in (select oid from pg_class where relnamespace = 'public'::regnamespace)
        and indrelid::regclass::text !~ '_[0-9]+$'
     order by 1`,
  );
  return {
    distribution: await distributionOf(url),
    structure: structure.map((r) => r.d),
    history: await sqlAt(
      url,
      "select app_name, name, description, checksum, reversal::text from migration order by name",
    ),
  };
}

citusTest("the --preview script, run by psql on the coordinator, does what the real run does on a twin", async (a) => {
  const b = await createCitusDatabase();
  try {
    const root = await makeProject({ app: { migrations: [SCHEMA, INDEPENDENT_DROPS] } });
    for (const direction of ["forwards", "backwards"] as const) {
      for (const step of ["1", "1"]) {
        const args = direction === "forwards" ? ["forwards", "app", step] : ["backwards", "app", step];
        const preview = await tide([...args, "--preview"], { cwd: root, env: { TIDE_DATABASE_URL: a.url } });
        assertEquals(preview.code, 0, preview.stderr);
        await runPsqlScript(a.url, preview.stdout, /ERROR/); // Citus may warn (e.g. about sequential mode)
        const real = await tide([...args, ...(direction === "backwards" ? ["--auto-agree"] : [])], {
          cwd: root,
          env: { TIDE_DATABASE_URL: b.url },
        });
        assertEquals(real.code, 0, real.stderr);
        const [oa, ob] = [await outcome(a.url), await outcome(b.url)];
        // reversal JSON holds nothing database-specific; ran_on is left out.
        assertEquals(oa, ob, `${direction} ${step}`);
      }
    }
    assertEquals(Object.keys((await outcome(a.url)).distribution), []);
  } finally {
    await b.drop();
  }
});

citusTest(
  "verify round-trips on a distributed scratch database (all nodes) and leaves none behind",
  async ({ url, workerUrls, name }) => {
    const root = await makeProject({ app: { migrations: [SCHEMA, DROPS] } });
    const r = await tide(["verify", "app"], { cwd: root, env: { TIDE_DATABASE_URL: url } });
    assertEquals(r.code, 0, r.stdout + r.stderr);
    assertMatch(
      r.stderr,
      /Verifying on temporary distributed database tide_verify_\w+ on 127.0.0.1:\d+ and 2 worker\(s\)/,
    );
    assertMatch(r.stdout, /2 migration\(s\) round-trip exactly/);
    for (const node of [url, ...workerUrls]) {
      const rows = await sqlAt(node, "select datname from pg_database where datname like 'tide_verify_%'");
      assertEquals(rows, [], node);
    }
    // Nothing of it reached the user's database.
    assertEquals((await sqlAt(url, "select to_regclass('plans') as t"))[0]!.t, null, name);
  },
);

citusTest("verify says why it cannot make a distributed scratch database, and what it needs", async ({ url, name }) => {
  const role = `${name}_r`;
  // A user without CREATEDB (Citus propagates the role to the workers).
  await sqlAt(
    url,
    `create role ${role} login; grant all on database ${name} to ${role}; grant all on schema public to ${role}`,
  );
  try {
    const root = await makeProject({ app: { migrations: [SCHEMA] } });
    const as = url.replace("postgres://postgres@", `postgres://${role}@`);
    const r = await tide(["verify", "app"], { cwd: root, env: { TIDE_DATABASE_URL: as } });
    assertEquals(r.code, 1, r.stdout + r.stderr);
    assertMatch(
      r.stderr,
      /tide verify needs a scratch database with Citus on the coordinator and on each of its 2 worker\(s\), and could not create database tide_verify_\w+ on the coordinator: permission denied to create.*allowed to create databases on every node/,
    );
  } finally {
    await sqlAt(url, `drop owned by ${role}; drop role ${role}`).catch(() => {});
  }
});
