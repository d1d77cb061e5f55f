/**
 * Embedded adapter over PGlite (real Postgres compiled to WASM). One process owns a data
 * directory at a time; a lock file keeps a second tide process out instead of corrupting it.
 *
 * @module
 */

import type { PGlite } from "@electric-sql/pglite";
import { type FileHandle, mkdir, open, readdir, readFile, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import process from "node:process";
import { type Database, LockTimeoutError, type Queryable, StatementError } from "./database.ts";
import { readTemplate, saveTemplate } from "./pglite_template.ts";

interface PgliteLike {
  query<T>(sql: string, params?: unknown[]): Promise<{ rows: T[] }>;
  exec(sql: string): Promise<{ affectedRows?: number }[]>;
  transaction<T>(fn: (tx: PgliteLike) => Promise<T>): Promise<T>;
}

/**
 * Opens (creating it if needed) an embedded database.
 *
 * @param path Data directory, or `"memory"` for a database that lives only in this process.
 */
export async function openPglite(path: string): Promise<Database> {
  // Imported here so that runs against a server never load PGlite's WASM.
  const { PGlite } = await import("@electric-sql/pglite");
  if (path === "memory") {
    const db = new PGlite();
    await db.waitReady;
    return new PgliteDatabase(db, undefined);
  }
  const fresh = (await readdir(path).catch(() => [])).length === 0;
  await mkdir(path, { recursive: true });
  const template = fresh ? await readTemplate() : undefined;
  const db = template ? new PGlite(path, { loadDataDir: template }) : new PGlite(path);
  await db.waitReady;
  // The first fresh database on this machine seeds the template for the next ones.
  if (fresh && !template) await saveTemplate(await db.dumpDataDir("gzip"));
  return new PgliteDatabase(db, path);
}

/** Wraps an already open PGlite instance (tests share one per file). */
export function wrapPglite(db: PGlite): Database {
  return new PgliteDatabase(db, undefined, false);
}

class PgliteDatabase implements Database {
  readonly kind = "pglite";
  readonly #db: PGlite;
  readonly #dir: string | undefined;
  readonly #owned: boolean;

  constructor(db: PGlite, dir: string | undefined, owned = true) {
    this.#db = db;
    this.#dir = dir;
    this.#owned = owned;
  }

  query<T>(text: string, params: readonly unknown[] = []): Promise<T[]> {
    return query<T>(this.#db as unknown as PgliteLike, text, params);
  }

  execute(statements: readonly string[]): Promise<number[]> {
    return execute(this.#db as unknown as PgliteLike, statements);
  }

  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    return (this.#db as unknown as PgliteLike).transaction((tx) =>
      fn({
        query: (text, params = []) => query(tx, text, params),
        execute: (statements) => execute(tx, statements),
      })
    );
  }

  async withLock<T>(key: string, timeoutMs: number, fn: () => Promise<T>): Promise<T> {
    if (this.#dir === undefined) return await fn();
    const file = join(this.#dir, "tide.lock");
    const handle = await acquireLockFile(file, key, timeoutMs);
    try {
      return await fn();
    } finally {
      await handle.close();
      await rm(file, { force: true });
    }
  }

  async close(): Promise<void> {
    if (this.#owned) await this.#db.close();
  }
}

/**
 * An exclusive-create lock file: a second process waits for it like for an advisory lock.
 * A file left by a killed process names its pid, and is taken over when that pid is gone.
 */
async function acquireLockFile(file: string, key: string, timeoutMs: number): Promise<FileHandle> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const handle = await open(file, "wx");
      await handle.writeFile(String(process.pid));
      return handle;
    } catch (error) {
      if ((error as { code?: string }).code !== "EEXIST") throw error;
      if (await holderIsGone(file)) {
        await rm(file, { force: true });
        continue;
      }
      if (Date.now() >= deadline) {
        throw new LockTimeoutError(
          `Another tide run holds the migration lock "${key}" (${file}); gave up after ` +
            `${timeoutMs} ms. Wait for it to finish, or raise --lock-timeout`,
        );
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

async function holderIsGone(file: string): Promise<boolean> {
  const pid = Number((await readFile(file, "utf8").catch(() => "")).trim());
  if (!Number.isInteger(pid) || pid <= 0) return false;
  // Only where /proc tells for sure; elsewhere the file stays until removed by hand.
  const proc = await stat("/proc/self").catch(() => undefined);
  if (!proc) return false;
  return (await stat(`/proc/${pid}`).catch(() => undefined)) === undefined;
}

async function query<T>(db: PgliteLike, text: string, params: readonly unknown[]): Promise<T[]> {
  try {
    return (await db.query<T>(text, [...params])).rows;
  } catch (error) {
    // As on a server: the message carries the SQLSTATE and names the statement.
    throw new StatementError(text, 0, error);
  }
}

async function execute(db: PgliteLike, statements: readonly string[]): Promise<number[]> {
  // In process there is no round trip to save: run one by one and know which one failed.
  const counts: number[] = [];
  for (const [index, statement] of statements.entries()) {
    try {
      const results = await db.exec(statement);
      counts.push(results.at(-1)?.affectedRows ?? 0);
    } catch (error) {
      throw new StatementError(statement, index, error);
    }
  }
  return counts;
}
