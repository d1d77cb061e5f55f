/**
 * The round trips of the rich fixture (tests/fixtures/rich*.sql): one per object, with what
 * the object carries. This list is the engine's target (issue 11): after each operation
 * forwards and backwards, pg_dump (servers up to 15) and the catalog fingerprint must be
 * identical, column position aside. KNOWN_GAPS (known_gaps.ts) records which of them today's
 * engine does not meet yet.
 *
 * @module
 */

import type { OracleOp } from "../helpers/oracle_roundtrip.ts";

/** `dropTable` of every kind of table the fixture has. */
export const DROP_TABLE: readonly OracleOp[] = [
  {
    op: 'dropTable("rich.customer")',
    carries: "identity, collations, UNIQUE duplicating the PK, CHECK NOT VALID, fillfactor/autovacuum/toast options, " +
      "replica identity using index, CLUSTER ON, statistics target, storage, compression (14+), n_distinct, owner, " +
      "RLS enabled+forced, 2 policies, table+column grants, 2 triggers (disabled, commented), rule, extended " +
      "statistics, comments, publication membership, inbound deferrable FK, NULLS NOT DISTINCT index (15+), " +
      "virtual generated column (18+)",
  },
  {
    op: 'dropTable("rich.booking")',
    carries: "serial with granted sequence, deferrable FK, exclusion constraint, stored generated column, domain " +
      "column, replica identity full, owner, publication membership incl. column list and row filter (15+)",
  },
  {
    op: 'dropTable("rich.ticket")',
    carries: "standalone owned sequence with every option and a comment, PK with fillfactor, re-parsed CHECK, " +
      "UNIQUE NULLS NOT DISTINCT (15+), publication membership",
  },
  { op: 'dropTable("rich.session_cache")', carries: "UNLOGGED, autovacuum and toast_tuple_target options" },
  {
    op: 'dropTable("rich.event")',
    carries: "range-partitioned table with its whole partition tree (list sub-partition, defaults), partitioned " +
      "indexes and their attachments, owner, grant, comments",
  },
  { op: 'dropTable("rich.event_2024")', carries: "partition attached with its own index, attached to the parent's" },
  {
    op: 'dropTable("rich.event_2025")',
    carries: "partition bound, fillfactor, partition-local GIN index, attached PK/index partitions, comment",
  },
  { op: 'dropTable("rich.event_2026")', carries: "list-partitioned partition with its own partitions (one DEFAULT)" },
  { op: 'dropTable("rich.event_2026_click")', carries: "list partition of a sub-partitioned partition" },
  { op: 'dropTable("rich.event_default")', carries: "DEFAULT partition" },
  { op: 'dropTable("rich.truck")', carries: "INHERITS parent, inherited columns, default and CHECK, comment" },
  { op: 'dropTable("rich.bus")', carries: "INHERITS with a locally merged inherited column" },
  {
    op: 'dropTable("rich.measure")',
    carries: "named NOT NULL constraint with comment, NOT NULL NOT VALID, virtual generated column",
    since: 18,
  },
];

/** `dropColumn` of columns with every attribute kind. */
export const DROP_COLUMN: readonly OracleOp[] = [
  {
    op: 'dropColumn("rich.customer", "notes")',
    carries: "statistics target, storage EXTERNAL, compression (14+), column UPDATE grant",
  },
  {
    op: 'dropColumn("rich.customer", "email")',
    carries: 'COLLATE "C", column SELECT grant, comment, unique index that is the replica identity',
  },
  {
    op: 'dropColumn("rich.customer", "name")',
    carries: "default, CHECK NOT VALID with comment, expression index with fillfactor that is CLUSTER ON, " +
      "extended statistics",
  },
  { op: 'dropColumn("rich.customer", "score")', carries: "CHECK constraint, n_distinct option" },
  { op: 'dropColumn("rich.customer", "nick")', carries: "user collation, NULLS NOT DISTINCT unique index (15+)" },
  { op: 'dropColumn("rich.booking", "during")', carries: "exclusion constraint" },
  { op: 'dropColumn("rich.booking", "total")', carries: "stored generated column, comment" },
  {
    op: 'dropColumn("rich.event", "payload")',
    carries: "a partitioned table's column with a partition-local GIN index on one partition",
  },
  {
    op: 'dropColumn("rich.vehicle", "wheels")',
    carries: "inherited by children (one merges a local definition), default, CHECK",
  },
  { op: 'dropColumn("rich.measure", "fahrenheit")', carries: "virtual generated column", since: 18 },
  { op: 'dropColumn("rich.measure", "note")', carries: "named NOT NULL NOT VALID constraint", since: 18 },
];

/** `dropIndex` of indexes with options, clustering, replica identity, partitions. */
export const DROP_INDEX: readonly OracleOp[] = [
  { op: 'dropIndex("rich.customer_tenant_idx")', carries: "expression, fillfactor, CLUSTER ON, comment" },
  { op: 'dropIndex("rich.customer_email_uidx")', carries: "unique index that is the replica identity" },
  {
    op: 'dropIndex("rich.event_kind_idx")',
    carries: "partitioned index with its partitions' indexes (one created before ATTACH), comment",
  },
  { op: 'dropIndex("rich.event_2025_payload_idx")', carries: "partition-local GIN index" },
  { op: 'dropIndex("rich.customer_nick_nnd")', carries: "NULLS NOT DISTINCT", since: 15 },
];

/** `alterColumn` round trips: what a type change re-creates or resets must come back. */
export const ALTER_COLUMN: readonly OracleOp[] = [
  {
    op: 'alterColumn("rich.customer", "email", { type: "varchar(300)" })',
    carries: 'COLLATE "C", unique index that is the replica identity, column grant, comment',
  },
  {
    op: 'alterColumn("rich.customer", "notes", { type: "varchar(1000)" })',
    carries: "statistics target, storage EXTERNAL, compression (14+), column grant",
  },
  {
    op: 'alterColumn("rich.ticket", "code", { type: "text", nullable: true, default: "\'X\'" })',
    carries: "a CHECK Postgres re-parses on a type change, NOT NULL, no default",
  },
  {
    op: 'alterColumn("rich.customer", "updated_at", { nullable: true, default: null })',
    carries: "NOT NULL, default now()",
  },
];
