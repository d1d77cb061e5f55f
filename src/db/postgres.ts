/**
 * PostgreSQL server adapter over postgres.js. One connection for the whole run: the advisory
 * lock, every transaction and every query share it, so the lock really covers the run.
 *
 * @module
 */

import postgres from "postgres";
import { maskPasswords } from "../mask.ts";
import { fits, misfit, splitHosts } from "./hosts.ts";
import { type Database, isServerError, LockTimeoutError, type Queryable, StatementError } from "./database.ts";

type Sql = postgres.Sql | postgres.TransactionSql;

/**
 * Opens a PostgreSQL server database and checks that it answers. A URL listing several hosts,
 * or giving `target_session_attrs`, connects to the first host that fits (see hosts.ts).
 *
 * @param url A `postgres://` or `postgresql://` URL.
 */
export async function openPostgres(url: string): Promise<Database> {
  const list = splitHosts(url);
  if (list.urls.length === 1 && list.attrs === undefined) return await openHost(url, url);
  const attrs = list.attrs ?? "any";
  const reasons: string[] = [];
  let fallback: Database | undefined;
  for (const [i, hostUrl] of list.urls.entries()) {
    let db: Database;
    try {
      db = await openHost(hostUrl, hostUrl);
    } catch (error) {
      reasons.push(
        `${list.hosts[i]}: ${maskPasswords((error as Error).message).replace(/^Cannot connect to \S+: /, "")}`,
      );
      continue;
    }
    if (attrs === "any") return db;
    const [row] = await db.query<{ standby: boolean; ro: string }>(
      "select pg_is_in_recovery() as standby, current_setting('transaction_read_only') as ro",
    );
    const role = { standby: Boolean(row?.standby), readOnly: row?.ro === "on" };
    if (attrs === "prefer-standby") {
      if (role.standby) {
        await fallback?.close();
        return db;
      }
      if (fallback) await db.close();
      else fallback = db;
      reasons.push(`${list.hosts[i]}: is a primary`);
      continue;
    }
    if (fits(attrs, role)) return db;
    reasons.push(`${list.hosts[i]}: ${misfit(attrs, role)}`);
    await db.close();
  }
  if (fallback) return fallback;
  throw new Error(
    `Cannot connect to ${maskPasswords(url)}: no host fits target_session_attrs=${attrs} (${reasons.join("; ")})` +
      (attrs === "primary" || attrs === "read-write"
        ? ". Add the primary's host to the URL, or wait for a standby to be promoted"
        : ""),
  );
}

/** Opens one host; `label` is the URL messages name (masked). */
async function openHost(url: string, label: string): Promise<Database> {
  const sql = postgres(url, {
    max: 1,
    onnotice: () => {},
    // DDL is sent once; server-side prepared statements would only cost round trips.
    prepare: false,
    // Skips a catalog query on every connection (up to 10 ms); tide's array parameters are
    // encoded as array literals instead (see toParameter).
    fetch_types: false,
    connect_timeout: 10,
    // Keep timestamps and big integers as the server's text: tide only displays them.
    types: {},
    transform: { undefined: null },
  });
  try {
    await sql.unsafe("select 1");
  } catch (error) {
    await sql.end({ timeout: 0 }).catch(() => {});
    throw new Error(
      `Cannot connect to ${maskPasswords(label)}: ${maskPasswords((error as Error).message)}${sqlstate(error)}`,
      { cause: error },
    );
  }
  return new PostgresDatabase(sql, url);
}

/** ` (SQLSTATE xxxxx)` when the error came from the server. */
function sqlstate(error: unknown): string {
  const e = error as { code?: unknown; name?: unknown };
  return e?.name === "PostgresError" && typeof e.code === "string" ? ` (SQLSTATE ${e.code})` : "";
}

class PostgresDatabase implements Database {
  readonly kind = "postgres";
  readonly #sql: postgres.Sql;
  /** The single-host URL this connection went to (with its password: never print it). */
  readonly url: string;

  constructor(sql: postgres.Sql, url: string) {
    this.#sql = sql;
    this.url = url;
  }

  openSibling(): Promise<Database> {
    return openPostgres(this.url);
  }

  query<T>(text: string, params: readonly unknown[] = []): Promise<T[]> {
    return query<T>(this.#sql, text, params);
  }

  execute(statements: readonly string[]): Promise<number[]> {
    return execute(this.#sql, statements);
  }

  /**
   * A transaction whose BEGIN travels with its first statements and whose COMMIT may travel
   * with its last ones (`executeAndCommit`): one round trip for a migration made of SQL only,
   * where postgres.js' `begin()` takes three. The one connection (max: 1) makes raw BEGIN and
   * COMMIT safe here.
   */
  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    const sql = this.#sql;
    let begun = false;
    let ended = false;
    const begin = (): string[] => (begun ? [] : (begun = true, ["BEGIN"]));
    const run = async (statements: readonly string[], commit: boolean): Promise<number[]> => {
      const prefix = begin();
      const all = [...prefix, ...statements, ...(commit ? ["COMMIT"] : [])];
      if (commit) ended = true;
      try {
        return (await execute(sql, all)).slice(prefix.length, prefix.length + statements.length);
      } catch (error) {
        // Report the index within the caller's statements, not ours.
        if (error instanceof StatementError) {
          throw new StatementError(error.statement, error.index - prefix.length, error.cause);
        }
        throw error;
      }
    };
    const tx: Queryable = {
      query: async (text, params = []) => {
        if (!begun) await run([], false);
        return await query(sql, text, params);
      },
      execute: (statements) => run(statements, false),
      executeAndCommit: (statements) => run(statements, true),
    };
    try {
      const result = await fn(tx);
      if (begun && !ended) {
        ended = true;
        await sql.unsafe("COMMIT");
      }
      return result;
    } catch (error) {
      if (begun && !ended) await sql.unsafe("ROLLBACK").catch(() => {});
      throw error;
    }
  }

  async withLock<T>(key: string, timeoutMs: number, fn: () => Promise<T>): Promise<T> {
    // Poll pg_try_advisory_lock rather than block in pg_advisory_lock: a session blocked in a
    // statement holds a snapshot, and CREATE INDEX CONCURRENTLY in the run holding the lock
    // would wait for that snapshot while the waiter waits for the lock: a deadlock. Between
    // tries the waiter holds nothing.
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const [row] = await this.#sql.unsafe("select pg_try_advisory_lock(hashtext($1)) as ok", [key]);
      if (row?.ok) break;
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new LockTimeoutError(
          `Another tide run holds the migration lock "${key}"; gave up after ${timeoutMs} ms. ` +
            "Wait for it to finish, or raise --lock-timeout",
        );
      }
      await new Promise((r) => setTimeout(r, Math.min(50, left)));
    }
    try {
      return await fn();
    } finally {
      await this.#sql.unsafe("select pg_advisory_unlock(hashtext($1))", [key]).catch(() => {});
    }
  }

  async close(): Promise<void> {
    await this.#sql.end({ timeout: 5 });
  }
}

/** A JS array as a Postgres array literal (`{"a","b"}`); other values as they are. */
export function toParameter(value: unknown): unknown {
  if (!Array.isArray(value)) return value;
  const element = (v: unknown) =>
    v === null || v === undefined ? "NULL" : `"${String(v).replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;
  return `{${value.map(element).join(",")}}`;
}

async function query<T>(sql: Sql, text: string, params: readonly unknown[]): Promise<T[]> {
  try {
    const rows = await sql.unsafe(text, params.map(toParameter) as postgres.ParameterOrJSON<never>[]);
    return [...rows] as T[];
  } catch (error) {
    // A server error says its SQLSTATE (and where), like a failed statement of a batch.
    if (isServerError(error)) throw new StatementError(text, 0, error);
    throw error;
  }
}

/**
 * Sends every statement at once (postgres.js pipelines queries issued together on one
 * connection), so a migration costs one round trip, yet each statement keeps its own result
 * and the first failure is known exactly.
 */
async function execute(sql: Sql, statements: readonly string[]): Promise<number[]> {
  const results = await Promise.allSettled(
    statements.map((statement) => sql.unsafe(statement).execute()),
  );
  const index = results.findIndex((r) => r.status === "rejected");
  if (index !== -1) {
    const failed = results[index] as PromiseRejectedResult;
    throw new StatementError(statements[index]!, index, failed.reason);
  }
  return results.map((r) => (r as PromiseFulfilledResult<postgres.RowList<postgres.Row[]>>).value.count ?? 0);
}
