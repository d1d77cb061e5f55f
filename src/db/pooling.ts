/**
 * Does the server session of a connection persist between transactions? Behind a pooler in
 * transaction (or statement) mode it does not: each transaction may run on another server
 * connection, so session state (advisory locks, `SET`, prepared statements) leaks or vanishes.
 * tide asks the database itself rather than guessing from the URL.
 *
 * @module
 */

import type { Database } from "./database.ts";

/** What the probe found. */
export interface PoolingProbe {
  /**
   * `session`: the connection keeps one server session (direct, or session pooling).
   * `transaction`: session state does not persist between transactions.
   * `statement`: transactions of several statements are refused (statement pooling).
   */
  readonly mode: "session" | "transaction" | "statement";
  /** One line saying why, for messages and the README's claims. */
  readonly evidence: string;
}

/**
 * How long the second connection holds its transaction open while the first one asks again. A
 * direct connection answers in a round trip; a pooler with no free server connection makes it
 * wait for the one the second connection holds.
 */
const WAIT_MS = 1000;

/**
 * Probes `db`'s session with the help of a second connection `other` (same URL):
 *
 * 1. `db` sets a session-level custom setting to a random token (autocommit) and reads
 *    `pg_backend_pid()`.
 * 2. `other` reads its pid and the token in a few autocommit statements, then opens a
 *    transaction (pinning a server connection, pooled or not) and reads them again. Seeing the
 *    token, or `db`'s pid, proves two clients share a server session: a pooler handed `db`'s
 *    released server connection to `other`.
 * 3. While `other` holds its transaction, `db` asks pid and token again. Another pid or a lost
 *    token proves the session moved; having to wait for a server connection proves a pool.
 *
 * Any of those means `transaction`; none of them, in `rounds` rounds, `session`. A `BEGIN`
 * refused by the pooler means `statement`.
 */
export async function probePooling(
  db: Database,
  other: Database,
  rounds = 3,
  another?: () => Promise<Database>,
): Promise<PoolingProbe> {
  let closedAtBegin = 0;
  for (let round = 0; round < rounds; round++) {
    const token = crypto.randomUUID();
    const [first] = await db.query<{ pid: number }>(
      "select pg_backend_pid() as pid, set_config('tide.session_probe', $1, false) as token",
      [token],
    );
    const pid = Number(first?.pid);
    let evidence: string | undefined;
    let pending: Promise<unknown> | undefined;
    try {
      await other.transaction(async (tx) => {
        const [seen] = await tx.query<{ pid: number; token: string | null }>(
          "select pg_backend_pid() as pid, current_setting('tide.session_probe', true) as token",
        );
        if (seen?.token === token || Number(seen?.pid) === pid) {
          evidence = `a second client landed on the same server session (backend pid ${seen?.pid})`;
          return;
        }
        const again = db.query<{ pid: number; token: string | null }>(
          "select pg_backend_pid() as pid, current_setting('tide.session_probe', true) as token",
        );
        pending = again.catch(() => {});
        let timer: ReturnType<typeof setTimeout> | undefined;
        const waited = await Promise.race([
          again.then(() => false),
          new Promise<boolean>((resolve) => timer = setTimeout(() => resolve(true), WAIT_MS)),
        ]).finally(() => clearTimeout(timer));
        if (waited) {
          // The waiting query goes through once this transaction ends (awaited below).
          evidence = "the connection had to wait for a server connection held by another client";
          return;
        }
        const [now] = await again;
        if (Number(now?.pid) !== pid) {
          evidence = `the backend changed between two autocommit statements (pid ${pid}, then ${now?.pid})`;
        } else if (now?.token !== token) {
          evidence = "a session-level setting did not survive to the next statement";
        }
      });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (/statement pooling/i.test(message)) {
        return { mode: "statement", evidence: `the pooler refused a transaction block: ${message}` };
      }
      // PgBouncer in statement mode closes the client's connection when a transaction begins
      // (its error message may never reach the driver). Twice, on fresh connections: it is that.
      const closed = /CONNECTION_CLOSED|CONNECTION_ENDED|connection to the server was lost/i.test(message);
      if (closed && another && ++closedAtBegin < 2) {
        other = await another();
        round--;
        continue;
      }
      if (closedAtBegin >= 1 && closed) {
        return {
          mode: "statement",
          evidence: "the connection was closed at BEGIN, twice on fresh connections " +
            "(as PgBouncer does in statement pooling: transaction blocks not allowed)",
        };
      }
      throw error;
    } finally {
      await pending;
    }
    // A pooler hands a released server connection to the next client that asks (PgBouncer:
    // the most recently released first): a few quick statements from the other client land
    // on the first one's server connection, and see its token, unless it is its own session.
    for (let i = 0; i < 4 && evidence === undefined; i++) {
      const [seen] = await other.query<{ pid: number; token: string | null }>(
        "select pg_backend_pid() as pid, current_setting('tide.session_probe', true) as token",
      );
      if (seen?.token === token || Number(seen?.pid) === pid) {
        evidence = `a second client landed on the same server session (backend pid ${seen?.pid})`;
      }
    }
    if (evidence !== undefined) return { mode: "transaction", evidence };
  }
  // Same session throughout: clear the token (on a direct connection this is the same session).
  await db.query("select set_config('tide.session_probe', '', false)");
  return {
    mode: "session",
    evidence: "one server session kept its pid and a session-level setting while another client held a transaction",
  };
}
