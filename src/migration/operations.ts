/**
 * The operations a migration records. Rendering them to SQL lives in `render.ts`; what
 * captures hold, how they are read and re-created, in `src/catalog/`.
 *
 * @module
 */

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

// What captures hold is defined with each object kind in src/catalog/; re-exported here
// for the names the engine and the library already use.
export type {
  AlterCapture,
  Capture,
  ColumnCapture,
  ColumnDropCapture,
  ConstraintCapture,
  IndexCapture,
  IndexDropCapture,
  SequenceCapture,
  TableCapture,
} from "../catalog/mod.ts";
