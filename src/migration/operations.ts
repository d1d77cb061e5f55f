/**
 * The operations a migration records, and what their captures hold. Rendering them to SQL
 * lives in `render.ts`; reading captures from the catalog in `capture.ts`.
 *
 * @module
 */

import type { DistributionCapture } from "../catalog/distribution.ts";
import type { Queryable } from "../db/database.ts";

/** A raw step: SQL text, or a function given the database handle of the running transaction. */
export type RawStep = string | ((db: Queryable) => unknown | Promise<unknown>);

/** Changes made by `alterColumn`; each one left out stays as it is. */
export interface ColumnChanges {
  /** New type, a SQL fragment such as `"bigint"` or `"varchar(200)"`. */
  readonly type?: string;
  /** Expression for `USING` when the type changes. */
  readonly using?: string;
  /** `true` drops NOT NULL, `false` sets it. */
  readonly nullable?: boolean;
  /** New default (a SQL expression), or `null` to drop it. */
  readonly default?: string | null;
}

/** Options of `addIndex`. */
export interface IndexOptions {
  /** Index name. @default `<table>_<columns joined by _>_idx` */
  readonly name?: string;
  readonly unique?: boolean;
  /** Build without blocking writes; runs outside the migration's transaction. */
  readonly concurrently?: boolean;
}

/** One operation recorded by a migration's `forwards()`. */
export type Operation =
  | { readonly kind: "addTable"; readonly table: string; readonly columns: Readonly<Record<string, string>> }
  | { readonly kind: "dropTable"; readonly table: string }
  | { readonly kind: "renameTable"; readonly from: string; readonly to: string }
  | { readonly kind: "addColumn"; readonly table: string; readonly column: string; readonly definition: string }
  | { readonly kind: "dropColumn"; readonly table: string; readonly column: string }
  | { readonly kind: "renameColumn"; readonly table: string; readonly from: string; readonly to: string }
  | { readonly kind: "alterColumn"; readonly table: string; readonly column: string; readonly changes: ColumnChanges }
  | {
    readonly kind: "addIndex";
    readonly table: string;
    readonly columns: readonly string[];
    readonly name: string;
    readonly unique: boolean;
    readonly concurrently: boolean;
  }
  | { readonly kind: "dropIndex"; readonly name: string; readonly concurrently: boolean }
  | { readonly kind: "raw"; readonly forwards: RawStep; readonly backwards: RawStep | undefined }
  | { readonly kind: "rawBackwards"; readonly backwards: RawStep };

/** The kinds of operation whose reversal needs a capture of the catalog taken forwards. */
export const CAPTURING_KINDS: ReadonlySet<Operation["kind"]> = new Set([
  "dropTable",
  "dropColumn",
  "alterColumn",
  "dropIndex",
]);

/** A column as the catalog described it. */
export interface ColumnCapture {
  readonly name: string;
  /** `format_type()` of the column, e.g. `character varying(100)`. */
  readonly type: string;
  /** Quoted collation when it differs from the type's default. */
  readonly collation: string | null;
  readonly notNull: boolean;
  readonly default: string | null;
  /** `a` (always), `d` (by default) or `""`. */
  readonly identity: string;
  /** Expression of a stored generated column, else null. */
  readonly generated: string | null;
  readonly comment: string | null;
}

/** A sequence owned by a column (serial or identity). */
export interface SequenceCapture {
  /** Quoted, schema-qualified name. */
  readonly name: string;
  readonly column: string;
  readonly type: string;
  readonly start: string;
  readonly increment: string;
  readonly min: string;
  readonly max: string;
  readonly cache: string;
  readonly cycle: boolean;
  /** `a` serial (owned), `i` identity. */
  readonly dependency: string;
}

/** A named constraint, with its definition as `pg_get_constraintdef` prints it. */
export interface ConstraintCapture {
  /** Quoted, schema-qualified table the constraint is on. */
  readonly table: string;
  readonly name: string;
  readonly definition: string;
  readonly comment: string | null;
}

/** An index, with its full `CREATE INDEX` statement as `pg_get_indexdef` prints it. */
export interface IndexCapture {
  readonly name: string;
  readonly definition: string;
  readonly comment: string | null;
}

/** What re-creating a dropped table needs. */
export interface TableCapture {
  readonly kind: "table";
  /** Quoted, schema-qualified name. */
  readonly table: string;
  readonly columns: readonly ColumnCapture[];
  /** Constraints on the table itself: primary key, unique, check, exclusion, foreign keys. */
  readonly constraints: readonly ConstraintCapture[];
  /** Indexes that do not back a constraint. */
  readonly indexes: readonly IndexCapture[];
  /** Foreign keys of other tables that point at this one (dropped with it, re-added after). */
  readonly inbound: readonly ConstraintCapture[];
  readonly sequences: readonly SequenceCapture[];
  readonly comment: string | null;
  /** Citus: how the coordinator distributed it (absent on a table Citus does not know). */
  readonly distribution?: DistributionCapture;
}

/** What re-adding a dropped column needs. */
export interface ColumnDropCapture {
  readonly kind: "column";
  readonly table: string;
  readonly column: ColumnCapture;
  /** Constraints that involve the column (Postgres drops them with it). */
  readonly constraints: readonly ConstraintCapture[];
  readonly indexes: readonly IndexCapture[];
  readonly inbound: readonly ConstraintCapture[];
  readonly sequences: readonly SequenceCapture[];
}

/** A column's type, nullability and default before `alterColumn`. */
export interface AlterCapture {
  readonly kind: "alter";
  readonly type: string;
  readonly notNull: boolean;
  readonly default: string | null;
}

/** A dropped index. */
export interface IndexDropCapture {
  readonly kind: "index";
  readonly index: IndexCapture;
}

/** Any capture, stored as JSON in the history row under the operation's index. */
export type Capture = TableCapture | ColumnDropCapture | AlterCapture | IndexDropCapture;
