/**
 * Runs a plan: one transaction per migration, the history row written or deleted inside it.
 * It never throws for a failing migration: it returns what happened to each one.
 *
 * @module
 */

import { isCitus, SEQUENTIAL_MODE } from "../catalog/distribution.ts";
import { ConnectionLostError, type Database, type Queryable, StatementError } from "../db/database.ts";
import { captureFor } from "../migration/capture.ts";
import { type Capture, CAPTURING_KINDS, type Operation } from "../migration/operations.ts";
import { quoteIdent, quoteName, splitName } from "../migration/quote.ts";
import { renderBackwards, renderForwards, type Step } from "../migration/render.ts";
import { History, type StoredReversal } from "./history.ts";
import { withRetention } from "../retention/capture.ts";
import { DEFAULT_IN_DOUBT, type InDoubtLimits, learnTruth, truthKey } from "./in_doubt.ts";
import type { Plan, PlannedMigration } from "./plan.ts";

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

/** Progress callbacks: the engine reports, the caller prints. */
export interface RunHooks {
  onStart?(migration: PlannedMigration): void;
  onEnd?(migration: PlannedMigration, outcome: MigrationOutcome): void;
}

/** Timeouts every migration's statements run under, so DDL never queues behind a long lock. */
export interface DdlSafety {
  /** `lock_timeout` of each migration's statements, in ms. @default 5000 */
  readonly lockTimeoutMs: number;
  /** How often to try again, after a jittered pause, when `lock_timeout` hits. @default 3 */
  readonly retries: number;
  /** `statement_timeout`, in ms; 0 disables it (Postgres's meaning); undefined keeps the server's. */
  readonly statementTimeoutMs?: number | undefined;
}

/** The defaults of {@linkcode DdlSafety}. */
export const DEFAULT_DDL_SAFETY: DdlSafety = { lockTimeoutMs: 5000, retries: 3 };

/** The `SET` statements that apply `safety`: `SET LOCAL` inside a transaction. */
export function safetyStatements(safety: DdlSafety, local: boolean): string[] {
  const set = local ? "SET LOCAL" : "SET";
  return [
    `${set} lock_timeout = '${Math.round(safety.lockTimeoutMs)}ms'`,
    ...(safety.statementTimeoutMs === undefined
      ? []
      : safety.statementTimeoutMs === 0
      ? [`${set} statement_timeout = 0`]
      : [`${set} statement_timeout = '${Math.round(safety.statementTimeoutMs)}ms'`]),
  ];
}

/**
 * Citus: `SET LOCAL citus.multi_shard_modify_mode TO 'sequential'` in each migration's
 * transaction on a Citus database (see SEQUENTIAL_MODE for why). Outside a transaction
 * (CONCURRENTLY) it is neither possible nor needed.
 */
export function citusStatements(m: PlannedMigration, citus: boolean): string[] {
  return citus && m.transactional ? [SEQUENTIAL_MODE] : [];
}

/** Options of {@linkcode runPlan}. */
export interface RunOptions {
  /** Record forwards migrations as run without running them. */
  readonly fake?: boolean;
  readonly hooks?: RunHooks;
  /** Timeouts and retries for the migrations' statements. @default DEFAULT_DDL_SAFETY */
  readonly safety?: DdlSafety;
  /**
   * Run the whole plan in one transaction: all or nothing. Refused for plans with steps that
   * cannot run in a transaction.
   */
  readonly atomic?: boolean;
  /** Pause before retry `attempt` (from 1), in ms; tests shorten it. */
  readonly retryPause?: (attempt: number) => number;
  /** Set by runPlan: the database runs Citus. */
  readonly citus?: boolean;
  /**
   * Whether session state persists on the connection. False behind a transaction pooler:
   * then no session-level `SET` is sent (it would stay on some other client's server
   * connection). @default true
   */
  readonly sessionState?: boolean;
  /** Called before each migration; throws to stop the run there (the run lock was lost). */
  readonly guard?: () => void;
  /** How long to try to learn the truth after the connection was lost. @default DEFAULT_IN_DOUBT */
  readonly inDoubt?: InDoubtLimits;
  /**
   * Keep each outcome's executed statements (`sql`); false drops them once reported to the
   * hooks, so that a run of thousands keeps small results. @default true
   */
  readonly keepSql?: boolean;
  /**
   * Send SQL-only migrations while the one before still runs, where the transport can. False
   * when `guard` must decide before each migration starts (the table lock's lease: a migration
   * already sent would start after a lease lost meanwhile). @default true
   */
  readonly pipeline?: boolean;
}

/** The pause before a retry: exponential from 100 ms, jittered by ±50% so runs spread out. */
export function jitteredPause(attempt: number): number {
  return 100 * 2 ** (attempt - 1) * (0.5 + Math.random());
}

/**
 * Runs each planned migration in its own transaction (or all in one with `atomic`), stopping
 * at the first failure. A long plan's listing entries are planned in full one at a time, as
 * they come to run (`plan.each`).
 */
export async function runPlan(
  db: Database,
  history: History,
  plan: Plan,
  options: RunOptions = {},
): Promise<RunResult> {
  const light = plan.migrations.some((m) => m.light);
  // A listing entry of a long plan has no SQL: running it would only delete its history row.
  if (light && (plan.each === undefined || options.atomic)) {
    throw new TypeError("runPlan was given listing entries: plan them in full");
  }
  // Citus: known once per session; every migration's transaction then runs in sequential mode.
  options = { ...options, citus: await isCitus(db) };
  if (options.atomic) return await runAtomic(db, history, plan, options);
  return await new Runner(db, history, plan, options).run();
}

/** How many migrations' transactions may be sent and not yet settled at once. */
const PIPELINE_DEPTH = 3;

/** A migration whose transaction was sent, behind the one before it, and has not settled. */
interface Sent {
  readonly m: PlannedMigration;
  readonly statements: PureStatements;
  readonly started: number;
  /** Whether its transaction begins with the check that the one before it committed. */
  readonly checked: boolean;
  /** Undefined once committed, else why not. */
  readonly result: Promise<unknown>;
}

/**
 * One migration after another, each in its own transaction. Where the transport pipelines, a
 * migration made of SQL only is sent while the one before it is still running, its transaction
 * opening with a check that the one before committed ({@linkcode History.previousCommittedStatement}):
 * the server never waits for the client between two migrations, and a failure still stops the
 * run at the migration that failed, nothing of the next one applied.
 */
class Runner {
  readonly #db: Database;
  readonly #history: History;
  readonly #plan: Plan;
  readonly #options: RunOptions;
  readonly #outcomes: MigrationOutcome[] = [];
  readonly #inflight: Sent[] = [];
  #stopped: string | undefined;

  constructor(db: Database, history: History, plan: Plan, options: RunOptions) {
    this.#db = db;
    this.#history = history;
    this.#plan = plan;
    this.#options = options;
  }

  async run(): Promise<RunResult> {
    const shown = this.#plan.migrations;
    const full = shown.some((m) => m.light) ? this.#plan.each!(shown) : undefined;
    let going = true;
    try {
      for (let i = 0; going && i < shown.length; i++) {
        let m: PlannedMigration;
        try {
          m = full ? await nextOf(full, shown[i]!) : shown[i]!;
        } catch (error) {
          // It could not be planned again, so it did not run; what is under way comes first.
          if (await this.#settleAll()) {
            const failure = { ...notRun(shown[i]!), status: "failed" as const, error: { message: messageOf(error) } };
            this.#finish(shown[i]!, failure);
          }
          going = false;
          break;
        }
        going = await this.#one(m);
      }
      if (going) await this.#settleAll();
    } finally {
      await full?.return(undefined);
    }
    for (const m of shown.slice(this.#outcomes.length)) this.#outcomes.push(notRun(m));
    return {
      success: this.#outcomes.every(isDone),
      outcomes: this.#outcomes,
      ...(this.#stopped ? { stopped: this.#stopped } : {}),
    };
  }

  /** Runs or sends one migration; false when the run stops. */
  async #one(m: PlannedMigration): Promise<boolean> {
    const pipelining = this.#db.sendTransaction !== undefined && this.#options.pipeline !== false;
    const statements = pipelining ? pureStatements(this.#history, m, this.#options) : undefined;
    if (statements === undefined) return await this.#settleAll() && await this.#serial(m);
    // A few transactions wait behind the one running: the server has the next one at hand even
    // when the client is slow for a moment (a GC pause, the other core busy).
    if (this.#inflight.length >= PIPELINE_DEPTH && !(await this.#settleFirst())) return false;
    return await this.#send(m, statements);
  }

  #finish(m: PlannedMigration, outcome: MigrationOutcome): void {
    this.#options.hooks?.onEnd?.(m, outcome);
    this.#outcomes.push(this.#options.keepSql === false ? { ...outcome, sql: [] } : outcome);
  }

  async #send(m: PlannedMigration, statements: PureStatements): Promise<boolean> {
    try {
      this.#options.guard?.();
    } catch (error) {
      if (await this.#settleAll()) this.#finish(m, failed(m, performance.now(), [], error));
      return false;
    }
    this.#options.hooks?.onStart?.(m);
    const before = this.#inflight.at(-1)?.m;
    const check = before ? [this.#history.previousCommittedStatement(before.direction, before.app, before.id)] : [];
    const started = performance.now();
    const opening = [...statements.prefix, ...check];
    const result = this.#db.sendTransaction!([...opening, ...statements.body], opening.length).then(
      () => undefined,
      (error: unknown) => error ?? new Error("the transaction failed"),
    );
    this.#inflight.push({ m, statements, started, checked: check.length > 0, result });
    return true;
  }

  async #settleAll(): Promise<boolean> {
    while (this.#inflight.length > 0) if (!(await this.#settleFirst())) return false;
    return true;
  }

  /** Waits for the oldest sent migration; false when the run stops. */
  async #settleFirst(): Promise<boolean> {
    const first = this.#inflight.shift()!;
    const error = await first.result;
    if (error === undefined) {
      this.#finish(first.m, done(this.#plan, first.m, this.#options, first.started, executedOf(first)));
      return true;
    }
    // What was sent behind it: its check fails unless this one committed.
    const behind = this.#inflight.splice(0);
    const behindErrors = await Promise.all(behind.map((b) => b.result));
    if (error instanceof ConnectionLostError) {
      const all = [first, ...behind];
      const learned = await lostOutcomes(
        this.#db,
        this.#history,
        this.#plan,
        all.map((x) => x.m),
        this.#options,
        error,
        all.map((x) => x.started),
        all.map((x, i) => executedOf(x, i === 0 ? error : behindErrors[i - 1])),
      );
      for (const [i, x] of all.entries()) this.#finish(x.m, learned[i]!);
      this.#stopAfterLoss(learned, error);
      return false;
    }
    const retries = (this.#options.safety ?? DEFAULT_DDL_SAFETY).retries;
    if (isLockTimeout(error) && retries > 0) {
      // Nothing of it, nor of what was sent behind it, ran: it again on its own, then the rest.
      const pause = this.#options.retryPause ?? jitteredPause;
      await new Promise((r) => setTimeout(r, pause(1)));
      const again: RunOptions = {
        ...this.#options,
        safety: { ...(this.#options.safety ?? DEFAULT_DDL_SAFETY), retries: retries - 1 },
        retryPause: (attempt) => pause(attempt + 1),
      };
      if (!(await this.#serial(first.m, again, first.started))) return false;
      for (const b of behind) if (!(await this.#send(b.m, b.statements))) return false;
      return true;
    }
    this.#finish(first.m, failed(first.m, first.started, executedOf(first, error), error));
    // Never silent: one sent behind it that committed all the same (it cannot, by its check) says so.
    for (const [i, b] of behind.entries()) {
      if (behindErrors[i] === undefined) {
        this.#finish(b.m, done(this.#plan, b.m, this.#options, b.started, executedOf(b)));
      } else this.#outcomes.push(notRun(b.m));
    }
    return false;
  }

  /** One migration on its own, awaited: retried after a lock timeout; false when the run stops. */
  async #serial(m: PlannedMigration, options = this.#options, started = performance.now()): Promise<boolean> {
    options.hooks?.onStart?.(m);
    const executed: string[] = [];
    try {
      options.guard?.();
      await withRetries(options, executed, () => runMigration(this.#db, this.#history, m, options, executed));
    } catch (error) {
      if (!(error instanceof ConnectionLostError)) {
        this.#finish(m, failed(m, started, executed, error));
        return false;
      }
      // The session is gone: never continue on another one. Learn on a new connection
      // whether this migration committed, and stop.
      const learned = await lostOutcomes(this.#db, this.#history, this.#plan, [m], options, error, [started], [
        executed,
      ]);
      this.#finish(m, learned[0]!);
      this.#stopAfterLoss(learned, error);
      return false;
    }
    this.#finish(m, done(this.#plan, m, options, started, executed));
    return true;
  }

  /** After a loss where every migration in doubt turned out committed: why the run stopped. */
  #stopAfterLoss(learned: readonly MigrationOutcome[], error: ConnectionLostError): void {
    const left = this.#plan.migrations.length - this.#outcomes.length;
    const last = learned.at(-1)!;
    if (learned.every((o) => o.error === undefined) && left > 0) {
      this.#stopped =
        `The connection to the server was lost (${lostReason(error)}) after ${last.app} ${last.id} committed; ` +
        `the run stopped with ${left} migration(s) not run. Run the command again to go on`;
    }
  }
}

/** The next migration in full from `each`, which must be the one `shown`. */
async function nextOf(each: AsyncGenerator<PlannedMigration>, shown: PlannedMigration): Promise<PlannedMigration> {
  const next = await each.next();
  if (next.done) throw new Error(`Migration ${shown.app} ${shown.id} could not be planned again`);
  return next.value;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A failed outcome: rolled back (or, for CONCURRENTLY, partly applied, as its message says). */
function failed(m: PlannedMigration, started: number, executed: string[], error: unknown): MigrationOutcome {
  return {
    ...notRun(m),
    status: "failed",
    durationMs: elapsed(started),
    sql: executed,
    error: describeFailure(m, error),
  };
}

/** What a sent migration executed: up to the statement that failed, without tide's check. */
function executedOf(sent: Sent, error?: unknown): string[] {
  const all = [...sent.statements.prefix, ...sent.statements.body];
  if (!(error instanceof StatementError)) return all;
  // The index counts the check, which sits between the prefix and the body.
  const index = sent.checked && error.index > sent.statements.prefix.length ? error.index - 1 : error.index;
  return all.slice(0, index + 1);
}

/** A migration's transaction when it is SQL only: sent as it is, in one go. */
export interface PureStatements {
  /** The `SET LOCAL`s that open it. */
  readonly prefix: readonly string[];
  /** Its steps and its history row's change. */
  readonly body: readonly string[];
}

/**
 * The statements of a transactional migration whose steps are SQL only and need no capture
 * (every reversal; forwards without capturing operations); undefined for any other.
 */
export function pureStatements(history: History, m: PlannedMigration, options: RunOptions): PureStatements | undefined {
  if (!m.transactional) return undefined;
  const fake = options.fake ?? false;
  const body: string[] = [];
  if (!fake) {
    for (const unit of m.operations) {
      if (unit.direction === "forwards" && unit.op !== undefined && CAPTURING_KINDS.has(unit.op.kind)) return undefined;
      for (const step of unit.rendered.steps) {
        if (!("sql" in step)) return undefined;
        body.push(step.sql);
      }
    }
  }
  body.push(historyStatement(history, m, {}, fake));
  return {
    prefix: [
      ...safetyStatements(options.safety ?? DEFAULT_DDL_SAFETY, true),
      ...citusStatements(m, options.citus ?? false),
    ],
    body,
  };
}

/** The statement that records a migration as run (forwards) or not (backwards). */
function historyStatement(history: History, m: PlannedMigration, captures: Record<string, Capture>, fake: boolean) {
  return m.direction === "forwards"
    ? history.insertStatement(
      m.app,
      m.id,
      m.description,
      m.migration?.checksum ?? null,
      storedReversal(m, captures, fake),
    )
    : history.deleteStatement(m.app, m.id);
}

/** Done and committed. */
function isDone(o: MigrationOutcome): boolean {
  return o.status === "applied" || o.status === "reversed" || o.status === "faked";
}

function lostReason(error: ConnectionLostError): string {
  return error.message.replace(/^The connection to the server was lost\s*/, "").replace(/^\(([^)]*)\):\s*/, "$1: ");
}

/**
 * The outcomes of `migrations` whose fate the lost connection left in doubt: what their
 * history rows, read on a new connection, say; `unknown` when even that cannot be read.
 */
async function lostOutcomes(
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

function notRun(m: PlannedMigration): MigrationOutcome {
  return { app: m.app, id: m.id, description: m.description, status: "not-run", durationMs: 0, sql: [] };
}

function done(
  plan: Plan,
  m: PlannedMigration,
  options: RunOptions,
  started: number,
  executed: string[],
): MigrationOutcome {
  const status = plan.direction === "backwards" ? "reversed" : options.fake ? "faked" : "applied";
  return { ...notRun(m), status, durationMs: elapsed(started), sql: executed };
}

/** Whether an error is `lock_timeout` running out (SQLSTATE 55P03, lock_not_available). */
function isLockTimeout(error: unknown): boolean {
  return error instanceof StatementError && error.server.code === "55P03";
}

/** Runs `attempt`, again after a pause when a lock timeout rolled it back, up to the retries. */
async function withRetries(options: RunOptions, executed: string[], attempt: () => Promise<void>): Promise<void> {
  const retries = (options.safety ?? DEFAULT_DDL_SAFETY).retries;
  for (let tries = 0;; tries++) {
    try {
      return await attempt();
    } catch (error) {
      if (!isLockTimeout(error) || tries >= retries) throw error;
      executed.length = 0;
      await new Promise((r) => setTimeout(r, (options.retryPause ?? jitteredPause)(tries + 1)));
    }
  }
}

/** How many migrations of an `--atomic` run may be sent ahead of the one the server is running. */
const ATOMIC_WINDOW = 4;

/** `--atomic`: one transaction for the whole plan; a failure anywhere rolls everything back. */
async function runAtomic(db: Database, history: History, plan: Plan, options: RunOptions): Promise<RunResult> {
  const outcomes: MigrationOutcome[] = [];
  let failure: { index: number; error: unknown } | undefined;
  const executed: string[][] = [];
  const started: number[] = [];
  try {
    await withRetries(options, [], async () => {
      outcomes.length = 0;
      await db.transaction(async (tx) => {
        await tx.execute(safetyStatements(options.safety ?? DEFAULT_DDL_SAFETY, true));
        // Citus: before any multi-shard command of the whole transaction.
        if (options.citus) await tx.execute([SEQUENTIAL_MODE]);
        // Where the transport pipelines, migrations of SQL only are sent without waiting for
        // each other's results (in one transaction, a failure aborts everything after it anyway);
        // they are awaited before a migration that needs answers, and before the COMMIT.
        // A window of them is in flight at once: enough to keep the server busy, few enough that
        // memory does not grow with the plan.
        const pending: { index: number; statements: readonly string[]; result: Promise<unknown> }[] = [];
        const settle = async (keep: number) => {
          while (pending.length > keep) {
            const { index, statements, result } = pending.shift()!;
            const error = await result;
            if (error === undefined) continue;
            // What was sent after it fails too (the transaction is aborted): observed, not reported.
            await Promise.all(pending.splice(0).map((p) => p.result));
            executed[index] = error instanceof StatementError ? statements.slice(0, error.index + 1) : [...statements];
            failure = { index, error };
            throw error;
          }
        };
        const drain = () => settle(0);
        for (const [index, m] of plan.migrations.entries()) {
          options.hooks?.onStart?.(m);
          started[index] = performance.now();
          const pure = db.sendTransaction ? pureStatements(history, m, options) : undefined;
          if (pure) {
            executed[index] = [...pure.body];
            const result = tx.execute(pure.body).then(() => undefined, (e: unknown) => e ?? new Error("failed"));
            pending.push({ index, statements: pure.body, result });
            outcomes.push(done(plan, m, options, started[index]!, executed[index]!));
            await settle(ATOMIC_WINDOW);
            continue;
          }
          await drain();
          executed[index] = [];
          try {
            await migrationBody(tx, history, m, options, executed[index]!, false);
          } catch (error) {
            failure = { index, error };
            throw error;
          }
          outcomes.push(done(plan, m, options, started[index]!, executed[index]!));
        }
        await drain();
      });
    });
  } catch (error) {
    // Lost at the COMMIT itself: the last migration was the one under way.
    failure ??= { index: error instanceof ConnectionLostError ? plan.migrations.length - 1 : 0, error };
  }
  if (failure !== undefined && failure.error instanceof ConnectionLostError) {
    // The one transaction may or may not have committed (a loss at COMMIT): the history says.
    const result = await lostOutcomes(
      db,
      history,
      plan,
      plan.migrations,
      options,
      failure.error,
      plan.migrations.map((_, i) => started[i] ?? performance.now()),
      plan.migrations.map((_, i) => executed[i] ?? []),
    );
    const committed = result.every(isDone);
    // Not committed: all rolled back together; the one under way when it was lost says why.
    const atomicResult = committed
      ? result
      : result.map((o, i) => o.status === "unknown" || i === failure!.index ? o : notRun(plan.migrations[i]!));
    for (const [i, m] of plan.migrations.entries()) options.hooks?.onEnd?.(m, atomicResult[i]!);
    return { success: committed, outcomes: atomicResult };
  }
  if (failure === undefined) {
    for (const [i, m] of plan.migrations.entries()) options.hooks?.onEnd?.(m, outcomes[i]!);
    return { success: true, outcomes };
  }
  // Everything was rolled back: the failed one says why, the others did not happen.
  const result = plan.migrations.map((m, i): MigrationOutcome =>
    i === failure!.index
      ? {
        ...notRun(m),
        status: "failed",
        durationMs: elapsed(started[i] ?? performance.now()),
        sql: executed[i] ?? [],
        error: describeFailure(m, failure!.error, true),
      }
      : notRun(m)
  );
  for (const [i, m] of plan.migrations.entries()) options.hooks?.onEnd?.(m, result[i]!);
  return { success: false, outcomes: result };
}

function elapsed(started: number): number {
  return Math.round((performance.now() - started) * 10) / 10;
}

async function runMigration(
  db: Database,
  history: History,
  m: PlannedMigration,
  options: RunOptions,
  executed: string[],
): Promise<void> {
  const safety = options.safety ?? DEFAULT_DDL_SAFETY;
  if (m.transactional) {
    await db.transaction((tx) => migrationBody(tx, history, m, options, executed, true));
    return;
  }
  // CONCURRENTLY cannot run in a transaction: statement by statement, each retried on its own
  // when it times out waiting for a lock (a statement that timed out changed nothing).
  const session = options.sessionState ?? true;
  if (session) await db.execute(safetyStatements(safety, false));
  try {
    const retrying: Queryable = {
      query: (sql, params) => db.query(sql, params),
      execute: async (statements) => {
        const counts: number[] = [];
        for (const statement of statements) {
          await withRetries(options, [], async () => {
            counts.push(...(await db.execute([statement])));
          });
        }
        return counts;
      },
    };
    await migrationBody(retrying, history, m, options, executed, false);
  } finally {
    if (session) await db.execute(["RESET lock_timeout", "RESET statement_timeout"]).catch(() => {});
  }
}

/** The statements of one migration, its captures, and its history row change. */
async function migrationBody(
  q: Queryable,
  history: History,
  m: PlannedMigration,
  options: RunOptions,
  executed: string[],
  setLocal: boolean,
): Promise<void> {
  const batch = new Batch(q, executed);
  if (setLocal) {
    for (const sql of safetyStatements(options.safety ?? DEFAULT_DDL_SAFETY, true)) await batch.add({ sql });
    for (const sql of citusStatements(m, options.citus ?? false)) await batch.add({ sql });
  }
  const captures: Record<string, Capture> = {};
  const fake = options.fake ?? false;
  if (!fake) {
    for (const unit of m.operations) {
      let steps = unit.rendered.steps;
      if (unit.direction === "forwards" && unit.op !== undefined && CAPTURING_KINDS.has(unit.op.kind)) {
        // The capture must see what earlier statements of this migration did.
        await batch.flush();
        let capture = await captureFor(q, unit.op);
        // retention (issue 15): where a retained drop's data goes, stored with the capture.
        if (m.direction === "forwards") {
          capture = await withRetention(q, unit.op, capture, {
            app: m.app,
            migration: m.id,
            index: unit.rendered.index,
          });
        }
        if (capture !== undefined) captures[String(unit.rendered.index)] = capture;
        steps = renderForwards(unit.op, unit.rendered.index, capture).steps;
      }
      if (!m.transactional && unit.direction === "forwards" && unit.op?.kind === "addIndex" && unit.op.concurrently) {
        await batch.flush();
        if (await leftoverIndex(q, unit.op, executed) === "kept") steps = [];
      }
      if (!m.transactional && unit.direction === "backwards" && unit.op?.kind === "addIndex" && unit.op.concurrently) {
        // An interrupted reversal may have dropped the index but not yet the history row.
        await batch.flush();
        if (!(await indexExists(q, unit.op.table, unit.op.name))) {
          executed.push(`-- index ${unit.op.name} is already gone (an interrupted run dropped it): nothing to drop`);
          steps = [];
        }
      }
      for (const step of steps) await batch.add(step);
    }
  }
  await batch.add({ sql: historyStatement(history, m, captures, fake) });
  // In a migration's own transaction, the COMMIT travels with the last statements.
  await batch.flush(setLocal);
}

/**
 * A CREATE INDEX CONCURRENTLY interrupted by a crash or a lost connection leaves an INVALID
 * index, or a complete one, and no history row. Since the migration has not run, an INVALID
 * index is a leftover: dropped so the run proceeds. A valid one that is exactly what this step
 * builds (same table, columns in order, uniqueness, a plain btree) is kept instead of built
 * again; any other index of that name makes the CREATE fail, as it should.
 */
async function leftoverIndex(
  q: Queryable,
  op: { table: string; name: string; columns: readonly string[]; unique?: boolean | undefined },
  executed: string[],
): Promise<"none" | "dropped" | "kept"> {
  const name = indexName(op.table, op.name);
  const [row] = await q.query<{ invalid: boolean; same: boolean }>(
    `select not i.indisvalid as invalid,
            i.indrelid = to_regclass($2) and i.indisunique = $3 and i.indpred is null and i.indexprs is null
              and (select amname from pg_am a join pg_class c on c.relam = a.oid where c.oid = i.indexrelid) = 'btree'
              and (select array_agg(attname::text order by k.n) from unnest(i.indkey::int2[]) with ordinality k(num, n)
                     join pg_attribute on attrelid = i.indrelid and attnum = k.num) = $4::text[] as same
       from pg_index i where i.indexrelid = to_regclass($1)`,
    [name, quoteName(op.table), op.unique ?? false, op.columns],
  );
  if (!row) return "none";
  if (row.invalid) {
    const sql = `DROP INDEX CONCURRENTLY ${name}`;
    executed.push(`-- ${name} is an INVALID leftover of an interrupted run: dropped before building it again`, sql);
    await q.execute([sql]);
    return "dropped";
  }
  if (!row.same) return "none";
  executed.push(`-- ${name} was already built by an interrupted run and matches this step: kept`);
  return "kept";
}

function indexName(table: string, index: string): string {
  const { schema } = splitName(table);
  return schema === undefined ? quoteIdent(index) : `${quoteIdent(schema)}.${quoteIdent(index)}`;
}

async function indexExists(q: Queryable, table: string, index: string): Promise<boolean> {
  const [row] = await q.query<{ found: boolean }>("select to_regclass($1) is not null as found", [
    indexName(table, index),
  ]);
  return Boolean(row?.found);
}

/**
 * Collects consecutive SQL statements and sends them together, so that a migration without
 * function steps or captures costs one round trip (its COMMIT included, where the transport
 * can).
 */
class Batch {
  readonly #q: Queryable;
  readonly #executed: string[];
  #pending: string[] = [];

  constructor(q: Queryable, executed: string[]) {
    this.#q = q;
    this.#executed = executed;
  }

  async add(step: Step): Promise<void> {
    if ("sql" in step) {
      this.#pending.push(step.sql);
      return;
    }
    await this.flush();
    this.#executed.push(`-- ${step.label}`);
    await step.run(this.#q);
  }

  /** Sends what is pending; with `commit`, the transaction's COMMIT goes along. */
  async flush(commit = false): Promise<void> {
    const statements = this.#pending;
    this.#pending = [];
    if (statements.length === 0 && !commit) return;
    try {
      if (commit && this.#q.executeAndCommit) await this.#q.executeAndCommit(statements);
      else if (statements.length > 0) await this.#q.execute(statements);
    } catch (error) {
      // Report what was sent up to the failing statement; the rest never ran.
      const upTo = error instanceof StatementError ? error.index + 1 : statements.length;
      this.#executed.push(...statements.slice(0, upTo));
      throw error;
    }
    this.#executed.push(...statements);
  }
}

/** What to store with a forwards history row so that the reversal needs neither file nor guess. */
export function storedReversal(m: PlannedMigration, captures: Record<string, Capture>, fake: boolean): StoredReversal {
  if (m.migration?.module.backwards !== undefined) {
    return { captures, statements: null, ...(fake ? { faked: true } : {}) };
  }
  const ops = m.operations.flatMap((o) => (o.op ? [o.op] : []));
  const covered = ops.some((op) => op.kind === "rawBackwards");
  const rendered = ops.map((op, i) => renderBackwards(op, i, captures[String(i)], covered)).reverse();
  const pure = rendered.every((r) => r.irreversible === undefined && r.steps.every((s) => "sql" in s));
  const statements = pure ? rendered.flatMap((r) => r.steps.map((s) => (s as { sql: string }).sql)) : null;
  const json = ops.every((op) => !(op.kind === "raw" || op.kind === "rawBackwards") || isText(op));
  return { captures, statements, operations: json ? ops : null, ...(fake ? { faked: true } : {}) };
}

function isText(op: Operation): boolean {
  if (op.kind === "raw") {
    return typeof op.forwards === "string" && (op.backwards === undefined || typeof op.backwards === "string");
  }
  return op.kind !== "rawBackwards" || typeof op.backwards === "string";
}

function describeFailure(m: PlannedMigration, error: unknown, atomic = false): MigrationFailure {
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
