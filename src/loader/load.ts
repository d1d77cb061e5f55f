/**
 * Turns an app's migrations folder into migrations. Files named the way `tide new` names them
 * are indexed by name and imported only when a command needs them, so rolling back 1 of 500
 * imports 1 file. This is the only code that calls `import()` on user files.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { AppConfig } from "../config.ts";
import { LoadError } from "../errors.ts";
import { type MigrationContext, MigrationManager, replayOperations } from "../migration/manager.ts";
import { exportsProblem } from "./exports.ts";
import { readStaticExports } from "./static.ts";
import { recordInWorkers } from "./workers.ts";

/** What a migration file exports. */
export interface MigrationModule {
  readonly ID: string;
  readonly DESCRIPTION?: string;
  forwards(ctx: MigrationContext): MigrationManager | void | Promise<MigrationManager | void>;
  backwards?(ctx: MigrationContext): MigrationManager | void | Promise<MigrationManager | void>;
}

/** A migration file that was imported and validated. */
export interface LoadedMigration {
  readonly app: string;
  readonly id: string;
  readonly description: string;
  /** Absolute path of the file. */
  readonly path: string;
  /** SHA-256 of the file's bytes, hex. */
  readonly checksum: string;
  readonly module: MigrationModule;
}

/** A migration file as a listing shows it, read without importing it where possible. */
export interface ListedMigration {
  readonly app: string;
  readonly id: string;
  /** Absolute path of the file. */
  readonly path: string;
  /** SHA-256 of the file's bytes, hex. */
  readonly checksum: string;
  /** The file's DESCRIPTION; undefined when it was not needed and could not be read statically. */
  readonly description: string | undefined;
}

const NEW_STYLE_NAME = /^(\d{4})_(\d{2})_(\d{2})T(\d{2})_(\d{2})_(\d{2})_(\d{6})(?=[_.])/;

/**
 * Derives the ID a file named by `tide new` must export, e.g.
 * `2026_11_22T10_34_26_392882_band.ts` → `2026-11-22T10:34:26:392882`.
 */
export function idFromFileName(fileName: string): string | undefined {
  const m = NEW_STYLE_NAME.exec(fileName);
  return m ? `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}:${m[7]}` : undefined;
}

export { isValidId } from "./exports.ts";

/** One app's migrations folder, read lazily. */
export class MigrationSource {
  readonly app: AppConfig;
  // Promises, not results: a plan asks for hundreds of files at once, and each must not list
  // the folder or import a file again while the first call is still at it.
  #files: Promise<{ paths: string[]; byId: Map<string, string> }> | undefined;
  #listing: Promise<string[]> | undefined;
  readonly #imports = new Map<string, Promise<LoadedMigration>>();
  #all: Promise<Map<string, LoadedMigration>> | undefined;
  #allDone: Map<string, LoadedMigration> | undefined;
  #lookups = 0;
  /** What {@linkcode fileOf} read, by ID: a long plan is planned again (preflight, run) without reading it twice. */
  readonly #read = new Map<string, { path: string; checksum: string }>();

  /** The folder, normalised once: a path is then `${dir}/${name}`, as node:path's join would give. */
  readonly #dir: string;

  constructor(app: AppConfig) {
    this.app = app;
    this.#dir = join(app.migrationsDir).replace(/(?<=.)\/$/, "");
  }

  /** Paths of the app's migration files, sorted by name. */
  async files(): Promise<string[]> {
    return (await this.#index()).paths;
  }

  #index(): Promise<{ paths: string[]; byId: Map<string, string> }> {
    // A promise all the same: a failure to list reaches callers as a rejection.
    this.#files ??= this.#names().then((names) => {
      // Sorted by name; concatenation rather than node:path's join for each of thousands.
      const paths = [...names].sort().map((n) => this.#path(n));
      const byId = new Map<string, string>();
      for (const path of paths) {
        const id = idFromFileName(basename(path));
        if (id !== undefined && !byId.has(id)) byId.set(id, path);
      }
      return { paths, byId };
    });
    return this.#files;
  }

  #path(name: string): string {
    return this.#dir === "/" ? `/${name}` : `${this.#dir}/${name}`;
  }

  /** Names of the folder's migration files, unsorted, listed once. */
  #names(): Promise<string[]> {
    this.#listing ??= Promise.resolve().then(() => {
      // Deno's own listing: 4-5 times faster than node:fs readdir on a folder of 500 files.
      const names: string[] = [];
      try {
        for (const entry of Deno.readDirSync(this.app.migrationsDir)) {
          const n = entry.name;
          if (entry.isDirectory || n.startsWith("_") || n.startsWith(".") || n.endsWith(".d.ts")) continue;
          if (n.endsWith(".ts") || n.endsWith(".js")) names.push(n);
        }
      } catch (error) {
        throw new LoadError(
          this.app.migrationsDir,
          `Cannot list the migrations of app "${this.app.name}": ${(error as Error).message}`,
          { cause: error },
        );
      }
      return names;
    });
    return this.#listing;
  }

  /**
   * The path `#index().byId` would give for an ID, without sorting and indexing the whole
   * folder: the first, by name, of the files whose name starts with the ID as `tide new`
   * writes it (`backwards 1` of thousands needs one file).
   */
  async #pathOf(id: string): Promise<string | undefined> {
    // A second lookup means a plan of many: index the folder once rather than scan it each time.
    if (this.#files !== undefined || this.#lookups++ > 0) return (await this.#index()).byId.get(id);
    const prefix = id.replace(/[:-]/g, "_");
    if (idFromFileName(`${prefix}.ts`) !== id) return undefined;
    let found: string | undefined;
    for (const n of await this.#names()) {
      if (n.startsWith(prefix) && idFromFileName(n) === id && (found === undefined || n < found)) found = n;
    }
    return found === undefined ? undefined : this.#path(found);
  }

  /**
   * Finds the migration with this ID, importing as few files as possible: the file whose
   * name carries the ID, else every file. Returns `undefined` when no file has it.
   */
  async get(id: string): Promise<LoadedMigration | undefined> {
    const done = this.#allDone?.get(id);
    if (done) return done;
    if (this.#allDone === undefined) {
      const candidate = await this.#pathOf(id);
      if (candidate) {
        const loaded = await this.#import(candidate);
        if (loaded.id === id) return loaded;
      }
    }
    return (await this.all()).get(id);
  }

  /** Imports and validates every file; rejects duplicate IDs. Keyed by ID, in ID order. */
  all(): Promise<Map<string, LoadedMigration>> {
    this.#all ??= (async () => {
      const byId = new Map<string, LoadedMigration>();
      for (const path of await this.files()) {
        const loaded = await this.#import(path);
        const other = byId.get(loaded.id);
        if (other) {
          throw new LoadError(
            path,
            `Duplicate migration ID "${loaded.id}" in app "${this.app.name}": ${other.path} and ${path}. Give one of them a new ID`,
          );
        }
        byId.set(loaded.id, loaded);
      }
      this.#allDone = new Map([...byId].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
      return this.#allDone;
    })();
    return this.#all;
  }

  /**
   * Records the `forwards` of these migrations in Workers (src/loader/workers.ts) rather than
   * importing their files here, for plans of thousands: {@linkcode get} then gives each as
   * data, its `forwards` replaying what the Worker recorded. A file the Workers did not record
   * (see src/loader/worker.ts), or whose name carries no ID, is imported when asked for.
   */
  async recordAhead(ids: readonly string[]): Promise<void> {
    const files: { id: string; path: string; checksum: string }[] = [];
    for (const id of ids) {
      const file = await this.fileOf(id);
      if (file !== undefined && !this.#imports.has(file.path)) files.push({ id, ...file });
    }
    const records = await recordInWorkers(this.app.name, files.map((f) => f.path));
    for (const [i, record] of records.entries()) {
      const { id, path, checksum } = files[i]!;
      // What #import would refuse is left to it, so that it says so as it always has.
      if (record === undefined || record.id !== id) continue;
      const module: MigrationModule = {
        ID: record.id,
        DESCRIPTION: record.description,
        forwards: ({ manager }) => replayOperations(manager, record.operations),
      };
      this.#imports.set(
        path,
        Promise.resolve({ app: this.app.name, id, description: record.description, path, checksum, module }),
      );
    }
  }

  /**
   * The file whose name carries this ID and its checksum, read without importing it; undefined
   * when no file name carries the ID (it may still exist under another name).
   */
  async fileOf(id: string): Promise<{ path: string; checksum: string } | undefined> {
    const known = this.#read.get(id);
    if (known) return known;
    const path = await this.#pathOf(id);
    if (path === undefined) return undefined;
    // Deno's own read: about half the time of node:fs/promises' readFile, which a plan of
    // 500 unchanged files calls 500 times (planning 500: about 15 ms less).
    // Synchronous: a small file reads faster so than awaited, and the bytes die at once
    // rather than survive in a queue of reads (a long plan reads thousands).
    // Read once per run: what a long plan plans again (preflight, run) is checked against its
    // fingerprint, which covers every statement; the file only chose between history and import.
    const file = { path, checksum: sha256Hex(Deno.readFileSync(path)) };
    this.#read.set(id, file);
    return file;
  }

  /**
   * Every migration ID of the app, sorted, importing only files whose name does not carry
   * their ID.
   *
   * @throws {LoadError} on a duplicate ID, naming both files.
   */
  async ids(): Promise<string[]> {
    if (this.#allDone !== undefined) return [...this.#allDone.keys()];
    const seen = new Map<string, string>();
    for (const path of await this.files()) {
      const id = idFromFileName(basename(path)) ?? (await this.#import(path)).id;
      const other = seen.get(id);
      if (other !== undefined) {
        throw new LoadError(
          path,
          `Duplicate migration ID "${id}" in app "${this.app.name}": ${other} and ${path}. Give one of them a new ID`,
        );
      }
      seen.set(id, path);
    }
    return [...seen.keys()].sort();
  }

  /**
   * Every migration file of the app as a listing needs it (`check`): the ID from the file name
   * (files named as `tide new` names them), the checksum of its bytes, and the description read
   * from its text. A file is imported only when its name carries no ID, when its text does not
   * plainly export the ID its name says, or when `wantsDescription` asks for a description that
   * its text does not plainly give. A file whose bytes are those that ran under its name's ID
   * (`ranChecksum`, the history row's) is not read as text at all: it is the file that was
   * imported and checked when it ran. In ID order.
   *
   * @throws {LoadError} on a duplicate ID, or for a file that must be imported and is malformed.
   */
  async listed(
    wantsDescription: (id: string) => boolean = () => true,
    ranChecksum: (id: string) => string | null | undefined = () => undefined,
  ): Promise<ListedMigration[]> {
    const paths = await this.files();
    // Synchronous reads: for thousands of small files, faster than as many awaited ones.
    const listed: (ListedMigration | undefined)[] = paths.map((path) => {
      const named = idFromFileName(basename(path));
      if (named === undefined || this.#imports.has(path)) return undefined;
      let bytes: Uint8Array;
      try {
        bytes = Deno.readFileSync(path);
      } catch {
        return undefined; // Unreadable: the import below reports it as it always has.
      }
      const checksum = sha256Hex(bytes);
      const wanted = wantsDescription(named);
      if (!wanted && ranChecksum(named) === checksum) {
        return { app: this.app.name, id: named, path, checksum, description: undefined };
      }
      const found = readStaticExports(bytes);
      if (found.id !== named || (found.description === undefined && wanted)) return undefined;
      return { app: this.app.name, id: named, path, checksum, description: found.description };
    });
    const imported = await mapLimit(
      paths.filter((_, i) => listed[i] === undefined),
      16,
      async (path): Promise<ListedMigration> => {
        const loaded = await this.#import(path);
        return { app: this.app.name, id: loaded.id, path, checksum: loaded.checksum, description: loaded.description };
      },
    );
    for (let i = 0, j = 0; i < listed.length; i++) listed[i] ??= imported[j++];
    const seen = new Map<string, string>();
    for (const m of listed as ListedMigration[]) {
      const other = seen.get(m.id);
      if (other !== undefined) {
        throw new LoadError(
          m.path,
          `Duplicate migration ID "${m.id}" in app "${this.app.name}": ${other} and ${m.path}. Give one of them a new ID`,
        );
      }
      seen.set(m.id, m.path);
    }
    return (listed as ListedMigration[]).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  #import(path: string): Promise<LoadedMigration> {
    let loading = this.#imports.get(path);
    if (!loading) {
      loading = (async () => {
        const loaded = await importMigration(this.app.name, path);
        const expected = idFromFileName(basename(path));
        if (expected !== undefined && expected !== loaded.id) {
          throw new LoadError(
            path,
            `Migration file ${path} exports ID "${loaded.id}" but its name says "${expected}": rename the file or fix its ID`,
          );
        }
        return loaded;
      })();
      this.#imports.set(path, loading);
    }
    return loading;
  }
}

function basename(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

/** SHA-256 of bytes, hex: the checksum stored with a history row. */
export function sha256(bytes: Uint8Array): Promise<string> {
  return Promise.resolve(sha256Hex(bytes));
}

/**
 * {@linkcode sha256}, synchronously: node:crypto's hash is native and synchronous, about a
 * tenth of the time of `crypto.subtle.digest` per small file (3,000 files: 25 vs 100 ms).
 */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/**
 * Maps with at most `limit` calls under way: concurrent enough to overlap file reads and
 * imports, bounded so that hundreds of them do not all hold their buffers at once.
 */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/**
 * Imports one migration file by absolute `file://` URL (never relative to this module, so a
 * compiled binary imports from disk too) and checks its exports.
 *
 * @throws {LoadError} naming the file and what is wrong with it.
 */
export async function importMigration(app: string, path: string): Promise<LoadedMigration> {
  let bytes: Uint8Array;
  let module: Record<string, unknown>;
  try {
    bytes = await Deno.readFile(path);
    module = await import(pathToFileURL(path).href);
  } catch (error) {
    throw new LoadError(path, `Cannot import migration ${path}: ${firstLine(error)}`, { cause: error });
  }
  const problem = exportsProblem(path, module);
  if (problem !== undefined) throw new LoadError(path, problem);
  return {
    app,
    id: module.ID as string,
    description: (module.DESCRIPTION as string | undefined) ?? "",
    path,
    checksum: await sha256(bytes),
    module: module as unknown as MigrationModule,
  };
}

/**
 * Calls the migration's `forwards` (or hand-written `backwards`) to get its recorded
 * operations. Neither may touch the database: they get no handle.
 *
 * @throws {LoadError} when the function throws or returns something else than a manager.
 */
export async function recordOperations(
  migration: LoadedMigration,
  which: "forwards" | "backwards" = "forwards",
): Promise<MigrationManager> {
  const manager = new MigrationManager();
  const fn = migration.module[which];
  if (fn === undefined) throw new TypeError(`${which} is not exported`);
  let result: unknown;
  try {
    result = await fn.call(migration.module, { manager, appName: migration.app, migrationId: migration.id });
  } catch (error) {
    throw new LoadError(migration.path, `${which}() of migration ${migration.path} failed: ${firstLine(error)}`, {
      cause: error,
    });
  }
  if (result === undefined) return manager;
  if (!(result instanceof MigrationManager)) {
    throw new LoadError(
      migration.path,
      `${which}() of migration ${migration.path} must return the manager it was given`,
    );
  }
  return result;
}

function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split("\n").filter((l) => l.trim() !== "").slice(0, 3).join(" ").trim();
}
