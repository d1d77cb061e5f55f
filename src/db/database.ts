/**
 * The one interface tide talks to a database through. Adapters carry transport only: every
 * statement tide sends is built above this layer, so both backends run the same SQL.
 *
 * @module
 */

/** What a migration's raw function step and tide's engine query through. */
export interface Queryable {
  /** Runs one statement with `$1`-style parameters and returns its rows. */
  query<T = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<T[]>;
  /**
   * Runs statements in order, as fast as the transport allows (pipelined on a server).
   * Stops at the first failure and throws a {@linkcode StatementError} naming it.
   *
   * @returns the number of rows each statement affected.
   */
  execute(statements: readonly string[]): Promise<number[]>;
  /**
   * Inside a transaction, where the transport can: runs the last statements and commits in the
   * same round trip. The transaction ends either way (a failure turns the COMMIT into a
   * rollback).
   */
  executeAndCommit?(statements: readonly string[]): Promise<number[]>;
}

/** An open database: a {@linkcode Queryable} plus transactions, locking and closing. */
export interface Database extends Queryable {
  /** Which adapter this is. */
  readonly kind: "postgres" | "pglite";
  /** Runs `fn` in one transaction: committed if it resolves, rolled back if it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /**
   * Where the transport pipelines: runs `statements` as one transaction (BEGIN … COMMIT; a
   * failure rolls it all back and throws a {@linkcode StatementError} whose index is within
   * `statements`). Everything is queued on the connection before this returns, so a later call
   * runs after this one's COMMIT even when it is made before this one has settled.
   *
   * @param opening how many of the first statements travel with the BEGIN, in one message (tide's
   * own `SET LOCAL`s and checks, which report no rows): one round of the server's work less each.
   * A failure among them is reported as the last one's when its SQLSTATE is 22012 (the check's
   * division by zero), else as the first one's.
   */
  sendTransaction?(statements: readonly string[], opening?: number): Promise<number[]>;
  /**
   * Holds a session-level advisory lock named `key` while `fn` runs, waiting at most
   * `timeoutMs` for it.
   *
   * @throws {LockTimeoutError} when the lock could not be had in time.
   */
  withLock<T>(key: string, timeoutMs: number, fn: () => Promise<T>): Promise<T>;
  /**
   * A second, independent connection to the same server (the host a multi-host URL chose):
   * for the table lock's lease renewals and the pooling probe, which must not share the run's
   * connection (they would land inside a migration's transaction). Servers only.
   */
  openSibling?(): Promise<Database>;
  /**
   * Servers: the single-host URL actually connected to (a multi-host URL's chosen host). It
   * holds the password: never print it.
   */
  readonly url?: string;
  /** Closes the connection (or the embedded database). */
  close(): Promise<void>;
  /**
   * A server's session: which backend this connection runs on, recorded when it connected.
   * Absent for the embedded database (it has no connection to lose).
   */
  readonly session?: ServerSession | undefined;
  /**
   * Opens a new, separate connection to the same database: after this one was lost, to
   * learn what happened (see {@linkcode ConnectionLostError}). Absent for the embedded database.
   */
  openAnother?(): Promise<Database>;
}

/** Which server session a connection runs on. */
export interface ServerSession {
  /** `pg_backend_pid()` when it connected. */
  readonly pid: number;
  /** That backend's `backend_start` (a pid alone may be reused after a restart), as text. */
  readonly startedAt: string | null;
}

/**
 * The connection's server session ended (killed, timed out, server restart, network cut) or
 * the driver moved to another one. Nothing more is sent through that connection: statements
 * of one migration never run on two sessions. Whether the last transaction committed is
 * unknown to the connection; the engine learns it on a new one.
 */
export class ConnectionLostError extends Error {
  /** The statement under way when it was lost, if one was. */
  readonly statement: string | undefined;
  /** The session that was lost. */
  readonly session: ServerSession | undefined;

  constructor(message: string, options: { cause?: unknown; statement?: string; session?: ServerSession } = {}) {
    super(message, { cause: options.cause });
    this.name = "ConnectionLostError";
    this.statement = options.statement;
    this.session = options.session;
  }
}

/** Details a server gives about a failed statement. */
export interface ServerErrorDetails {
  /** SQLSTATE code, such as `42P01`. */
  readonly code?: string | undefined;
  /** 1-based character position in the statement, when the server gave one. */
  readonly position?: number | undefined;
  readonly detail?: string | undefined;
  readonly hint?: string | undefined;
}

/** A statement failed; carries the statement, its index in the batch and the server's error. */
export class StatementError extends Error {
  /** The statement that failed. */
  readonly statement: string;
  /** Index of the statement in the list given to `execute`. */
  readonly index: number;
  /** SQLSTATE and position, as the server reported them. */
  readonly server: ServerErrorDetails;

  constructor(statement: string, index: number, cause: unknown) {
    const server = serverDetails(cause);
    super(describeServerError(cause, statement, server), { cause });
    this.name = "StatementError";
    this.statement = statement;
    this.index = index;
    this.server = server;
  }
}

/** Thrown by `withLock` when another run holds the lock longer than the timeout. */
export class LockTimeoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "LockTimeoutError";
  }
}

/** Whether an error came from the server (it carries a SQLSTATE), not from the network. */
export function isServerError(error: unknown): boolean {
  if (typeof error !== "object" || error === null || error instanceof StatementError) return false;
  const e = error as { code?: unknown; severity?: unknown; name?: unknown };
  return typeof e.code === "string" && /^[0-9A-Z]{5}$/.test(e.code) &&
    (e.name === "PostgresError" || typeof e.severity === "string");
}

function serverDetails(cause: unknown): ServerErrorDetails {
  if (typeof cause !== "object" || cause === null) return {};
  const e = cause as Record<string, unknown>;
  const position = Number(e.position);
  return {
    code: typeof e.code === "string" ? e.code : undefined,
    position: Number.isFinite(position) && position > 0 ? position : undefined,
    detail: typeof e.detail === "string" ? e.detail : undefined,
    hint: typeof e.hint === "string" ? e.hint : undefined,
  };
}

/** The server's message plus line and column of the error in the statement, when known. */
function describeServerError(cause: unknown, statement: string, s: ServerErrorDetails): string {
  let message = cause instanceof Error ? cause.message : String(cause);
  // A SQLSTATE is five characters; the driver's own codes (CONNECTION_CLOSED) are not one.
  if (s.code) message += /^[0-9A-Z]{5}$/.test(s.code) ? ` (SQLSTATE ${s.code})` : ` (${s.code})`;
  if (s.position !== undefined) {
    const before = statement.slice(0, s.position - 1);
    const line = before.split("\n").length;
    const column = before.length - before.lastIndexOf("\n");
    message += ` at line ${line}, column ${column}`;
  }
  if (s.detail) message += `; detail: ${s.detail}`;
  if (s.hint) message += `; hint: ${s.hint}`;
  return message;
}
