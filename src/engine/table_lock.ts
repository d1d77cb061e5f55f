/**
 * The table lock: one row per lock key in `<migrationTable>_lock`, with its owner and a lease
 * the live run renews. It holds no session state, so it works through a pooler in transaction
 * mode, where a session advisory lock is taken on one server connection and released on
 * another. Every statement here is one short autocommit transaction.
 *
 * @module
 */

import type { Queryable } from "../db/database.ts";
import { quoteName } from "../migration/quote.ts";

/** Who holds (or held) the lock, as its row says. */
export interface LockHolder {
  /** The holder's random token. */
  readonly owner: string;
  /** Host name and process id of the tide process that took it. */
  readonly host: string;
  readonly pid: number;
  /** What it runs, e.g. `tide backwards app`. */
  readonly command: string | null;
  /** When it was taken, renewed last, and until when the lease runs (ISO 8601, server clock). */
  readonly since: string;
  readonly renewedAt: string;
  readonly leaseUntil: string;
  /** The lease ran out: the holder is gone (or stalled) and the lock may be taken over. */
  readonly stale: boolean;
}

/** One line naming a holder, for messages. */
export function describeHolder(h: LockHolder): string {
  return `${h.command ?? "tide"} on host ${h.host}, pid ${h.pid} (owner ${h.owner.slice(0, 8)}), since ${h.since}, ` +
    `lease ${h.stale ? "expired" : "until"} ${h.leaseUntil}`;
}

const TS = (column: string) => `to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
const COLUMNS = `owner, host, pid, command, ${TS("started_at")} as since, ${TS("renewed_at")} as renewed_at, ${
  TS("lease_until")
} as lease_until, lease_until < now() as stale`;

interface Row {
  owner: string;
  host: string;
  pid: number;
  command: string | null;
  since: string;
  renewed_at: string;
  lease_until: string;
  stale: boolean;
}

function holder(row: Row): LockHolder {
  return {
    owner: row.owner,
    host: row.host,
    pid: Number(row.pid),
    command: row.command,
    since: row.since,
    renewedAt: row.renewed_at,
    leaseUntil: row.lease_until,
    stale: Boolean(row.stale),
  };
}

/** What a tide process says about itself when it takes the lock. */
export interface LockClaim {
  readonly owner: string;
  readonly host: string;
  readonly pid: number;
  readonly command: string;
}

/** The lock table of one history table. */
export class TableLock {
  /** Unquoted name, `<migrationTable>_lock` (in the history table's schema). */
  readonly name: string;
  /** Quoted name, as it appears in SQL. */
  readonly table: string;
  /** The row's key (the same name the advisory lock hashes). */
  readonly key: string;

  constructor(migrationTable: string, key: string) {
    this.name = `${migrationTable}_lock`;
    this.table = quoteName(this.name);
    this.key = key;
  }

  /** The statement that creates the table. Idempotent. */
  ensureStatement(): string {
    return `CREATE TABLE IF NOT EXISTS ${this.table} (name text PRIMARY KEY, owner text NOT NULL, host text NOT NULL, pid integer NOT NULL, command text, started_at timestamptz NOT NULL DEFAULT now(), renewed_at timestamptz NOT NULL DEFAULT now(), lease_until timestamptz NOT NULL)`;
  }

  /** Creates the table if needed; two runs creating it at once is fine. */
  async ensure(db: Queryable): Promise<void> {
    if (await this.exists(db)) return;
    try {
      await db.execute([this.ensureStatement()]);
    } catch (error) {
      // CREATE TABLE IF NOT EXISTS racing another one fails on the catalog's unique index.
      if (!(await this.exists(db))) throw error;
    }
  }

  /** Whether the table exists. */
  async exists(db: Queryable): Promise<boolean> {
    const [row] = await db.query<{ found: boolean }>("select to_regclass($1) is not null as found", [this.table]);
    return Boolean(row?.found);
  }

  /** The current holder, if any (undefined too when the table does not exist). */
  async holder(db: Queryable): Promise<LockHolder | undefined> {
    if (!(await this.exists(db))) return undefined;
    const [row] = await db.query<Row>(`select ${COLUMNS} from ${this.table} where name = $1`, [this.key]);
    return row ? holder(row) : undefined;
  }

  /**
   * Tries once: inserts the row unless one exists; a row whose lease ran out is deleted first
   * (and returned as `tookOver`). Two runs racing: the primary key lets exactly one insert.
   */
  async tryTake(db: Queryable, me: LockClaim, leaseMs: number): Promise<{ taken: boolean; tookOver?: LockHolder }> {
    if (await this.#insert(db, me, leaseMs)) return { taken: true };
    const [gone] = await db.query<Row>(
      `delete from ${this.table} where name = $1 and lease_until < now() returning ${COLUMNS}`,
      [this.key],
    );
    if (gone === undefined) return { taken: false };
    const taken = await this.#insert(db, me, leaseMs);
    return taken ? { taken, tookOver: holder(gone) } : { taken };
  }

  async #insert(db: Queryable, me: LockClaim, leaseMs: number): Promise<boolean> {
    const rows = await db.query(
      `insert into ${this.table} (name, owner, host, pid, command, lease_until)
       values ($1, $2, $3, $4, $5, now() + make_interval(secs => $6::float8))
       on conflict (name) do nothing returning 1`,
      [this.key, me.owner, me.host, me.pid, me.command, leaseMs / 1000],
    );
    return rows.length === 1;
  }

  /** Extends the lease; false when the row is no longer this owner's (taken over). */
  async renew(db: Queryable, owner: string, leaseMs: number): Promise<boolean> {
    const rows = await db.query(
      `update ${this.table} set lease_until = now() + make_interval(secs => $3::float8), renewed_at = now()
        where name = $1 and owner = $2 returning 1`,
      [this.key, owner, leaseMs / 1000],
    );
    return rows.length === 1;
  }

  /** Deletes the row if it is still this owner's. */
  async release(db: Queryable, owner: string): Promise<boolean> {
    const rows = await db.query(`delete from ${this.table} where name = $1 and owner = $2 returning 1`, [
      this.key,
      owner,
    ]);
    return rows.length === 1;
  }

  /**
   * `tide unlock`: deletes a stale row (lease expired); a live one only with `force`. Returns
   * the row deleted, or the live one left in place (`cleared: false`).
   */
  async clear(db: Queryable, force: boolean): Promise<{ cleared: boolean; holder?: LockHolder }> {
    if (!(await this.exists(db))) return { cleared: false };
    const [gone] = await db.query<Row>(
      `delete from ${this.table} where name = $1 ${force ? "" : "and lease_until < now()"} returning ${COLUMNS}`,
      [this.key],
    );
    if (gone) return { cleared: true, holder: holder(gone) };
    const live = await this.holder(db);
    return live ? { cleared: false, holder: live } : { cleared: false };
  }
}
