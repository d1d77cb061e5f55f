/**
 * tide on the coordinator of a real Citus cluster: DDL tide sends there reaches every shard,
 * and what a reversal re-adds (a dropped column, a dropped index) comes back on every shard.
 * The shards are read with run_command_on_shards, in a session of the test's own.
 */

import { assert, assertEquals } from "../helpers/assert.ts";
import { idOf } from "../helpers/backends.ts";
import { citusTest, sqlAt } from "../helpers/citus.ts";
import { makeProject, tide } from "../helpers/cli.ts";

const CREATE_EVENTS = {
  id: idOf(1),
  description: "Distributed events",
  body: `  manager.addRaw(
    "create table events (tenant_id int not null, id bigint not null, session_id int, " +
      "payload text default 'none' check (payload <> ''), primary key (tenant_id, id))",
    "drop table events",
  );
  manager.addRaw("select create_distributed_table('events', 'tenant_id', shard_count := 4)");
  manager.addRawBackwards("drop table if exists events");
  manager.addIndex("events", ["tenant_id", "session_id"], { name: "events_session_idx" });
  manager.addRaw("insert into events select g % 7, g, g, 'p' || g from generate_series(1, 50) g", "select 1");`,
};

/** Per shard (by shard id): its columns and its indexes, as the shard's own catalog says. */
async function shards(url: string, table: string): Promise<Record<string, string>> {
  const columns = await sqlAt(
    url,
    `select shardid::text as id, result from run_command_on_shards('${table}', $$
       select string_agg(attname || ' ' || format_type(atttypid, atttypmod) || ' notnull=' || attnotnull
                         || ' default=' || coalesce(pg_get_expr(d.adbin, d.adrelid), ''), ', ' order by attname)
         from pg_attribute a left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
        where a.attrelid = '%s'::regclass and a.attnum > 0 and not a.attisdropped $$) order by 1`,
  );
  const indexes = await sqlAt(
    url,
    `select shardid::text as id, result from run_command_on_shards('${table}', $$
       select string_agg(regexp_replace(pg_get_indexdef(indexrelid), '_[0-9]+', '_N', 'g'), '; ' order by 1)
         from pg_index where indrelid = '%s'::regclass $$) order by 1`,
  );
  const checks = await sqlAt(
    url,
    `select shardid::text as id, result from run_command_on_shards('${table}', $$
       select string_agg(pg_get_constraintdef(oid), '; ' order by 1) from pg_constraint
        where conrelid = '%s'::regclass and contype = 'c' $$) order by 1`,
  );
  return Object.fromEntries(columns.map((c, i) => [
    c.id as string,
    `columns: ${c.result} | indexes: ${indexes[i]!.result} | checks: ${checks[i]!.result}`,
  ]));
}

citusTest("a dropped column and a dropped index come back on every shard of a distributed table", async ({ url }) => {
  const root = await makeProject({
    app: {
      migrations: [CREATE_EVENTS, {
        id: idOf(2),
        description: "Drop payload and an index",
        body: `  manager.dropIndex("events_session_idx");
  manager.dropColumn("events", "payload");`,
      }],
    },
  });
  const env = { TIDE_DATABASE_URL: url };
  let r = await tide(["forwards", "app", "1"], { cwd: root, env });
  assertEquals(r.code, 0, r.stderr);
  const before = await shards(url, "events");
  assertEquals(Object.keys(before).length, 4);
  for (const shard of Object.values(before)) {
    assert(/payload text notnull=false default='none'::text/.test(shard), shard);
    assert(/events_session_idx_N ON public.events_N USING btree \(tenant_id, session_id\)/.test(shard), shard);
    assert(/CHECK \(\(payload <> ''::text\)\)/.test(shard), shard);
  }

  r = await tide(["forwards", "app"], { cwd: root, env });
  assertEquals(r.code, 0, r.stderr);
  const dropped = await shards(url, "events");
  for (const shard of Object.values(dropped)) {
    assert(!/payload|events_session_idx|CHECK/.test(shard), shard);
  }

  r = await tide(["backwards", "app", "1", "--auto-agree"], { cwd: root, env });
  assertEquals(r.code, 0, r.stderr);
  assertEquals(await shards(url, "events"), before);
});
