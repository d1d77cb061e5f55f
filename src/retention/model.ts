/**
 * What a retained drop keeps (issue 15): the mapping from the dropped object to where it is
 * held, stored in the history row's capture so that backwards, `tide retained` and `tide
 * purge` need nothing else.
 *
 * @module
 */

/** The schema retained objects are held in: created on first use, no access but its owner's. */
export const RETAINED_SCHEMA = "tide_retained";

/** A relation moved into the retained schema: its name before and while held. */
export interface MovedRelation {
  readonly kind: "table" | "index" | "sequence";
  /** Schema it came from (unquoted). */
  readonly schema: string;
  /** Its name there (unquoted). */
  readonly name: string;
  /** Its name in the retained schema (unquoted, unique, at most 63 bytes). */
  readonly retained: string;
  /**
   * A sequence owned by a table of another schema moves with that table: the schema it comes
   * back to before being moved home (unquoted).
   */
  readonly landsIn?: string;
}

/** A publication the table was a member of (removed so that a held table does not replicate). */
export interface PublicationMembership {
  readonly publication: string;
  /** The member table as it was named (quoted, qualified): the retained table or one of its partitions. */
  readonly table: string;
  /** Published columns (PostgreSQL 15+ column list), null for all. */
  readonly columns: readonly string[] | null;
  /** Row filter (PostgreSQL 15+), null for none. */
  readonly where: string | null;
}

/** Where a retained table is held and how to put it back. */
export interface RetainedTable {
  readonly kind: "table";
  readonly app: string;
  readonly migration: string;
  /** The table's name in the retained schema (unquoted). */
  readonly name: string;
  /** The table, then its partitions, their indexes and owned sequences, as moved. */
  readonly relations: readonly MovedRelation[];
  /** The table was a partition: its parent (quoted, qualified) and bound, to re-attach it. */
  readonly partitionOf: { readonly parent: string; readonly bound: string } | null;
  readonly publications: readonly PublicationMembership[];
  /** When `tide purge` dropped the held copy (ISO 8601): backwards then restores structure only. */
  readonly purgedAt?: string;
}

/** Where a retained column's values are held, keyed by the table's key. */
export interface RetainedColumn {
  readonly kind: "column";
  readonly app: string;
  readonly migration: string;
  /** The holding table's name in the retained schema (unquoted). */
  readonly name: string;
  /** Key columns (primary key, else replica identity index) the values are keyed by. */
  readonly key: readonly string[];
  /** Which index the key comes from. */
  readonly keySource: "primary key" | "replica identity";
  /**
   * Positions of the sequences the column owned (serial, identity), so that the re-created
   * ones continue where they were rather than collide with the restored values.
   */
  readonly sequencePositions?: readonly {
    readonly name: string;
    readonly lastValue: string;
    readonly isCalled: boolean;
  }[];
  readonly purgedAt?: string;
}

/** Either kind. */
export type Retention = RetainedTable | RetainedColumn;

/** Why a retained drop could not keep its data, recorded in the capture instead of a retention. */
export interface RetentionRefusal {
  readonly kind: "not-retained";
  readonly reason: string;
}
