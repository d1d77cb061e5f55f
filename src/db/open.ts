/**
 * Opens the database a URL names: a PostgreSQL server or an embedded PGlite.
 *
 * @module
 */

import type { Database } from "./database.ts";

/**
 * Opens a database from a `postgres://`, `postgresql://`, `pglite:PATH` or `pglite:memory` URL.
 * Only the adapter that is needed gets imported.
 */
export async function openDatabase(url: string): Promise<Database> {
  if (url.startsWith("pglite:")) {
    const { openPglite } = await import("./pglite.ts");
    return await openPglite(url.slice("pglite:".length) || "memory");
  }
  const { openPostgres } = await import("./postgres.ts");
  return await openPostgres(url);
}
