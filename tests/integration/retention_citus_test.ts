/**
 * Retention on Citus (issue 15): a distributed table moved aside with SET SCHEMA stays
 * distributed (same OID, partition method, colocation, shards) and comes back with its rows; a
 * retained column of a distributed table comes back by key. Needs TIDE_TEST_CITUS_URL (a
 * database with the citus extension and workers registered); ignored without it.
 */

import { openPostgres } from "../../src/db/postgres.ts";
import { History } from "../../src/engine/history.ts";
import { planBackwardsMigration, planForwardsMigrationWith } from "../../src/engine/plan.ts";
import { runPlan } from "../../src/engine/run.ts";
import { assertEquals, assertMatch } from "../helpers/assert.ts";
import { fakeMigration } from "../helpers/fake_migrations.ts";

const CITUS_URL = Deno.env.get("TIDE_TEST_CITUS_URL");

Deno.test({
  name: "a retained distributed table stays distributed and comes back with its rows [citus]",
  ignore: !CITUS_URL,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const db = await openPostgres(CITUS_URL!);
    const tag = crypto.randomUUID().replaceAll("-", "").slice(0, 8);
    const [event, account] = [`event_${tag}`, `account_${tag}`];
    const history = new History(`history_${tag}`);
    try {
      await history.ensure(db);
      await db.execute([
        `create table ${event} (tenant int not null, id bigserial, payload text, primary key (tenant, id))`,
        `select create_distributed_table('${event}', 'tenant', shard_count := 4)`,
        `insert into ${event} (tenant, payload) select g % 10, 'p' || g from generate_series(1, 1000) g`,
        `create table ${account} (id int primary key, note text)`,
        `select create_distributed_table('${account}', 'id', shard_count := 4)`,
        `insert into ${account} select g, 'n' || g from generate_series(1, 100) g`,
      ]);
      const state = `select (select md5(string_agg(t::text, '|' order by tenant, id)) from ${event} t) as rows,
          (select md5(string_agg(id || ':' || note, '|' order by id)) from ${account}) as notes,
          (select format('%s %s %s', p.logicalrelid::oid, p.partmethod, p.colocationid) from pg_dist_partition p
            where p.logicalrelid = '${event}'::regclass) as dist,
          (select count(*)::int from pg_dist_shard where logicalrelid = '${event}'::regclass) as shards`;
      const before = await db.query(state);
      const migration = fakeMigration("2026-12-01T00:00:00:000001", (m) => {
        m.dropTable(event, { retain: true });
        m.dropColumn(account, "note", { retain: true });
      }, { app: `citus_${tag}` });
      const forwards = await runPlan(db, history, {
        direction: "forwards",
        migrations: [await planForwardsMigrationWith(migration, {})],
      });
      assertEquals(forwards.outcomes[0]?.error, undefined);
      const [held] = await db.query<{ name: string; method: string }>(
        `select p.logicalrelid::text as name, p.partmethod::text as method from pg_dist_partition p
          join pg_class c on c.oid = p.logicalrelid where c.relnamespace = 'tide_retained'::regnamespace
           and c.relname like '%${event}'`,
      );
      assertMatch(held!.name, new RegExp(`^tide_retained\\.r[0-9a-f]{10}_0_${event}$`));
      assertEquals(held!.method, "h", "the held table is still hash-distributed");
      const [row] = await history.list(db);
      const plan = await planBackwardsMigration(row!, migration);
      const backwards = await runPlan(db, history, { direction: "backwards", migrations: [plan] });
      assertEquals(backwards.outcomes[0]?.error, undefined);
      assertEquals(await db.query(state), before, "same OID, distribution, shards and rows");
    } finally {
      await db.execute([
        `drop table if exists ${event}, ${account}, ${history.table}`,
      ]).catch(() => {});
      await db.close();
    }
  },
});
