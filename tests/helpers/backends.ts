/**
 * End-to-end tests run the CLI as a subprocess against a database URL: a fresh PGlite data
 * directory (`pglite:<dir>`) and a fresh database on the PostgreSQL test server.
 *
 * @module
 */

import { readdir } from "node:fs/promises";
import type { Queryable } from "../../src/db/database.ts";
import { openDatabase } from "../../src/db/open.ts";
import { pgliteDataDir } from "./cli.ts";
import { createPostgresDatabase, POSTGRES_URL } from "./databases.ts";

export { POSTGRES_URL };

/** One backend a test body runs on: its kind and the URL a tide subprocess uses. */
export interface Backend {
  readonly kind: "pglite" | "postgres";
  readonly url: string;
}

/**
 * Registers `name [pglite]` and `name [postgres]` (ignored without a test server), each with a
 * fresh database. Test names must keep ending in `[postgres]`: the test task counts those.
 */
export function eachBackend(name: string, fn: (backend: Backend) => Promise<void>): void {
  Deno.test({
    name: `${name} [pglite]`,
    sanitizeResources: false,
    sanitizeOps: false,
    fn: async () => fn({ kind: "pglite", url: `pglite:${await pgliteDataDir()}` }),
  });
  postgresTest(name, (url) => fn({ kind: "postgres", url }));
}

/** Registers `name [postgres]` only (e.g. concurrency between processes, psql). */
export function postgresTest(name: string, fn: (url: string) => Promise<void>): void {
  Deno.test({
    name: `${name} [postgres]`,
    ignore: !POSTGRES_URL,
    sanitizeResources: false,
    sanitizeOps: false,
    fn: async () => {
      const { url, drop } = await createPostgresDatabase();
      try {
        await fn(url);
      } finally {
        await drop();
      }
    },
  });
}

/** Opens the database (no tide process may hold a PGlite directory meanwhile), runs `fn`, closes. */
export async function withDb<T>(url: string, fn: (db: Queryable) => Promise<T>): Promise<T> {
  const db = await openDatabase(url);
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

/** Whether a table exists. */
export async function tableExists(db: Queryable, name: string): Promise<boolean> {
  const [row] = await db.query<{ found: boolean }>("select to_regclass($1) is not null as found", [name]);
  return Boolean(row?.found);
}

/** The history as `app id` strings, in the order they ran; empty when there is no table. */
export async function historyOf(db: Queryable, table = "migration"): Promise<string[]> {
  if (!(await tableExists(db, table))) return [];
  const rows = await db.query<{ app: string; id: string }>(
    `select app_name as app, name as id from ${table} order by ran_on, name`,
  );
  return rows.map((r) => `${r.app} ${r.id}`);
}

/** Shortcut: the history of the database at `url`. */
export function history(url: string): Promise<string[]> {
  return withDb(url, (db) => historyOf(db));
}

/** The tables of the public schema, sorted (the history table included). */
export function tables(url: string): Promise<string[]> {
  return withDb(
    url,
    async (db) =>
      (await db.query<{ t: string }>("select tablename as t from pg_tables where schemaname = 'public' order by 1"))
        .map((r) => r.t),
  );
}

/** File names in a folder, sorted. */
export async function filesIn(dir: string): Promise<string[]> {
  return (await readdir(dir)).sort();
}

/** Migration IDs `2026-01-01T00:00:00:00000N`, N from 1. */
export function idOf(n: number): string {
  return `2026-01-01T00:00:00:${String(n).padStart(6, "0")}`;
}

/** A migration that creates table `t<n>` (its ID is {@linkcode idOf}(n)). */
export function tableMigration(n: number, extra = ""): { id: string; description: string; body: string } {
  return {
    id: idOf(n),
    description: `Create t${n}`,
    body: `  manager.addTable("t${n}", { id: "serial primary key", name: "text" });${extra ? "\n" + extra : ""}`,
  };
}
