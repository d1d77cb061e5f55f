/**
 * One test body, run on both databases: PGlite always, PostgreSQL when the test task found
 * one (TIDE_TEST_POSTGRES_URL), else registered as ignored so that the skip shows.
 *
 * @module
 */

import { PGlite } from "@electric-sql/pglite";
import postgres from "postgres";
import type { Database } from "../../src/db/database.ts";
import { openPostgres } from "../../src/db/postgres.ts";
import { wrapPglite } from "../../src/db/pglite.ts";

/** The admin URL of the test server, when there is one. */
export const POSTGRES_URL = Deno.env.get("TIDE_TEST_POSTGRES_URL");

/** A database a test may change at will, with the URL a CLI subprocess would use. */
export interface TestDatabase {
  readonly kind: "pglite" | "postgres";
  readonly db: Database;
  /** URL of this database, for a subprocess (`pglite:` tests get a data dir copy on request). */
  readonly url: string;
}

let pglite: Promise<PGlite> | undefined;

/** One in-memory PGlite per test file (it takes seconds to start); reset between tests. */
function sharedPglite(): Promise<PGlite> {
  pglite ??= PGlite.create();
  return pglite;
}

async function resetPglite(db: PGlite): Promise<void> {
  const schemas = await db.query<{ nspname: string }>(
    "select nspname from pg_namespace where nspname not like 'pg\\_%' and nspname <> 'information_schema'",
  );
  for (const { nspname } of schemas.rows) {
    await db.exec(`drop schema "${nspname.replaceAll('"', '""')}" cascade`);
  }
  await db.exec("create schema public");
}

/** Creates a fresh database on the test server and returns its URL. */
export async function createPostgresDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  if (!POSTGRES_URL) throw new Error("No PostgreSQL test server");
  return await createDatabaseOn(POSTGRES_URL);
}

/** Creates a fresh `tide_t_*` database on the server of `adminUrl` and returns its URL. */
export async function createDatabaseOn(adminUrl: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `tide_t_${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  await admin.end();
  const url = adminUrl.replace(/\/[^/?]*(\?|$)/, `/${name}$1`);
  return {
    url,
    drop: async () => {
      const sql = postgres(adminUrl, { max: 1, onnotice: () => {} });
      await sql.unsafe(`drop database if exists ${name} with (force)`);
      await sql.end();
    },
  };
}

/** Options of {@linkcode eachDatabase}. */
export interface EachOptions {
  /** Only on PostgreSQL (e.g. concurrency between processes). */
  readonly postgresOnly?: boolean;
  /** Not on the PostgreSQL service (e.g. an object only PostgreSQL 18 and PGlite have). */
  readonly pgliteOnly?: boolean;
}

/**
 * Registers `name [pglite]` and `name [postgres]`, each running `fn` on a clean database.
 */
export function eachDatabase(name: string, fn: (t: TestDatabase) => Promise<void>, options: EachOptions = {}): void {
  if (!options.postgresOnly) {
    Deno.test({
      name: `${name} [pglite]`,
      sanitizeResources: false,
      sanitizeOps: false,
      fn: async () => {
        const db = await sharedPglite();
        await resetPglite(db);
        await fn({ kind: "pglite", db: wrapPglite(db), url: "pglite:memory" });
      },
    });
  }
  if (options.pgliteOnly) return;
  Deno.test({
    name: `${name} [postgres]`,
    ignore: !POSTGRES_URL,
    sanitizeResources: false,
    sanitizeOps: false,
    fn: async () => {
      const { url, drop } = await createPostgresDatabase();
      const db = await openPostgres(url);
      try {
        await fn({ kind: "postgres", db, url });
      } finally {
        await db.close();
        await drop();
      }
    },
  });
}
