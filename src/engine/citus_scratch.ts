/**
 * `tide verify` on a Citus coordinator: the scratch database must be a distributed database
 * too, or re-distributing a table could not be checked (and Citus functions in migrations
 * would fail). Made the way shared/citus/cluster.sh's `createdb` makes one: the database on
 * the coordinator and on every worker, the citus extension in each, the coordinator and the
 * workers registered in it. Workers are reached at the address the coordinator knows them by
 * (pg_dist_node), with the user and password of tide's URL.
 *
 * @module
 */

import type { Database, Queryable } from "../db/database.ts";
import { openDatabase } from "../db/open.ts";
import { RunError } from "../errors.ts";
import { maskPasswords } from "../mask.ts";
import { quoteIdent, quoteLiteral } from "../migration/quote.ts";

/** A node of the cluster as the coordinator lists it. */
interface Node {
  readonly host: string;
  readonly port: number;
  /** 0 for the coordinator. */
  readonly group: number;
}

/** A scratch database on the whole cluster. */
export interface CitusScratch {
  readonly db: Database;
  readonly label: string;
  drop(): Promise<void>;
}

/** Whether the database has the citus extension. */
export async function hasCitus(db: Queryable): Promise<boolean> {
  const [row] = await db.query<{ citus: boolean }>(
    "select exists (select 1 from pg_extension where extname = 'citus') as citus",
  );
  return Boolean(row?.citus);
}

function urlAt(base: string, node: { host: string; port: number } | undefined, database: string): string {
  const url = new URL(base);
  if (node) {
    url.hostname = node.host;
    url.port = String(node.port);
  }
  url.pathname = `/${database}`;
  return url.toString();
}

/**
 * Creates the scratch database `name` on every node of the cluster `admin` (an open session on
 * the user's database on the coordinator, whose URL is `url`) belongs to.
 *
 * @throws {RunError} naming what could not be done and what to do instead; whatever it had
 *   created by then is dropped.
 */
export async function openCitusScratch(admin: Database, url: string, name: string): Promise<CitusScratch> {
  const home = new URL(url).pathname.slice(1) || "postgres";
  const nodes = (await admin.query<Node>(
    `select nodename as host, nodeport::int as port, groupid::int as "group" from pg_dist_node
      where isactive and noderole = 'primary' order by groupid`,
  )).map((n) => ({ host: n.host, port: Number(n.port), group: Number(n.group) }));
  const coordinator = nodes.find((n) => n.group === 0);
  const workers = nodes.filter((n) => n.group !== 0);
  const opened: Database[] = [];
  let scratch: Database | undefined;
  const workerHomes: Database[] = [];
  // Dropped node by node, workers first, without Citus' propagation of DROP DATABASE (not forced
  // on the workers, where connections the coordinator cached make it fail, and not atomic).
  const dropStatements = [
    "SET citus.enable_create_database_propagation TO off",
    `DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`,
    "RESET citus.enable_create_database_propagation",
  ];
  const cleanUp = async () => {
    await scratch?.close().catch(() => {});
    for (const db of opened) await db.close().catch(() => {});
    for (const w of workerHomes) {
      await w.execute(dropStatements).catch(() => {});
      await w.close().catch(() => {});
    }
    await admin.execute(dropStatements).catch(() => {});
  };
  let step = `create database ${name} on the coordinator`;
  try {
    await admin.execute([`CREATE DATABASE ${quoteIdent(name)}`]);
    for (const w of workers) {
      step = `connect to worker ${w.host}:${w.port} (database ${home}) with tide's credentials`;
      const workerHome = await openDatabase(urlAt(url, w, home));
      workerHomes.push(workerHome);
      // citus.enable_create_database_propagation makes it on the workers already; else here.
      step = `create database ${name} on worker ${w.host}:${w.port}`;
      const [exists] = await workerHome.query<{ found: boolean }>(
        "select exists (select 1 from pg_database where datname = $1) as found",
        [name],
      );
      if (!exists?.found) await workerHome.execute([`CREATE DATABASE ${quoteIdent(name)}`]);
      step = `create extension citus in ${name} on worker ${w.host}:${w.port}`;
      const db = await openDatabase(urlAt(url, w, name));
      opened.push(db);
      await db.execute(["CREATE EXTENSION IF NOT EXISTS citus"]);
    }
    step = `create extension citus in ${name} on the coordinator and register the nodes`;
    scratch = await openDatabase(urlAt(url, undefined, name));
    await scratch.execute([
      "CREATE EXTENSION IF NOT EXISTS citus",
      ...(coordinator
        ? [`SELECT citus_set_coordinator_host(${quoteLiteral(coordinator.host)}, ${coordinator.port})`]
        : []),
      ...workers.map((w) => `SELECT citus_add_node(${quoteLiteral(w.host)}, ${w.port})`),
    ]);
  } catch (error) {
    await cleanUp();
    throw new RunError(
      `tide verify needs a scratch database with Citus on the coordinator and on each of its ${workers.length} ` +
        `worker(s), and could not ${step}: ${maskPasswords((error as Error).message)}. ` +
        "The workers must be reachable from here at the addresses in pg_dist_node, with the user and password " +
        "of the database URL, and that user must be allowed to create databases on every node; " +
        "else run verify against a cluster where it is (a throwaway one, e.g. in CI)",
      { cause: error },
    );
  }
  for (const db of opened) await db.close().catch(() => {});
  opened.length = 0;
  const label = `temporary distributed database ${name} on ${new URL(url).host} and ${workers.length} worker(s)`;
  return { db: scratch, label, drop: cleanUp };
}

/**
 * Citus' own description of every distributed table, for verify's before/after comparison:
 * a reversal that leaves a table local, or in another colocation grouping, differs here.
 */
export async function distributionSnapshot(db: Queryable): Promise<Record<string, string>> {
  const rows = await db.query<{ key: string; value: string }>(
    `select 'distribution ' || format('%I.%I', n.nspname, c.relname) as key,
            'method=' || p.partmethod::text || ' column=' || coalesce(column_to_column_name(p.logicalrelid, p.partkey), '')
            || ' repmodel=' || p.repmodel::text
            || ' shards=' || (select count(*) from pg_dist_shard s where s.logicalrelid = p.logicalrelid)
            || ' colocated=' || coalesce((select string_agg(format('%I.%I', n2.nspname, c2.relname), ',' order by n2.nspname, c2.relname)
                 from pg_dist_partition o join pg_class c2 on c2.oid = o.logicalrelid
                 join pg_namespace n2 on n2.oid = c2.relnamespace
                where p.colocationid <> 0 and o.colocationid = p.colocationid and o.logicalrelid <> p.logicalrelid), '')
            as value
       from pg_dist_partition p join pg_class c on c.oid = p.logicalrelid join pg_namespace n on n.oid = c.relnamespace`,
  );
  return Object.fromEntries(rows.map((r) => [r.key, r.value]));
}
