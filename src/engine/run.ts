/**
 * Runs a plan: one transaction per migration, the history row written or deleted inside it.
 * It never throws for a failing migration: it returns what happened to each one.
 *
 * @module
 */

import { type Database, type Queryable, StatementError } from "../db/database.ts";
import { captureFor } from "../migration/capture.ts";
import { type Capture, CAPTURING_KINDS } from "../migration/operations.ts";
import { renderBackwards, renderForwards, type Step } from "../migration/render.ts";
import type { History, StoredReversal } from "./history.ts";
import type { Plan, PlannedMigration } from "./plan.ts";

/** What happened to one migration. */
export type MigrationOutcomeStatus = "applied" | "reversed" | "faked" | "previewed" | "failed" | "not-run";

/** The result of one migration of a run. */
export interface MigrationOutcome {
  readonly app: string;
  readonly id: string;
  readonly description: string;
  /**
   * `applied`/`reversed`/`faked`: done and committed. `failed`: rolled back, nothing of it
   * remains. `not-run`: not attempted because an earlier one failed. `previewed`: only shown.
   */
  readonly status: MigrationOutcomeStatus;
  readonly durationMs: number;
  /** Statements executed (or that would be, when previewed). */
  readonly sql: readonly string[];
  /** Why it failed. */
  readonly error?: MigrationFailure;
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
}

/** Progress callbacks: the engine reports, the caller prints. */
export interface RunHooks {
  onStart?(migration: PlannedMigration): void;
  onEnd?(migration: PlannedMigration, outcome: MigrationOutcome): void;
}

/** Options of {@linkcode runPlan}. */
export interface RunOptions {
  /** Record forwards migrations as run without running them. */
  readonly fake?: boolean;
  readonly hooks?: RunHooks;
}

/** Runs each planned migration in its own transaction, stopping at the first failure. */
export async function runPlan(db: Database, history: History, plan: Plan, options: RunOptions = {}): Promise<RunResult> {
  const outcomes: MigrationOutcome[] = [];
  let failed = false;
  for (const m of plan.migrations) {
    if (failed) {
      outcomes.push({ app: m.app, id: m.id, description: m.description, status: "not-run", durationMs: 0, sql: [] });
      continue;
    }
    options.hooks?.onStart?.(m);
    const started = performance.now();
    const executed: string[] = [];
    let outcome: MigrationOutcome;
    try {
      await runMigration(db, history, m, options.fake ?? false, executed);
      const status = plan.direction === "backwards" ? "reversed" : options.fake ? "faked" : "applied";
      outcome = { app: m.app, id: m.id, description: m.description, status, durationMs: elapsed(started), sql: executed };
    } catch (error) {
      failed = true;
      outcome = { app: m.app, id: m.id, description: m.description, status: "failed", durationMs: elapsed(started), sql: executed, error: describeFailure(m, error) };
    }
    outcomes.push(outcome);
    options.hooks?.onEnd?.(m, outcome);
  }
  return { success: !failed, outcomes };
}

function elapsed(started: number): number {
  return Math.round((performance.now() - started) * 10) / 10;
}

async function runMigration(db: Database, history: History, m: PlannedMigration, fake: boolean, executed: string[]): Promise<void> {
  const body = async (q: Queryable) => {
    const batch = new Batch(q, executed);
    const captures: Record<string, Capture> = {};
    if (!fake) {
      for (const unit of m.operations) {
        let steps = unit.rendered.steps;
        if (unit.direction === "forwards" && unit.op !== undefined && CAPTURING_KINDS.has(unit.op.kind)) {
          // The capture must see what earlier statements of this migration did.
          await batch.flush();
          const capture = await captureFor(q, unit.op);
          if (capture !== undefined) captures[String(unit.rendered.index)] = capture;
          steps = renderForwards(unit.op, unit.rendered.index, capture).steps;
        }
        for (const step of steps) await batch.add(step);
      }
    }
    if (m.direction === "forwards") {
      batch.addHistory(history.insertStatement(m.app, m.id, m.description, m.migration?.checksum ?? null, storedReversal(m, captures, fake)));
    } else {
      batch.addHistory(history.deleteStatement(m.app, m.id));
    }
    await batch.flush();
  };
  if (m.transactional) await db.transaction(body);
  else await body(db);
}

/**
 * Collects consecutive SQL statements and sends them together, so that a migration without
 * function steps or captures costs one round trip.
 */
class Batch {
  readonly #q: Queryable;
  readonly #executed: string[];
  #pending: string[] = [];
  #historyIndex = -1;

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

  addHistory(sql: string): void {
    this.#historyIndex = this.#pending.length;
    this.#pending.push(sql);
  }

  async flush(): Promise<void> {
    if (this.#pending.length === 0) return;
    const statements = this.#pending;
    this.#pending = [];
    const historyIndex = this.#historyIndex;
    this.#historyIndex = -1;
    let counts: number[];
    try {
      counts = await this.#q.execute(statements);
    } catch (error) {
      // Report what was sent up to the failing statement; the rest never ran.
      const upTo = error instanceof StatementError ? error.index + 1 : statements.length;
      this.#executed.push(...statements.slice(0, upTo));
      throw error;
    }
    this.#executed.push(...statements);
    if (historyIndex !== -1 && counts[historyIndex] !== 1) {
      // Rolls the transaction back: a second run must never reverse a migration twice.
      throw new Error("its history row was already gone (another run reversed it first); nothing was changed");
    }
  }
}

/** What to store with a forwards history row so that the reversal needs neither file nor guess. */
export function storedReversal(m: PlannedMigration, captures: Record<string, Capture>, fake: boolean): StoredReversal {
  if (m.migration?.module.backwards !== undefined) return { captures, statements: null, ...(fake ? { faked: true } : {}) };
  const ops = m.operations.flatMap((o) => (o.op ? [o.op] : []));
  const covered = ops.some((op) => op.kind === "rawBackwards");
  const rendered = ops.map((op, i) => renderBackwards(op, i, captures[String(i)], covered)).reverse();
  const pure = rendered.every((r) => r.irreversible === undefined && r.steps.every((s) => "sql" in s));
  const statements = pure ? rendered.flatMap((r) => r.steps.map((s) => (s as { sql: string }).sql)) : null;
  return { captures, statements, ...(fake ? { faked: true } : {}) };
}

function describeFailure(m: PlannedMigration, error: unknown): MigrationFailure {
  const what = `Migration ${m.app} ${m.id}${m.description ? ` (${m.description})` : ""} failed`;
  if (error instanceof StatementError) {
    return { message: `${what} at statement: ${oneLine(error.statement)} — ${error.message}`, statement: error.statement };
  }
  const message = error instanceof Error ? error.message : String(error);
  return { message: `${what}: ${message}` };
}

function oneLine(sql: string): string {
  const text = sql.replace(/\s+/g, " ").trim();
  return text.length > 200 ? text.slice(0, 197) + "..." : text;
}
