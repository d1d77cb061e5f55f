/**
 * One migration's transaction: its statements, captures and history row change, batched into
 * as few round trips as the transport allows; the DDL timeouts it runs under; retries after a
 * lock timeout.
 *
 * @module
 */

import { SEQUENTIAL_MODE } from "../catalog/distribution.ts";
import { type Database, type Queryable, StatementError } from "../db/database.ts";
import { captureFor } from "../migration/capture.ts";
import { type Capture, CAPTURING_KINDS, type Operation } from "../migration/operations.ts";
import { quoteIdent, quoteName, splitName } from "../migration/quote.ts";
import { renderBackwards, renderForwards, type Step } from "../migration/render.ts";
import { withRetention } from "../retention/capture.ts";
import type { History, StoredReversal } from "./history.ts";
import { isLockTimeout } from "./outcome.ts";
import type { PlannedMigration } from "./plan.ts";
import type { RunOptions } from "./run.ts";

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

/** The pause before a retry: exponential from 100 ms, jittered by ±50% so runs spread out. */
export function jitteredPause(attempt: number): number {
  return 100 * 2 ** (attempt - 1) * (0.5 + Math.random());
}

/** Runs `attempt`, again after a pause when a lock timeout rolled it back, up to the retries. */
export async function withRetries(
  options: RunOptions,
  executed: string[],
  attempt: () => Promise<void>,
): Promise<void> {
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

/**
 * Runs one migration: in its own transaction, or, with CONCURRENTLY steps, statement by
 * statement under session-level timeouts (each statement retried on its own after a lock timeout).
 */
export async function runMigration(
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
export async function migrationBody(
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

/** The statement that records a migration as run (forwards) or not (backwards). */
export function historyStatement(
  history: History,
  m: PlannedMigration,
  captures: Record<string, Capture>,
  fake: boolean,
) {
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
