/**
 * The run lock: which kind a run takes (the session advisory lock, or the table lock when the
 * connection's session state does not persist), and the checks before it (a standby is never
 * written to).
 *
 * @module
 */

import { LockTimeoutError } from "../db/database.ts";
import type { Database } from "../db/database.ts";
import { probePooling } from "../db/pooling.ts";
import { RunError } from "../errors.ts";
import { maskPasswords } from "../mask.ts";
import type { Session } from "./session.ts";
import { describeHolder, type LockClaim, TableLock } from "./table_lock.ts";

/** How a run locks: `auto` picks `advisory` where session state persists, else `table`. */
export type LockMode = "auto" | "table" | "advisory";

/** The lease of the table lock when none is configured: renewed every third of it. */
export const DEFAULT_LEASE_MS = 60_000;

/** Options of {@linkcode withRunLock}. */
export interface RunLockOptions {
  /** @default the session's config (`"lock"` in tide.json), else `auto` */
  readonly mode?: LockMode | undefined;
  /** How long to wait for another run's lock. */
  readonly timeoutMs: number;
  /** The table lock's lease. @default the config's `lockLease`, else 60 s */
  readonly leaseMs?: number | undefined;
  /** What this run is, stored with the table lock (e.g. `tide backwards app`). */
  readonly command?: string | undefined;
  /** Things the user should know (the lock chosen, a stale lock taken over). */
  readonly onNotice?: ((message: string) => void) | undefined;
}

/** The lock a run holds, as the run sees it. */
export interface HeldLock {
  readonly kind: "advisory" | "table" | "file";
  /**
   * Whether session state persists on the run's connection. When false (transaction pooling),
   * nothing may rely on session-level `SET`.
   */
  readonly sessionState: boolean;
  /** Throws a RunError when the table lock's lease was lost (taken over, or not renewed in time). */
  guard(): void;
}

/** What tide needs to know of a server before it writes. */
interface ServerFacts {
  readonly standby: boolean;
  readonly port: number | null;
  readonly addr: string | null;
}

const facts = new WeakMap<Database, Promise<ServerFacts>>();

function serverFacts(db: Database): Promise<ServerFacts> {
  let found = facts.get(db);
  if (!found) {
    found = db.query<{ standby: boolean; port: number | null; addr: string | null }>(
      "select pg_is_in_recovery() as standby, inet_server_port() as port, host(inet_server_addr()) as addr",
    ).then(([r]) => ({ standby: Boolean(r?.standby), port: r?.port ?? null, addr: r?.addr ?? null }));
    facts.set(db, found);
  }
  return found;
}

/**
 * Refuses to write to a standby: one clear message naming the server and the fix. Read-only
 * commands (`check`, `--preview`) never call this.
 *
 * @throws {RunError} when the server is in recovery.
 */
export async function assertWritable(session: Session): Promise<void> {
  if (session.db.kind !== "postgres") return;
  if (!(await serverFacts(session.db)).standby) return;
  const chosen = session.db.url !== undefined && session.db.url !== session.databaseUrl
    ? `${maskPasswords(session.db.url)} (the host chosen from ${session.databaseLabel})`
    : session.databaseLabel;
  throw new RunError(
    `${chosen} is a standby (pg_is_in_recovery() is true): tide cannot write the schema or the ` +
      "history there; nothing was run. Point tide at the primary (--database-url, TIDE_DATABASE_URL, DATABASE_URL or " +
      '"database" in tide.json), or list every host with target_session_attrs=primary ' +
      "(postgres://h1:5432,h2:5432/db?target_session_attrs=primary). check and --preview work on a standby",
  );
}

/**
 * Whether the server's end of the connection is the host and port of the URL: then no pooler
 * sits in between and the advisory lock is safe without a probe. Host names (not IP literals)
 * are not resolved: they get the probe.
 */
function directByAddress(url: string, f: ServerFacts): boolean {
  if (f.port === null || f.addr === null) return false; // a Unix socket on the server side
  const m = /^postgres(?:ql)?:\/\/(?:[^@/]*@)?([^/?#]*)/i.exec(url);
  const hostPort = m?.[1] ?? "";
  if (hostPort.includes(",")) return false;
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(hostPort);
  const [host, port] = bracket
    ? [bracket[1]!, bracket[2]]
    : [hostPort.replace(/:\d*$/, ""), /:(\d+)$/.exec(hostPort)?.[1]];
  if (Number(port ?? 5432) !== Number(f.port)) return false;
  const addresses = host === "localhost" ? ["127.0.0.1", "::1"] : [host];
  return addresses.includes(f.addr);
}

/** Which lock a server connection gets, and why. */
export async function chooseLock(
  session: Session,
  mode: LockMode,
  sibling: () => Promise<Database>,
): Promise<{ kind: "advisory" | "table"; sessionState: boolean; why: string }> {
  if (mode === "advisory") return { kind: "advisory", sessionState: true, why: 'chosen by "lock": "advisory"' };
  if (directByAddress(session.db.url ?? session.databaseUrl, await serverFacts(session.db))) {
    return mode === "table"
      ? { kind: "table", sessionState: true, why: 'chosen by "lock": "table"' }
      : { kind: "advisory", sessionState: true, why: "direct connection" };
  }
  const fresh = async () => {
    const db = await session.db.openSibling!();
    extra.push(db);
    return db;
  };
  const extra: Database[] = [];
  const probe = await probePooling(session.db, await sibling(), 3, fresh).finally(async () => {
    for (const db of extra) await db.close().catch(() => {});
  });
  if (probe.mode === "statement") {
    throw new RunError(
      `${session.databaseLabel} is behind a pooler in statement mode (${probe.evidence}): a migration and its ` +
        "history row must commit in one transaction, which statement pooling forbids; nothing was run. " +
        "Connect through a pool in session or transaction mode, or to the server directly",
    );
  }
  // With "lock": "table" the probe still runs: the run must know whether session SETs persist.
  if (mode === "table") {
    return { kind: "table", sessionState: probe.mode === "session", why: `chosen by "lock": "table"` };
  }
  return probe.mode === "transaction"
    ? { kind: "table", sessionState: false, why: `session state does not persist: ${probe.evidence}` }
    : { kind: "advisory", sessionState: true, why: `session state persists: ${probe.evidence}` };
}

function hostName(): string {
  try {
    return Deno.hostname();
  } catch {
    return Deno.env.get("HOSTNAME") ?? "unknown-host";
  }
}

/**
 * Runs `fn` under the run lock: PGlite's lock file, the session advisory lock, or the table
 * lock (taken and renewed on a second connection of its own, never inside a migration's
 * transaction).
 *
 * @throws {LockTimeoutError} when another run holds it for longer than the timeout.
 * @throws {RunError} on a standby or behind statement pooling.
 */
export async function withRunLock<T>(
  session: Session,
  options: RunLockOptions,
  fn: (held: HeldLock) => Promise<T>,
): Promise<T> {
  const db = session.db;
  const key = session.history.lockKey;
  if (db.kind !== "postgres" || !db.openSibling) {
    return await db.withLock(key, options.timeoutMs, () => fn({ kind: "file", sessionState: true, guard() {} }));
  }
  await assertWritable(session);
  let other: Database | undefined;
  const sibling = async () => (other ??= await db.openSibling!());
  try {
    const choice = await chooseLock(session, options.mode ?? session.config.lock ?? "auto", sibling);
    if (choice.kind === "advisory") {
      // The probe's connection is not needed while the run holds the advisory lock.
      await other?.close().catch(() => {});
      other = undefined;
      return await db.withLock(key, options.timeoutMs, () => fn({ kind: "advisory", sessionState: true, guard() {} }));
    }
    const lock = new TableLock(session.config.migrationTable, key);
    options.onNotice?.(`using the table lock ${lock.name} (${choice.why})`);
    return await withTableLock(await sibling(), lock, options, choice.sessionState, fn);
  } finally {
    await other?.close().catch(() => {});
  }
}

async function withTableLock<T>(
  db: Database,
  lock: TableLock,
  options: RunLockOptions,
  sessionState: boolean,
  fn: (held: HeldLock) => Promise<T>,
): Promise<T> {
  const leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
  const me: LockClaim = {
    owner: crypto.randomUUID(),
    host: hostName(),
    pid: Deno.pid,
    command: options.command ?? "tide",
  };
  await lock.ensure(db);
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    const { taken, tookOver } = await lock.tryTake(db, me, leaseMs);
    if (taken) {
      if (tookOver) {
        options.onNotice?.(
          `took over a stale migration lock (${lock.name}) left by ${describeHolder(tookOver)}: its lease ran out, ` +
            "so that run is gone or stalled; check that it is not still running",
        );
      }
      break;
    }
    const left = deadline - Date.now();
    if (left <= 0) {
      const holder = await lock.holder(db);
      throw new LockTimeoutError(
        `Another tide run holds the migration lock (table ${lock.name}${
          holder ? `: ${describeHolder(holder)}` : ""
        }); gave up after ${options.timeoutMs} ms. Wait for it to finish, or raise --lock-timeout; ` +
          "a lock whose run is gone is taken over once its lease expires (tide check shows it, tide unlock clears it)",
      );
    }
    await new Promise((r) => setTimeout(r, Math.min(250, left)));
  }

  // Renew every third of the lease, on this connection only (one renewal at a time).
  let renewed = Date.now();
  let lost: string | undefined;
  let renewing: Promise<void> | undefined;
  const renew = async () => {
    try {
      if (await lock.renew(db, me.owner, leaseMs)) renewed = Date.now();
      else lost ??= "another run took the lock over (its lease had run out)";
    } catch (error) {
      if (Date.now() - renewed > leaseMs) lost ??= `the lease could not be renewed: ${(error as Error).message}`;
    }
  };
  const timer = setInterval(() => {
    renewing ??= renew().finally(() => renewing = undefined);
  }, Math.max(50, Math.floor(leaseMs / 3)));
  const held: HeldLock = {
    kind: "table",
    sessionState,
    guard() {
      if (lost === undefined && Date.now() - renewed > leaseMs) lost = "its lease was not renewed in time";
      if (lost !== undefined) {
        throw new RunError(
          `This run lost the migration lock (table ${lock.name}): ${lost}; it stopped before the next migration. ` +
            "Run tide check to see the history, then run again",
        );
      }
    },
  };
  try {
    return await fn(held);
  } finally {
    clearInterval(timer);
    await renewing;
    await lock.release(db, me.owner).catch((error) => {
      options.onNotice?.(
        `could not release the migration lock (table ${lock.name}): ${(error as Error).message}; ` +
          "it is taken over once its lease expires, or cleared by tide unlock",
      );
    });
  }
}

/** What `check` shows of the run lock. */
export interface LockStatus {
  /** The table lock's name (`<migrationTable>_lock`). */
  readonly table: string;
  /** The table lock's row, if one is there (live or stale). */
  readonly holder?: import("./table_lock.ts").LockHolder;
  /** Server sessions holding the advisory lock (backend pid, application, since). */
  readonly advisory: readonly { pid: number; application: string | null; since: string | null }[];
}

/** Reads both locks without taking either (servers; PGlite has its lock file). */
export async function lockStatus(session: Session): Promise<LockStatus | undefined> {
  if (session.db.kind !== "postgres") return undefined;
  const lock = new TableLock(session.config.migrationTable, session.history.lockKey);
  const holder = await lock.holder(session.db);
  const advisory = await session.db.query<{ pid: number; application: string | null; since: string | null }>(
    `select l.pid, a.application_name as application,
            to_char(a.backend_start at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') as since
       from pg_locks l left join pg_stat_activity a on a.pid = l.pid
      where l.locktype = 'advisory' and l.granted and l.objsubid = 1 and l.database = (select oid from pg_database where datname = current_database())
        and ((l.classid::bigint << 32) | l.objid::bigint) = hashtext($1)::bigint`,
    [session.history.lockKey],
  ).catch(() => []);
  return { table: lock.name, ...(holder ? { holder } : {}), advisory };
}

/**
 * `tide unlock`: clears a stale table lock, a live one only with `force`. The advisory lock
 * ends with its session and is never cleared here.
 */
export async function unlockTable(
  session: Session,
  force: boolean,
): Promise<{ table: string; cleared: boolean; holder?: import("./table_lock.ts").LockHolder }> {
  const lock = new TableLock(session.config.migrationTable, session.history.lockKey);
  if (session.db.kind !== "postgres") return { table: lock.name, cleared: false };
  await assertWritable(session);
  return { table: lock.name, ...(await lock.clear(session.db, force)) };
}
