/**
 * What happened to each migration of a run, as data: the outcome types, and how a failure, a
 * lost connection or a success becomes one.
 *
 * @module
 */

import { type ConnectionLostError, type Database, StatementError } from "../db/database.ts";
import { History } from "./history.ts";
import { DEFAULT_IN_DOUBT, learnTruth, truthKey } from "./in_doubt.ts";
import type { Plan, PlannedMigration } from "./plan.ts";
import type { RunOptions } from "./run.ts";

/** What happened to one migration. */
export type MigrationOutcomeStatus =
  | "applied"
  | "reversed"
  | "faked"
  | "previewed"
  | "failed"
  | "not-run"
  | "unknown";

/** The result of one migration of a run. */
export interface MigrationOutcome {
  readonly app: string;
  readonly id: string;
  readonly description: string;
  /**
   * `applied`/`reversed`/`faked`: done and committed. `failed`: rolled back, nothing of it
   * remains. `not-run`: not attempted because an earlier one failed. `previewed`: only shown.
   * `unknown`: the connection was lost and even on a new one whether it committed could not
   * be learned.
   */
  readonly status: MigrationOutcomeStatus;
  readonly durationMs: number;
  /** Statements executed (or that would be, when previewed). */
  readonly sql: readonly string[];
  /** Why it failed (or, for `unknown`, what to check). */
  readonly error?: MigrationFailure;
  /** Something the user must know about a migration that is done (e.g. the connection was lost at its COMMIT). */
  readonly note?: string;
}

/** Why a migration failed. */
export interface MigrationFailure {
  /** One line naming the migration, the statement and the server's error. */
  readonly message: string;
  /** The statement that failed, if one did. */
  readonly statement?: string;
}

/** The result of running a plan. */
export interface RunResult {
  /** True when every migration of the plan is done. */
  readonly success: boolean;
  /** One outcome per planned migration, in plan order. */
  readonly outcomes: readonly MigrationOutcome[];
  /** Why the run stopped early when no migration failed (the connection was lost between two). */
  readonly stopped?: string;
}

/** Done and committed. */
export function isDone(o: MigrationOutcome): boolean {
  return o.status === "applied" || o.status === "reversed" || o.status === "faked";
}

/** The reason of a lost connection, without the message's own preamble. */
export function lostReason(error: ConnectionLostError): string {
  return error.message.replace(/^The connection to the server was lost\s*/, "").replace(/^\(([^)]*)\):\s*/, "$1: ");
}

/**
 * The outcomes of `migrations` whose fate the lost connection left in doubt: what their
 * history rows, read on a new connection, say; `unknown` when even that cannot be read.
 */
export async function lostOutcomes(
  db: Database,
  history: History,
  plan: Plan,
  migrations: readonly PlannedMigration[],
  options: RunOptions,
  error: ConnectionLostError,
  started: readonly number[],
  executed: readonly string[][],
): Promise<MigrationOutcome[]> {
  const learned = await learnTruth(
    db,
    history,
    plan.direction,
    migrations,
    options.inDoubt ?? DEFAULT_IN_DOUBT,
    options.sessionState === false,
  );
  const where = error.statement === undefined ? "" : ` at statement: ${oneLine(error.statement)}`;
  const lost = `the connection to the server was lost${where} (${lostReason(error)})`;
  return migrations.map((m, i): MigrationOutcome => {
    const base = { ...notRun(m), durationMs: elapsed(started[i] ?? performance.now()), sql: executed[i] ?? [] };
    const name = `Migration ${m.app} ${m.id}${m.description ? ` (${m.description})` : ""}`;
    if (!learned.ok) {
      const check = `select count(*) from ${history.table} where app_name = ${sqlText(m.app)} and name = ${
        sqlText(m.id)
      }`;
      const meaning = plan.direction === "forwards"
        ? "1 means it was applied, 0 that it was not"
        : "0 means it was reversed, 1 that it was not";
      return {
        ...base,
        status: "unknown",
        error: {
          message:
            `${name}: outcome UNKNOWN: ${lost}, and whether it committed could not be learned: ${learned.reason}. ` +
            `Check before running again: ${check} (${meaning})` +
            (m.transactional
              ? ""
              : "; it runs outside a transaction, so some of its statements may have stayed applied"),
        },
      };
    }
    if (learned.truth.get(truthKey(m)) === "committed") {
      const status = plan.direction === "backwards" ? "reversed" : options.fake ? "faked" : "applied";
      return {
        ...base,
        status,
        note: `${lost}; its history row, read on a new connection, shows that it committed`,
      };
    }
    const partial = m.transactional
      ? "so nothing of it remains"
      : "but it runs outside a transaction (CONCURRENTLY): the statements before the loss may have stayed applied " +
        "(an INVALID index is dropped and rebuilt by the next run)";
    return {
      ...base,
      status: "failed",
      error: {
        message: `${name} failed: ${lost}; its history row, read on a new connection, shows that it did not commit, ` +
          `${partial}. Run the command again`,
        ...(error.statement === undefined ? {} : { statement: error.statement }),
      },
    };
  });
}

function sqlText(s: string): string {
  return `'${s.replaceAll("'", "''")}'`;
}

/** The outcome of a migration that was not attempted. */
export function notRun(m: PlannedMigration): MigrationOutcome {
  return { app: m.app, id: m.id, description: m.description, status: "not-run", durationMs: 0, sql: [] };
}

/** The outcome of a migration done and committed. */
export function done(
  plan: Plan,
  m: PlannedMigration,
  options: RunOptions,
  started: number,
  executed: string[],
): MigrationOutcome {
  const status = plan.direction === "backwards" ? "reversed" : options.fake ? "faked" : "applied";
  return { ...notRun(m), status, durationMs: elapsed(started), sql: executed };
}

/** A failed outcome: rolled back (or, for CONCURRENTLY, partly applied, as its message says). */
export function failed(
  m: PlannedMigration,
  started: number,
  executed: string[],
  error: unknown,
  atomic = false,
): MigrationOutcome {
  return {
    ...notRun(m),
    status: "failed",
    durationMs: elapsed(started),
    sql: executed,
    error: describeFailure(m, error, atomic),
  };
}

/** Whether an error is `lock_timeout` running out (SQLSTATE 55P03, lock_not_available). */
export function isLockTimeout(error: unknown): boolean {
  return error instanceof StatementError && error.server.code === "55P03";
}

/** Milliseconds since `started`, to a tenth. */
export function elapsed(started: number): number {
  return Math.round((performance.now() - started) * 10) / 10;
}

/** One message naming the migration, the statement and the cause; for `--atomic`, that all was rolled back. */
export function describeFailure(m: PlannedMigration, error: unknown, atomic = false): MigrationFailure {
  const what = `Migration ${m.app} ${m.id}${m.description ? ` (${m.description})` : ""} failed` +
    (atomic ? " and the whole --atomic run was rolled back" : "");
  if (isLockTimeout(error)) {
    return {
      message:
        `${what}: statement ${
          oneLine((error as StatementError).statement)
        } kept waiting for a lock held by another session ` +
        "(lock_timeout, after every retry). Find the blocker in pg_stat_activity, or raise --ddl-lock-timeout / --ddl-retries",
      statement: (error as StatementError).statement,
    };
  }
  if (error instanceof StatementError && History.isPreviousCommittedCheck(error.statement)) {
    return {
      message: `${what}: the migration before it turned out not to be committed, so nothing of this one ran`,
      statement: error.statement,
    };
  }
  if (error instanceof StatementError && History.isAlreadyGone(error.statement, error.server.code)) {
    return {
      message: `${what}: its history row was already gone (another run reversed it first); nothing was changed`,
      statement: error.statement,
    };
  }
  if (error instanceof StatementError) {
    const partial = m.transactional
      ? ""
      : ". This migration runs outside a transaction (CONCURRENTLY), so the statements before this one stayed applied " +
        "and it is not recorded as run: undo them (or finish them by hand and record it with --fake), then run again";
    return {
      message: `${what} at statement: ${oneLine(error.statement)} — ${error.message}${partial}`,
      statement: error.statement,
    };
  }
  const message = error instanceof Error ? error.message : String(error);
  return { message: `${what}: ${message}` };
}

function oneLine(sql: string): string {
  const text = sql.replace(/\s+/g, " ").trim();
  return text.length > 200 ? text.slice(0, 197) + "..." : text;
}
