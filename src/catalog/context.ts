/**
 * What every catalog kind needs to read and re-create objects: the server's version (catalog
 * columns differ between PostgreSQL 13 and 18), shared SQL fragments, and the phases that order
 * re-creation statements.
 *
 * @module
 */

import type { Queryable } from "../db/database.ts";

/** The server a capture is read from. */
export interface CatalogContext {
  /** `server_version_num`, e.g. 150004 or 180006 (PGlite 0.5 is 18). */
  readonly version: number;
  /** Citus: the database has the citus extension (its catalog tables exist). */
  readonly citus?: boolean;
}

const contexts = new WeakMap<Queryable, Promise<CatalogContext>>();

/**
 * Reads the server's version (once per connection or transaction handle): every
 * version-dependent query depends on it. Citus' presence travels in the same round trip (see
 * distribution.ts).
 */
export function readContext(db: Queryable): Promise<CatalogContext> {
  let context = contexts.get(db);
  if (context === undefined) {
    context = db.query<{ v: string | number; citus: boolean }>(
      "select current_setting('server_version_num') as v, to_regclass('pg_catalog.pg_dist_partition') is not null as citus",
    ).then(([row]) => ({ version: Number(row?.v ?? 0), citus: Boolean(row?.citus) }));
    // A failed read (e.g. an aborted transaction) is not kept.
    context.catch(() => contexts.delete(db));
    contexts.set(db, context);
  }
  return context;
}

/**
 * The quoted, schema-qualified name of a pg_class row aliased `alias`, as SQL.
 * `format('%I.%I')` quotes exactly as pg_dump does.
 */
export function qualified(alias: string): string {
  return `format('%I.%I', (select nspname from pg_namespace where oid = ${alias}.relnamespace), ${alias}.relname)`;
}

/** A json array of the rows of `select`, `[]` when there are none. */
export function jsonList(expression: string, from: string, order: string): string {
  return `coalesce((select json_agg(${expression} order by ${order}) ${from}), '[]'::json)`;
}

/**
 * Where a statement goes when a dropped object is re-created. Each kind contributes statements
 * to phases; a phase runs after everything it depends on (a policy needs its table, a grant its
 * owner, an inbound foreign key the referenced key). Numbers leave room for new kinds.
 */
export const Phase = {
  /** Sequences a serial column's default names. */
  sequences: 10,
  /** CREATE TABLE. */
  create: 20,
  /** Column attributes CREATE TABLE cannot carry (storage, compression, statistics). */
  columns: 30,
  /** Citus: create_distributed_table / create_reference_table, before the foreign keys need it. */
  distribution: 35,
  /** Constraints added after CREATE TABLE (NOT VALID, UNIQUE, exclusion, foreign keys). */
  constraints: 40,
  indexes: 50,
  /** ATTACH PARTITION of this table to its parent, and of its indexes to the parent's. */
  attach: 55,
  /** The partitions of a partitioned table, each re-created whole. */
  partitions: 60,
  /** Replica identity, CLUSTER ON, index tablespaces and statistics targets. */
  settings: 70,
  /** OWNED BY of serial sequences (before the owner changes, so that they follow it). */
  ownedBy: 75,
  owner: 80,
  /** ENABLE/FORCE ROW LEVEL SECURITY and policies. */
  security: 90,
  triggers: 100,
  rules: 110,
  statistics: 120,
  publications: 130,
  grants: 140,
  comments: 150,
  /** Foreign keys of other tables that point at this one. */
  inbound: 170,
} as const;

/** One re-creation statement and the phase it belongs to. */
export interface Phased {
  readonly phase: number;
  readonly sql: string;
}

/** Statements in one phase. */
export function at(phase: number, ...statements: string[]): Phased[] {
  return statements.map((sql) => ({ phase, sql }));
}

/** Orders phased statements: by phase, then as given (a stable sort). */
export function ordered(statements: readonly Phased[]): string[] {
  return statements
    .map((s, i) => ({ s, i }))
    .sort((a, b) => a.s.phase - b.s.phase || a.i - b.i)
    .map(({ s }) => s.sql);
}

/** The bare (unqualified) name of a quoted, schema-qualified name: `"a"."b c"` → `"b c"`. */
export function bareName(name: string): string {
  const m = /^(?:"(?:[^"]|"")*"|[^".]+)\.(.+)$/.exec(name);
  return m ? m[1]! : name;
}

/** One thing a reversal cannot restore: the object, and what of it. */
export interface NotRestored {
  /** e.g. `table public.band`, `column public.band.name`. */
  readonly object: string;
  /** e.g. `position: comes back as the table's last column (it was column 2)`. */
  readonly what: string;
}
