/**
 * `MigrationManager`: what a migration's `forwards()` records its operations on.
 *
 * @module
 */

import type { Queryable } from "../db/database.ts";
import type { ColumnChanges, IndexOptions, Operation, RawStep } from "./operations.ts";
import { splitName } from "./quote.ts";

/** What `forwards(ctx)` and `backwards(ctx)` of a migration module receive. */
export interface MigrationContext {
  /** The manager to record operations on; `forwards` returns it. */
  readonly manager: MigrationManager;
  /** The app the migration belongs to. */
  readonly appName: string;
  /** The migration's ID. */
  readonly migrationId: string;
}

/** The database handle a raw function step receives: the running transaction. */
export type MigrationDb = Queryable;

/**
 * Records a migration's operations. Nothing touches the database while recording: the engine
 * renders the operations to SQL and runs them forwards, or inverted and in reverse order
 * backwards.
 *
 * @example
 * ```ts
 * manager.addTable("band", { id: "serial primary key", name: "varchar(100) not null" });
 * manager.addColumn("band", "popularity", "integer not null default 0");
 * ```
 */
/** Set once by the class: how {@linkcode replayOperations} reaches a manager's private list. */
let record: (manager: MigrationManager, operation: Operation) => void;

export class MigrationManager {
  readonly #operations: Operation[] = [];

  static {
    record = (manager, operation) => manager.#record(operation);
  }

  /** The operations recorded so far, in recording order. */
  get operations(): readonly Operation[] {
    return this.#operations;
  }

  /** Creates a table; backwards drops it. Column definitions are SQL fragments. */
  addTable(table: string, columns: Record<string, string>): this {
    name("addTable", "table", table);
    if (typeof columns !== "object" || columns === null || Object.keys(columns).length === 0) {
      throw new TypeError(`addTable("${table}") needs at least one column`);
    }
    for (const [column, definition] of Object.entries(columns)) {
      name("addTable", "column", column);
      fragment("addTable", `column "${column}"`, definition);
    }
    return this.#record({ kind: "addTable", table, columns: { ...columns } });
  }

  /**
   * Drops a table; backwards re-creates its structure as it was (not its rows). With
   * `{ retain: true }` (or `"retainDropped": true` in tide.json) the table is moved aside
   * instead, rows and all, and backwards puts the very same table back.
   */
  dropTable(table: string, options: RetainOptions = {}): this {
    name("dropTable", "table", table);
    return this.#record({ kind: "dropTable", table, ...retainOf("dropTable", options) });
  }

  /** Renames a table (`to` may keep or omit the schema of `from`); backwards renames it back. */
  renameTable(from: string, to: string): this {
    name("renameTable", "from", from);
    name("renameTable", "to", to);
    const target = splitName(to);
    if (target.schema !== undefined && target.schema !== splitName(from).schema) {
      throw new TypeError(`renameTable("${from}", "${to}") cannot move a table to another schema`);
    }
    return this.#record({ kind: "renameTable", from, to });
  }

  /** Adds a column; backwards drops it. */
  addColumn(table: string, column: string, definition: string): this {
    name("addColumn", "table", table);
    name("addColumn", "column", column);
    fragment("addColumn", "definition", definition);
    return this.#record({ kind: "addColumn", table, column, definition });
  }

  /**
   * Drops a column; backwards re-adds it as it was (not its values). With `{ retain: true }`
   * (or `"retainDropped": true` in tide.json) its values are kept by key and backwards puts
   * them back.
   */
  dropColumn(table: string, column: string, options: RetainOptions = {}): this {
    name("dropColumn", "table", table);
    name("dropColumn", "column", column);
    return this.#record({ kind: "dropColumn", table, column, ...retainOf("dropColumn", options) });
  }

  /** Renames a column; backwards renames it back. */
  renameColumn(table: string, from: string, to: string): this {
    name("renameColumn", "table", table);
    name("renameColumn", "from", from);
    name("renameColumn", "to", to);
    return this.#record({ kind: "renameColumn", table, from, to });
  }

  /** Changes a column's type, nullability or default; backwards restores the previous ones. */
  alterColumn(table: string, column: string, changes: ColumnChanges): this {
    name("alterColumn", "table", table);
    name("alterColumn", "column", column);
    const keys = Object.keys(changes ?? {});
    if (keys.length === 0 || keys.every((k) => k === "using")) {
      throw new TypeError(
        `alterColumn("${table}", "${column}") needs at least one of type, nullable, default`,
      );
    }
    for (const key of keys) {
      if (!["type", "using", "nullable", "default"].includes(key)) {
        throw new TypeError(`alterColumn("${table}", "${column}"): unknown change "${key}"`);
      }
    }
    if (changes.type !== undefined) fragment("alterColumn", "type", changes.type);
    if (changes.using !== undefined && changes.type === undefined) {
      throw new TypeError(`alterColumn("${table}", "${column}"): "using" needs "type"`);
    }
    return this.#record({ kind: "alterColumn", table, column, changes: { ...changes } });
  }

  /** Creates an index on columns of a table; backwards drops it. */
  addIndex(table: string, columns: string[], options: IndexOptions = {}): this {
    name("addIndex", "table", table);
    if (!Array.isArray(columns) || columns.length === 0) {
      throw new TypeError(`addIndex("${table}") needs at least one column`);
    }
    for (const column of columns) name("addIndex", "column", column);
    const indexName = options.name ?? `${splitName(table).name}_${columns.join("_")}_idx`;
    name("addIndex", "name", indexName);
    return this.#record({
      kind: "addIndex",
      table,
      columns: [...columns],
      name: indexName,
      unique: options.unique ?? false,
      concurrently: options.concurrently ?? false,
    });
  }

  /** Drops an index (schema-qualified if need be); backwards re-creates it as it was. */
  dropIndex(index: string, options: { concurrently?: boolean } = {}): this {
    name("dropIndex", "name", index);
    return this.#record({ kind: "dropIndex", name: index, concurrently: options.concurrently ?? false });
  }

  /**
   * Runs raw SQL, or a function given the database handle. Without `backwards` the migration
   * cannot be reversed (unless it records `addRawBackwards` steps, as Piccolo's do).
   */
  addRaw(forwards: RawStep, backwards?: RawStep): this {
    raw("addRaw", "forwards", forwards);
    if (backwards !== undefined) raw("addRaw", "backwards", backwards);
    return this.#record({ kind: "raw", forwards, backwards });
  }

  /** Does nothing forwards; runs `backwards` when the migration is reversed (Piccolo's). */
  addRawBackwards(backwards: RawStep): this {
    raw("addRawBackwards", "backwards", backwards);
    return this.#record({ kind: "rawBackwards", backwards });
  }

  #record(operation: Operation): this {
    this.#operations.push(operation);
    return this;
  }
}

/** Options of `dropTable` and `dropColumn` (retention, issue 15). */
export interface RetainOptions {
  /** Keep what is dropped until `tide purge`, for backwards to restore; overrides `retainDropped`. */
  readonly retain?: boolean;
}

function retainOf(method: string, options: RetainOptions): { retain?: boolean } {
  if (typeof options !== "object" || options === null) throw new TypeError(`${method}(): options must be an object`);
  for (const key of Object.keys(options)) {
    if (key !== "retain") throw new TypeError(`${method}(): unknown option "${key}"`);
  }
  if (options.retain === undefined) return {};
  if (typeof options.retain !== "boolean") throw new TypeError(`${method}(): "retain" must be true or false`);
  return { retain: options.retain };
}

function name(method: string, what: string, value: unknown): void {
  if (typeof value !== "string" || value.trim() === "") {
    throw new TypeError(`${method}(): ${what} must be a non-empty name, got ${JSON.stringify(value)}`);
  }
}

function fragment(method: string, what: string, value: unknown): void {
  if (typeof value !== "string" || value.trim() === "") {
    throw new TypeError(`${method}(): ${what} must be a non-empty SQL fragment`);
  }
}

function raw(method: string, what: string, value: unknown): void {
  if (typeof value === "function") return;
  if (typeof value !== "string" || value.trim() === "") {
    throw new TypeError(`${method}(): ${what} must be SQL text or a function`);
  }
}

/**
 * Records, on `manager`, operations another isolate recorded (tide's loader: a long plan's
 * migrations run `forwards` in a Worker, src/loader/worker.ts). Copies them, as each recording
 * gets operations of its own. Not part of the public API.
 */
export function replayOperations(manager: MigrationManager, operations: readonly Operation[]): MigrationManager {
  for (const operation of structuredClone(operations)) record(manager, operation);
  return manager;
}
