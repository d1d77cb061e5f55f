/**
 * `[pgbouncer]` tests: a fresh database on the test server, reached through the PgBouncer
 * instances tools/pgbouncer.ts started (URLs in TIDE_TEST_PGBOUNCER_SESSION_URL and
 * TIDE_TEST_PGBOUNCER_TRANSACTION_URL). Without them the tests register as ignored.
 *
 * @module
 */

import postgres from "postgres";
import { createPostgresDatabase } from "./databases.ts";

/** The pool modes the tests run through. */
export type PoolMode = "session" | "transaction" | "statement";

const TEMPLATES: Record<PoolMode, string | undefined> = {
  session: Deno.env.get("TIDE_TEST_PGBOUNCER_SESSION_URL"),
  transaction: Deno.env.get("TIDE_TEST_PGBOUNCER_TRANSACTION_URL"),
  statement: Deno.env.get("TIDE_TEST_PGBOUNCER_STATEMENT_URL"),
};

/** The URLs a `[pgbouncer]` test gets: the database through the bouncer, and directly. */
export interface BouncedDatabase {
  /** Through PgBouncer in the test's pool mode. */
  readonly url: string;
  /** The same database on the server, bypassing the pooler (the oracle's view). */
  readonly direct: string;
}

/** Registers `name (<mode> pooling) [pgbouncer]` for each mode given. */
export function pgbouncerTest(
  name: string,
  modes: readonly PoolMode[],
  fn: (db: BouncedDatabase, mode: PoolMode) => Promise<void>,
): void {
  for (const mode of modes) {
    const template = TEMPLATES[mode];
    Deno.test({
      name: `${name} (${mode} pooling) [pgbouncer]`,
      ignore: !template || !Deno.env.get("TIDE_TEST_POSTGRES_URL"),
      sanitizeResources: false,
      sanitizeOps: false,
      fn: async () => {
        const { url: direct, drop } = await createPostgresDatabase();
        const name = new URL(direct).pathname.slice(1);
        const url = template!.replace(/\/[^/?]*(\?|$)/, `/${name}$1`);
        try {
          await fn({ url, direct }, mode);
        } finally {
          await drop();
        }
      },
    });
  }
}

/**
 * Other clients sharing the pool while a test runs: `clients` connections, each looping over a
 * query and a short transaction, until stopped or `maxQueries` each (bounded either way).
 */
export function backgroundTraffic(url: string, clients = 3, maxQueries = 2000): { stop: () => Promise<number> } {
  let stopped = false;
  let count = 0;
  const loops = Array.from({ length: clients }, async () => {
    const sql = postgres(url, { max: 1, prepare: false, onnotice: () => {} });
    try {
      for (let i = 0; i < maxQueries && !stopped; i++) {
        await sql.unsafe("select pg_backend_pid(), current_setting('lock_timeout')");
        await sql.begin((tx) => tx.unsafe("select txid_current()"));
        count += 2;
        await new Promise((r) => setTimeout(r, 2));
      }
    } finally {
      await sql.end({ timeout: 1 });
    }
  });
  return {
    stop: async () => {
      stopped = true;
      await Promise.all(loops);
      return count;
    },
  };
}
