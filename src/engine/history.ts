/**
 * The history table: one row per migration that has run (SPEC 2). Piccolo's columns plus
 * tide's own, added to an existing Piccolo table when tide first needs them.
 *
 * @module
 */

import type { Queryable } from "../db/database.ts";
import type { Capture, Operation } from "../migration/operations.ts";
import { quoteIdent, quoteLiteral, quoteName } from "../migration/quote.ts";

/** What tide stores with a history row to reverse the migration exactly. */
export interface StoredReversal {
  /** Catalog captures taken forwards, keyed by operation index. */
  readonly captures: Readonly<Record<string, Capture>>;
  /**
   * The whole reversal as SQL, rendered when the migration ran, or null when it needs the
   * module (function steps) or cannot be reversed.
   */
  readonly statements: readonly string[] | null;
  /**
   * The operations `forwards()` recorded, as JSON, when none is a function: with the
   * captures they re-render the exact reversal without importing the file.
   */
  readonly operations?: readonly Operation[] | null;
  /** Whether the migration was recorded with --fake (nothing captured). */
  readonly faked?: boolean;
}

/** One row of the history table. */
export interface HistoryRow {
  readonly app: string;
  readonly id: string;
  /** When it ran, as ISO 8601 text. */
  readonly ranOn: string;
  readonly description: string | null;
  readonly checksum: string | null;
  readonly reversal: StoredReversal | null;
}

/** The column name that marks {@linkcode History.previousCommittedStatement}. */
const PREVIOUS_COMMITTED = "previous_migration_committed";

/** Reads and writes one history table. */
export class History {
  /** Quoted table name, as it appears in SQL. */
  readonly table: string;
  readonly #name: string;

  constructor(name: string) {
    this.#name = name;
    this.table = quoteName(name);
  }

  /** Whether the table exists (without creating it). */
  async exists(db: Queryable): Promise<boolean> {
    const [row] = await db.query<{ found: boolean }>("select to_regclass($1) is not null as found", [this.table]);
    return Boolean(row?.found);
  }

  /**
   * Statements that create the table, or add tide's columns (and index) to a Piccolo one.
   * Idempotent.
   */
  ensureStatements(): string[] {
    return [
      `CREATE TABLE IF NOT EXISTS ${this.table} (id serial PRIMARY KEY, name varchar(200) NOT NULL, app_name varchar(200) NOT NULL, ran_on timestamptz NOT NULL DEFAULT now())`,
      `ALTER TABLE ${this.table} ADD COLUMN IF NOT EXISTS description text, ADD COLUMN IF NOT EXISTS checksum text, ADD COLUMN IF NOT EXISTS reversal jsonb`,
      // Every migration's transaction finds its own row (the delete, the check that the one
      // before committed): without it each is a scan of the whole history, quadratic in its length.
      `CREATE INDEX IF NOT EXISTS ${quoteIdent(this.#indexName)} ON ${this.table} (app_name, name)`,
    ];
  }

  /** The lookup index's name (in the table's schema). */
  get #indexName(): string {
    return `${this.#name.split(".").at(-1)}_app_name_name_idx`;
  }

  /** Creates the table (or completes an older or a Piccolo one) if needed. */
  async ensure(db: Queryable): Promise<void> {
    if (await this.exists(db)) {
      const schema = this.#name.includes(".") ? `${quoteIdent(this.#name.split(".")[0]!)}.` : "";
      const [row] = await db.query<{ n: number; indexed: boolean }>(
        `select count(*)::int as n, to_regclass($2) is not null as indexed from pg_attribute
          where attrelid = to_regclass($1) and attname in ('description', 'checksum', 'reversal') and not attisdropped`,
        [this.table, `${schema}${quoteIdent(this.#indexName)}`],
      );
      if (row?.n === 3 && row.indexed) return;
    }
    await db.execute(this.ensureStatements());
  }

  /**
   * Rows of the given apps (all when omitted), most recently run last: by `ran_on`, then ID.
   * Returns no rows when the table does not exist.
   */
  async list(
    db: Queryable,
    apps?: readonly string[],
    options: { reversals?: boolean; newest?: number } = {},
  ): Promise<HistoryRow[]> {
    // One round trip for both facts: does the table exist, and does it have tide's columns.
    const [shape] = await db.query<{ found: boolean; tide: boolean }>(
      `select to_regclass($1) is not null as found,
              exists (select 1 from pg_attribute where attrelid = to_regclass($1) and attname = 'reversal' and not attisdropped) as tide`,
      [this.table],
    );
    if (!shape?.found) return [];
    const withReversals = options.reversals ?? true;
    const extra = shape.tide
      ? `description, checksum, ${withReversals ? "reversal::text" : "null"} as reversal`
      : "null as description, null as checksum, null as reversal";
    const where = apps ? "where app_name = any($1)" : "";
    // `newest`: only the most recently run rows (still returned oldest first), for `backwards N`.
    const order = options.newest === undefined
      ? "order by ran_on, name"
      : `order by ran_on desc, name desc limit ${Math.max(0, Math.floor(options.newest))}`;
    const rows = await db.query<
      {
        app: string;
        id: string;
        ran_on: string;
        description: string | null;
        checksum: string | null;
        reversal: string | null;
      }
    >(
      `select app_name as app, name as id, to_char(ran_on at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as ran_on, ${extra} from ${this.table} ${where} ${order}`,
      apps ? [apps] : [],
    );
    if (options.newest !== undefined) rows.reverse();
    return rows.map((r) => ({
      app: r.app,
      id: r.id,
      ranOn: r.ran_on,
      description: r.description,
      checksum: r.checksum,
      reversal: r.reversal === null ? null : JSON.parse(r.reversal) as StoredReversal,
    }));
  }

  /**
   * Fills in the stored reversals of rows listed without them (`reversals: false`): a plan
   * reads the JSON of the migrations it reverses only, not of the whole history.
   */
  async withReversals(db: Queryable, rows: readonly HistoryRow[]): Promise<HistoryRow[]> {
    const texts = await this.reversalTexts(db, rows);
    return rows.map((r, i) => ({ ...r, reversal: History.parseReversal(texts[i] ?? null) }));
  }

  /**
   * The stored reversals of rows listed without them, as JSON text in row order (null where
   * none was stored): a long plan parses each one only when it plans that migration.
   */
  async reversalTexts(db: Queryable, rows: readonly HistoryRow[]): Promise<(string | null)[]> {
    if (rows.length === 0) return [];
    const found = await db.query<{ app: string; id: string; reversal: string | null }>(
      `select app_name as app, name as id, reversal::text as reversal from ${this.table}
        where (app_name, name) in (select * from unnest($1::text[], $2::text[]))`,
      [rows.map((r) => r.app), rows.map((r) => r.id)],
    ).catch(() => []); // A Piccolo table without tide's columns: nothing was stored.
    const byKey = new Map(found.map((f) => [`${f.app}\0${f.id}`, f.reversal]));
    return rows.map((r) => byKey.get(`${r.app}\0${r.id}`) ?? null);
  }

  /** A stored reversal from its JSON text. */
  static parseReversal(text: string | null): StoredReversal | null {
    return text === null ? null : JSON.parse(text) as StoredReversal;
  }

  /** The statement that records a migration as run. */
  insertStatement(
    app: string,
    id: string,
    description: string,
    checksum: string | null,
    reversal: StoredReversal,
  ): string {
    return `INSERT INTO ${this.table} (name, app_name, description, checksum, reversal) VALUES (${quoteLiteral(id)}, ${
      quoteLiteral(app)
    }, ${quoteLiteral(description)}, ${checksum === null ? "NULL" : quoteLiteral(checksum)}, ${
      quoteLiteral(JSON.stringify(reversal))
    }::jsonb)`;
  }

  /**
   * The statement that forgets a reversed migration. It fails (division by zero, SQLSTATE
   * 22012) when no row was deleted, rolling the reversal back: a migration is never reversed
   * twice, and the check needs no round trip of its own.
   */
  deleteStatement(app: string, id: string): string {
    return `WITH gone AS (DELETE FROM ${this.table} WHERE app_name = ${quoteLiteral(app)} AND name = ${
      quoteLiteral(id)
    } RETURNING 1) SELECT 1 / count(*) AS history_row_deleted FROM gone`;
  }

  /**
   * The first statement of a migration's transaction sent right behind the previous one's
   * (pipelined, before that one's outcome is known): it fails, and so rolls this one back
   * unrun, unless the previous one committed (its history row deleted when reversing, written
   * when applying). One session runs them in order, so the previous COMMIT is visible here.
   */
  previousCommittedStatement(direction: "forwards" | "backwards", app: string, id: string): string {
    return `SELECT 1 / (${
      direction === "backwards" ? "NOT " : ""
    }EXISTS (SELECT 1 FROM ${this.table} WHERE app_name = ${quoteLiteral(app)} AND name = ${
      quoteLiteral(id)
    }))::int AS ${PREVIOUS_COMMITTED}`;
  }

  /** Whether a statement is a {@linkcode previousCommittedStatement}. */
  static isPreviousCommittedCheck(statement: string): boolean {
    return statement.startsWith("SELECT 1 / (") && statement.endsWith(` AS ${PREVIOUS_COMMITTED}`);
  }

  /** Whether an error is {@linkcode deleteStatement}'s check: the row was already gone. */
  static isAlreadyGone(statement: string, code: string | undefined): boolean {
    return code === "22012" && statement.startsWith("WITH gone AS (DELETE FROM ");
  }

  /** The name as catalog snapshots print it (`schema.table`, quoted only where needed). */
  get catalogName(): string {
    const parts = this.#name.includes(".") ? this.#name.split(".") : ["public", this.#name];
    return parts.map((p) => (/^[a-z_][a-z0-9_$]*$/.test(p) ? p : `"${p.replaceAll('"', '""')}"`)).join(".");
  }

  /** The advisory lock key for runs against this table. */
  get lockKey(): string {
    return `tide:${this.#name}`;
  }
}
