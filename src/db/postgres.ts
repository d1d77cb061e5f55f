/**
 * PostgreSQL server adapter over postgres.js. One connection for the whole run: the advisory
 * lock, every transaction and every query share it, so the lock really covers the run.
 *
 * @module
 */

import postgres from "postgres";
import { maskPasswords } from "../mask.ts";
import { fits, misfit, splitHosts } from "./hosts.ts";
import {
  ConnectionLostError,
  type Database,
  LockTimeoutError,
  type Queryable,
  type ServerSession,
  StatementError,
} from "./database.ts";

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
  const guard = new SessionGuard();
  const sql = postgres(url, {
    max: 1,
    onnotice: () => {},
    // The driver reconnects by itself; tide must know, so that no statement of a migration
    // ever runs on a second session (see SessionGuard).
    onclose: () => guard.lose("the server closed the connection"),
    // No planned reconnects either: the driver's default recycles a connection after 30-60 min,
    // in the middle of a long run.
    max_lifetime: 0,
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
    // The same round trip that checks the connection records which session it is.
    const rows = await sql.unsafe(
      "select pg_backend_pid() as pid, (select backend_start::text from pg_stat_activity where pid = pg_backend_pid()) as started",
    );
    guard.opened(rows, { pid: Number(rows[0]?.pid), startedAt: (rows[0]?.started as string | null) ?? null });
  } catch (error) {
    await sql.end({ timeout: 0 }).catch(() => {});
    throw new Error(
      `Cannot connect to ${maskPasswords(label)}: ${maskPasswords((error as Error).message)}${sqlstate(error)}`,
      { cause: error },
    );
  }
  return new PostgresDatabase(sql, url, guard);
}

/** ` (SQLSTATE xxxxx)` when the error came from the server. */
function sqlstate(error: unknown): string {
  const e = error as { code?: unknown; name?: unknown };
  return e?.name === "PostgresError" && typeof e.code === "string" ? ` (SQLSTATE ${e.code})` : "";
}

/**
 * Keeps one connection on one server session. postgres.js reconnects silently when a
 * session ends (idle_in_transaction_session_timeout, pg_terminate_backend, a restart, a
 * network cut); a transaction's next statements would then run on a new session, outside it.
 * Once the session is lost the connection is poisoned: every later statement is refused
 * before it is sent, so the driver never gets to reconnect. Each result is also checked to
 * come from the session recorded at connect (the protocol's backend key, which a pooler keeps
 * stable per client connection).
 */
class SessionGuard {
  #lost: { reason: string; cause?: unknown } | undefined;
  #key: number | undefined;
  session: ServerSession | undefined;

  opened(result: { state?: { pid?: number } }, session: ServerSession): void {
    this.#key = result.state?.pid;
    this.session = session;
    // A close before this point was the driver's own retry while connecting.
    this.#lost = undefined;
  }

  lose(reason: string, cause?: unknown): void {
    // Before opened(), a close is part of connecting (the driver tries the next host).
    if (this.session === undefined) return;
    this.#lost ??= { reason, cause };
  }

  get lost(): boolean {
    return this.#lost !== undefined;
  }

  /** Throws the loss, naming `statement`, when the session is gone. */
  check(statement?: string): void {
    if (this.#lost === undefined) return;
    throw this.error(statement);
  }

  error(statement?: string): ConnectionLostError {
    const lost = this.#lost ?? { reason: "the connection failed" };
    const pid = this.session ? ` (server session pid ${this.session.pid})` : "";
    return new ConnectionLostError(`The connection to the server was lost${pid}: ${lost.reason}`, {
      cause: lost.cause,
      ...(statement === undefined ? {} : { statement }),
      ...(this.session ? { session: this.session } : {}),
    });
  }

  /** After a result arrived: it must come from the recorded session. */
  seen(result: { state?: { pid?: number } }, statement: string): void {
    const key = result.state?.pid;
    if (this.#key !== undefined && key !== undefined && key !== this.#key) {
      this.lose(`the driver moved to another server session (backend key ${key}, expected ${this.#key})`);
      throw this.error(statement);
    }
  }

  /** After a statement failed: a failure of the connection itself poisons it. */
  failed(error: unknown, statement: string): ConnectionLostError | undefined {
    if (!this.lost && !isConnectionFailure(error)) return undefined;
    this.lose(describeCause(error), error);
    return this.error(statement);
  }
}

/** SQLSTATEs that end the session (FATAL): admin/crash shutdown, idle timeouts, connection class 08. */
const SESSION_ENDING = new Set(["57P01", "57P02", "57P03", "25P03", "57P05"]);
/** The driver's and the socket's codes for a connection that is gone. */
const TRANSPORT_CODES = new Set([
  "CONNECTION_CLOSED",
  "CONNECTION_DESTROYED",
  "CONNECTION_ENDED",
  "CONNECT_TIMEOUT",
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "ENOTCONN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ERR_SOCKET_CLOSED",
  "ERR_STREAM_DESTROYED",
]);

function isConnectionFailure(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  const e = error as { code?: unknown; severity?: unknown };
  if (e.severity === "FATAL" || e.severity === "PANIC") return true;
  const code = typeof e.code === "string" ? e.code : "";
  return TRANSPORT_CODES.has(code) || SESSION_ENDING.has(code) || /^08[0-9A-Z]{3}$/.test(code);
}

function describeCause(error: unknown): string {
  const e = error as { message?: unknown; code?: unknown };
  const message = typeof e?.message === "string" ? e.message : String(error);
  return typeof e?.code === "string" && /^[0-9A-Z]{5}$/.test(e.code) ? `${message} (SQLSTATE ${e.code})` : message;
}

class PostgresDatabase implements Database {
  readonly kind = "postgres";
  readonly #sql: postgres.Sql;
  /** The single-host URL this connection went to (with its password: never print it). */
  readonly url: string;
  readonly #guard: SessionGuard;

  constructor(sql: postgres.Sql, url: string, guard: SessionGuard) {
    this.#sql = sql;
    this.url = url;
    this.#guard = guard;
  }

  get session(): ServerSession | undefined {
    return this.#guard.session;
  }

  openAnother(): Promise<Database> {
    return openPostgres(this.url);
  }

  openSibling(): Promise<Database> {
    return openPostgres(this.url);
  }

  query<T>(text: string, params: readonly unknown[] = []): Promise<T[]> {
    return query<T>(this.#sql, this.#guard, text, params);
  }

  execute(statements: readonly string[]): Promise<number[]> {
    return execute(this.#sql, this.#guard, statements);
  }

  /**
   * A transaction whose BEGIN travels with its first statements and whose COMMIT may travel
   * with its last ones (`executeAndCommit`): one round trip for a migration made of SQL only,
   * where postgres.js' `begin()` takes three. The one connection (max: 1) makes raw BEGIN and
   * COMMIT safe here.
   */
  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    const sql = this.#sql;
    const guard = this.#guard;
    let begun = false;
    let ended = false;
    const begin = (): string[] => (begun ? [] : (begun = true, ["BEGIN"]));
    const run = async (statements: readonly string[], commit: boolean): Promise<number[]> => {
      const prefix = begin();
      const all = [...prefix, ...statements, ...(commit ? ["COMMIT"] : [])];
      if (commit) ended = true;
      try {
        return (await execute(sql, guard, all)).slice(prefix.length, prefix.length + statements.length);
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
        return await query(sql, guard, text, params);
      },
      execute: (statements) => run(statements, false),
      executeAndCommit: (statements) => run(statements, true),
    };
    try {
      const result = await fn(tx);
      if (begun && !ended) {
        ended = true;
        await execute(sql, guard, ["COMMIT"]);
      }
      return result;
    } catch (error) {
      if (begun && !ended) await execute(sql, guard, ["ROLLBACK"]).catch(() => {});
      throw error;
    }
  }

  sendTransaction(statements: readonly string[], opening = 0): Promise<number[]> {
    const head = ["BEGIN", ...statements.slice(0, opening)].join("; ");
    const rest = statements.slice(opening);
    // execute() hands every statement to the driver before its first await: queued in order.
    return execute(this.#sql, this.#guard, [head, ...rest, "COMMIT"]).then(
      (counts) => [...statements.slice(0, opening).map(() => 0), ...counts.slice(1, rest.length + 1)],
      (error) => {
        if (!(error instanceof StatementError)) throw error;
        if (error.index === 0) {
          const index = opening === 0 ? 0 : error.server.code === "22012" ? opening - 1 : 0;
          throw new StatementError(statements[index] ?? head, index, error.cause);
        }
        // The index within the caller's statements (a failing COMMIT, e.g. a deferred check, is one past them).
        throw new StatementError(error.statement, error.index - 1 + opening, error.cause);
      },
    );
  }

  async withLock<T>(key: string, timeoutMs: number, fn: () => Promise<T>): Promise<T> {
    // Poll pg_try_advisory_lock rather than block in pg_advisory_lock: a session blocked in a
    // statement holds a snapshot, and CREATE INDEX CONCURRENTLY in the run holding the lock
    // would wait for that snapshot while the waiter waits for the lock: a deadlock. Between
    // tries the waiter holds nothing.
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const [row] = await this.query<{ ok: boolean }>("select pg_try_advisory_lock(hashtext($1)) as ok", [key]);
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
      // A lost session took its lock with it: nothing to release then.
      await this.query("select pg_advisory_unlock(hashtext($1))", [key]).catch(() => {});
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

async function query<T>(sql: Sql, guard: SessionGuard, text: string, params: readonly unknown[]): Promise<T[]> {
  guard.check(text);
  let rows: postgres.RowList<postgres.Row[]>;
  try {
    rows = await sql.unsafe(text, params.map(toParameter) as postgres.ParameterOrJSON<never>[]);
  } catch (error) {
    throw guard.failed(error, text) ?? new StatementError(text, 0, error);
  }
  guard.seen(rows, text);
  return [...rows] as T[];
}

/**
 * Sends every statement at once (postgres.js pipelines queries issued together on one
 * connection), so a migration costs one round trip, yet each statement keeps its own result
 * and the first failure is known exactly.
 */
async function execute(sql: Sql, guard: SessionGuard, statements: readonly string[]): Promise<number[]> {
  guard.check(statements[0]);
  const results = await Promise.allSettled(
    // The simple protocol: one message and two replies per statement, where the extended one
    // (unnamed Parse/Bind/Describe/Execute/Sync) costs five and five, for DDL that takes no
    // parameters anyway. Still one statement per message, so that each keeps its own result.
    statements.map((statement) => sql.unsafe(statement).simple().execute()),
  );
  // A lost connection outranks a statement's error: what ran is no longer known.
  for (const [index, r] of results.entries()) {
    if (r.status === "rejected") {
      const lost = guard.failed(r.reason, statements[index]!);
      if (lost) throw lost;
    }
  }
  const index = results.findIndex((r) => r.status === "rejected");
  if (index !== -1) {
    const failed = results[index] as PromiseRejectedResult;
    throw new StatementError(statements[index]!, index, failed.reason);
  }
  const values = results.map((r) => (r as PromiseFulfilledResult<postgres.RowList<postgres.Row[]>>).value);
  for (const [i, value] of values.entries()) guard.seen(value, statements[i]!);
  return values.map((v) => v.count ?? 0);
}
