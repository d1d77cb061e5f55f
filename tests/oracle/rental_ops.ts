/**
 * The round trips of the rental fixture (tests/fixtures/rental.sql, pagila's shape): tables
 * that carry foreign keys in and out, pagila's last_update triggers, a partitioned payments
 * table, a full-text column with its GiST index and trigger. Tables under a view are left
 * alone (dropping them needs CASCADE, which tide does not do).
 *
 * @module
 */

import type { OracleOp } from "../helpers/oracle_roundtrip.ts";

/** Every rental round trip, one per object. */
export const RENTAL: readonly OracleOp[] = [
  {
    op: 'dropTable("rental.payment")',
    carries: "range-partitioned by month with 3 partitions, partitioned indexes, 3 FKs out, publication",
  },
  { op: 'dropTable("rental.payment_p2022_02")', carries: "a monthly partition with its attached PK and indexes" },
  {
    op: 'dropTable("rental.rental")',
    carries: "FKs out, FK in from the partitioned payments table, unique 3-column index, trigger, publication",
  },
  { op: 'dropTable("rental.inventory")', carries: "FKs out and in, 2-column index, trigger" },
  { op: 'dropTable("rental.actor")', carries: "FK in from film_actor, index, last_update trigger" },
  { op: 'dropTable("rental.film_actor")', carries: "composite PK, 2 FKs out, index, trigger" },
  {
    op: 'dropTable("rental.staff")',
    carries: "a foreign key cycle with store, FKs in from rental and payment, bytea column, trigger",
  },
  { op: 'dropTable("rental.language")', carries: "two FKs in from film, char(20) column, trigger" },
  { op: 'dropTable("rental.city")', carries: "FK out and in, index, trigger" },
  { op: 'dropColumn("rental.film", "fulltext")', carries: "tsvector NOT NULL with a GiST index" },
  { op: 'dropColumn("rental.film", "release_year")', carries: "domain-typed column" },
  { op: 'dropColumn("rental.film", "original_language_id")', carries: "FK out with ON UPDATE CASCADE, index" },
  { op: 'dropColumn("rental.payment", "staff_id")', carries: "a partitioned table's FK column and partitioned index" },
  { op: 'dropIndex("rental.idx_fk_payment_customer_id")', carries: "partitioned index with its partitions' indexes" },
  { op: 'dropIndex("rental.film_fulltext_idx")', carries: "GiST index on tsvector" },
  { op: 'alterColumn("rental.actor", "last_name", { type: "varchar(100)" })', carries: "indexed text column" },
  {
    op: 'alterColumn("rental.payment", "amount", { type: "numeric(7,2)" })',
    carries: "a partitioned table's column (its partitions follow)",
  },
];
