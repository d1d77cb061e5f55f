/**
 * After the connection was lost in the middle of a run, learns on a new connection what
 * really happened: whether each migration's history row change committed. The history row
 * commits with the migration (or, outside a transaction, is written last), so it is the truth.
 *
 * @module
 */

import type { Database, ServerSession } from "../db/database.ts";
import type { History } from "./history.ts";

/** What the history says about one migration. */
export type Truth = "committed" | "not-committed";

/** The answer: each key's truth, or why it could not be learned. */
export type Learned = { readonly ok: true; readonly truth: ReadonlyMap<string, Truth> } | {
  readonly ok: false;
  readonly reason: string;
};

/** Bounds of {@linkcode learnTruth}, in ms. */
export interface InDoubtLimits {
  /** How long to keep trying to connect again (a server restart takes seconds). @default 30000 */
  readonly reconnectMs: number;
  /** How long the lost session may take to end by itself before tide ends it. @default 1000 */
  readonly settleMs: number;
  /** How long to wait for it to end after pg_terminate_backend. @default 5000 */
  readonly terminateMs: number;
}

/** The defaults of {@linkcode InDoubtLimits}. */
export const DEFAULT_IN_DOUBT: InDoubtLimits = { reconnectMs: 30_000, settleMs: 1_000, terminateMs: 5_000 };

/** The key of a migration in {@linkcode Learned}. */
export function truthKey(m: { app: string; id: string }): string {
  return `${m.app}\0${m.id}`;
}

/**
 * Opens a new connection, makes sure the lost session has ended (its transaction is then
 * either committed or rolled back for good: a session still running could yet commit), and
 * reads the history rows of `migrations`. For forwards a row means committed; for backwards
 * its absence does.
 */
export async function learnTruth(
  db: Database,
  history: History,
  direction: "forwards" | "backwards",
  migrations: readonly { app: string; id: string }[],
  limits: InDoubtLimits = DEFAULT_IN_DOUBT,
  pooled = false,
): Promise<Learned> {
  if (!db.openAnother) return { ok: false, reason: "this database cannot be reached on a second connection" };
  const fresh = await reconnect(db, limits.reconnectMs);
  if (typeof fresh === "string") return { ok: false, reason: fresh };
  try {
    if (db.session && !pooled) {
      const ended = await endSession(fresh, db.session, limits);
      if (ended !== undefined) return { ok: false, reason: ended };
    } else if (pooled) {
      // Behind a transaction pooler the pid recorded at connect is a pooled server connection
      // that may now serve another client: never terminate it. The pooler closes the server
      // connection of a client lost mid-transaction; give it the settle time to do so.
      await new Promise((r) => setTimeout(r, limits.settleMs));
    }
    const apps = [...new Set(migrations.map((m) => m.app))];
    const rows = await history.list(fresh, apps, { reversals: false });
    const present = new Set(rows.map(truthKey));
    const truth = new Map<string, Truth>();
    for (const m of migrations) {
      const has = present.has(truthKey(m));
      truth.set(truthKey(m), has === (direction === "forwards") ? "committed" : "not-committed");
    }
    return { ok: true, truth };
  } catch (error) {
    return { ok: false, reason: `reading the history on a new connection failed: ${(error as Error).message}` };
  } finally {
    await fresh.close().catch(() => {});
  }
}

async function reconnect(db: Database, withinMs: number): Promise<Database | string> {
  const deadline = Date.now() + withinMs;
  let last = "";
  for (let pause = 100;; pause = Math.min(pause * 2, 1000)) {
    // The driver itself retries while connecting: bound each attempt by the time left.
    const attempt = db.openAnother!();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<"late">((r) => timer = setTimeout(() => r("late"), Math.max(0, deadline - Date.now())));
    try {
      const got = await Promise.race([attempt, late]);
      if (got !== "late") return got;
      attempt.then((d) => d.close(), () => {}).catch(() => {});
      last = last || "no answer";
      return `could not connect again within ${withinMs / 1000} s: ${last}`;
    } catch (error) {
      last = (error as Error).message;
    } finally {
      clearTimeout(timer);
    }
    if (Date.now() + pause > deadline) return `could not connect again within ${withinMs / 1000} s: ${last}`;
    await new Promise((r) => setTimeout(r, pause));
  }
}

/**
 * Waits for the lost session to end; ends it (pg_terminate_backend) when it lingers, e.g. a
 * network cut the server has not noticed yet. Returns why it could not be ended, or undefined.
 */
async function endSession(fresh: Database, lost: ServerSession, limits: InDoubtLimits): Promise<string | undefined> {
  // backend_start tells the lost session from a new one that got the same pid (after a restart).
  const alive = async () =>
    (await fresh.query<{ n: number }>(
      "select count(*)::int as n from pg_stat_activity where pid = $1 and backend_start::text is not distinct from $2",
      [lost.pid, lost.startedAt],
    ))[0]?.n !== 0;
  if (!(await waitUntilGone(alive, limits.settleMs))) {
    await fresh.query(
      "select pg_terminate_backend(pid) from pg_stat_activity where pid = $1 and backend_start::text is not distinct from $2",
      [lost.pid, lost.startedAt],
    ).catch(() => {});
    if (!(await waitUntilGone(alive, limits.terminateMs))) {
      return `the lost server session (pid ${lost.pid}) is still running and could not be ended ` +
        `(pg_terminate_backend needs the same role or pg_signal_backend)`;
    }
  }
  return undefined;
}

async function waitUntilGone(alive: () => Promise<boolean>, withinMs: number): Promise<boolean> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    if (!(await alive())) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
}
