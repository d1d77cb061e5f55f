/**
 * `[citus]` tests: each gets a fresh distributed database (created on the coordinator and both
 * workers, citus everywhere, workers registered) on the cluster tools/citus.ts started, and
 * registers as ignored when there is none, so that the skip shows.
 *
 * @module
 */

import postgres from "postgres";

/** The cluster's coordinator (admin database), when tools/test.ts started one. */
export const CITUS_URL = Deno.env.get("TIDE_TEST_CITUS_URL");
const SCRIPT = Deno.env.get("TIDE_TEST_CITUS_SCRIPT");

/** One test's database on the cluster. */
export interface CitusDatabase {
  /** URL of the test's database on the coordinator. */
  readonly url: string;
  /** The same database on each worker, for looking at shards directly. */
  readonly workerUrls: readonly string[];
  readonly name: string;
}

async function cluster(...args: string[]): Promise<string> {
  const out = await new Deno.Command("bash", { args: [SCRIPT!, ...args], stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) throw new Error(`cluster.sh ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
  return text.trim();
}

/**
 * `cluster.sh createdb`, tried again when Citus' propagation of CREATE DATABASE to the workers
 * races with catalog work there ("tuple concurrently updated", then "failure on connection
 * marked as essential"; seen in CI when a test created its second database). The script drops
 * the database first, so another try starts clean. Any other failure is thrown at once.
 */
async function createdb(name: string, port: number): Promise<string> {
  for (let attempt = 1;; attempt++) {
    try {
      return await cluster("createdb", name, String(port));
    } catch (error) {
      const transient = /tuple concurrently updated|failure on connection marked as essential/.test(String(error));
      if (!transient || attempt === 3) throw error;
      await new Promise((r) => setTimeout(r, 500 * attempt));
    }
  }
}

/** Creates a fresh distributed database with `cluster.sh createdb`. */
export async function createCitusDatabase(): Promise<CitusDatabase & { drop: () => Promise<void> }> {
  if (!CITUS_URL || !SCRIPT) throw new Error("No Citus test cluster");
  const port = Number(new URL(CITUS_URL).port);
  const name = `tide_t_${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`;
  const url = await createdb(name, port);
  const workerUrls = [port + 1, port + 2].map((p) => `postgres://postgres@127.0.0.1:${p}/${name}`);
  // Dropped node by node, workers first, without Citus' propagation: a propagated DROP DATABASE
  // is not forced on the workers (a connection the coordinator cached there makes it fail) and
  // not atomic (it may drop it on one worker and fail on the other).
  const drop = async () => {
    for (const node of [...workerUrls, url]) {
      await withSql(node.replace(/\/[^/]*$/, "/postgres"), async (sql) => {
        await sql.unsafe("set citus.enable_create_database_propagation to off");
        await sql.unsafe(`drop database if exists "${name}" with (force)`);
      });
    }
  };
  return { url, workerUrls, name, drop };
}

/** Registers `name [citus]`, run on a fresh distributed database; ignored without a cluster. */
export function citusTest(name: string, fn: (db: CitusDatabase) => Promise<void>): void {
  Deno.test({
    name: `${name} [citus]`,
    ignore: !CITUS_URL,
    sanitizeResources: false,
    sanitizeOps: false,
    fn: async () => {
      const db = await createCitusDatabase();
      try {
        await fn(db);
      } finally {
        await db.drop();
      }
    },
  });
}

/** Runs `fn` with a short-lived postgres.js connection (a second session, not tide's). */
export async function withSql<T>(url: string, fn: (sql: postgres.Sql) => Promise<T>): Promise<T> {
  const sql = postgres(url, { max: 1, onnotice: () => {}, prepare: false });
  try {
    return await fn(sql);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/** Runs SQL text (several statements allowed) on a database. */
export function sqlAt(url: string, text: string): Promise<postgres.Row[]> {
  return withSql(url, async (sql) => [...(await sql.unsafe(text))]);
}

/**
 * How the cluster describes distribution, read straight from Citus' own catalogs: per table,
 * method, distribution column, replication model, shard count, placements, and which tables
 * share its colocation group (colocation ids themselves are allowed to change).
 */
export async function distributionOf(url: string): Promise<Record<string, string>> {
  const rows = await sqlAt(
    url,
    `select p.logicalrelid::regclass::text as t, p.partmethod::text as method,
            coalesce(column_to_column_name(p.logicalrelid, p.partkey), '') as col, p.repmodel::text as repmodel,
            ct.citus_table_type as type, ct.shard_count::int as shards,
            (select count(*) from pg_dist_shard s join pg_dist_placement pl using (shardid)
              where s.logicalrelid = p.logicalrelid)::int as placements,
            (select coalesce(string_agg(o.logicalrelid::regclass::text, ',' order by o.logicalrelid::regclass::text), '')
               from pg_dist_partition o where o.colocationid = p.colocationid and p.colocationid <> 0) as colocated
       from pg_dist_partition p join citus_tables ct on ct.table_name = p.logicalrelid
      order by 1`,
  );
  return Object.fromEntries(rows.map((r) => [
    r.t as string,
    `method=${r.method} column=${r.col} repmodel=${r.repmodel} type=${r.type} shards=${r.shards} ` +
    `placements=${r.placements} colocated=${r.colocated}`,
  ]));
}
