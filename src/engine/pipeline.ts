/**
 * Runs a plan migration after migration, each in its own transaction, pipelining where the
 * transport can.
 *
 * @module
 */

import { ConnectionLostError, type Database, StatementError } from "../db/database.ts";
import type { History } from "./history.ts";
import {
  done,
  failed,
  isDone,
  isLockTimeout,
  lostOutcomes,
  lostReason,
  type MigrationOutcome,
  notRun,
  type RunResult,
} from "./outcome.ts";
import type { Plan, PlannedMigration } from "./plan.ts";
import type { RunOptions } from "./run.ts";
import {
  DEFAULT_DDL_SAFETY,
  jitteredPause,
  type PureStatements,
  pureStatements,
  runMigration,
  withRetries,
} from "./transaction.ts";

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
export class Runner {
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

/** What a sent migration executed: up to the statement that failed, without tide's check. */
function executedOf(sent: Sent, error?: unknown): string[] {
  const all = [...sent.statements.prefix, ...sent.statements.body];
  if (!(error instanceof StatementError)) return all;
  // The index counts the check, which sits between the prefix and the body.
  const index = sent.checked && error.index > sent.statements.prefix.length ? error.index - 1 : error.index;
  return all.slice(0, index + 1);
}
