/**
 * A session: the project's config, its open database, its history table and its apps'
 * migration sources, opened once per command.
 *
 * @module
 */

import { stat } from "node:fs/promises";
import { type AppConfig, chooseDatabase, loadConfig, type ProjectConfig } from "../config.ts";
import type { Database } from "../db/database.ts";
import { openDatabase } from "../db/open.ts";
import { PlanError } from "../errors.ts";
import { MigrationSource } from "../loader/load.ts";
import { maskPasswords } from "../mask.ts";
import { History } from "./history.ts";

/** Everything a command works with. Close it when done. */
export interface Session {
  readonly config: ProjectConfig;
  readonly db: Database;
  readonly history: History;
  /** The database URL with its password masked, for messages. */
  readonly databaseLabel: string;
  /** The database URL as given (with its password): never print it, use databaseLabel. */
  readonly databaseUrl: string;
  /** The migration source of an app; throws a PlanError for an unknown app. */
  source(app: string): MigrationSource;
  /** The app config of a name; throws a PlanError for an unknown app. */
  app(name: string): AppConfig;
  close(): Promise<void>;
}

/** How to open a session. */
export interface SessionOptions {
  /** Path of `tide.json`. @default "tide.json" */
  readonly config?: string | undefined;
  /** Folder relative paths resolve from. @default Deno.cwd() */
  readonly cwd?: string | undefined;
  /** Overrides every other database setting. */
  readonly databaseUrl?: string | undefined;
  /** Environment lookup. @default Deno.env.get */
  readonly env?: ((name: string) => string | undefined) | undefined;
  /**
   * Open without creating anything: an embedded database that does not exist yet is
   * replaced by an empty in-memory one (for `--preview` and `check`).
   */
  readonly readOnly?: boolean | undefined;
}

/** Loads the config and opens the database. */
export async function openSession(options: SessionOptions = {}): Promise<Session> {
  const cwd = options.cwd ?? Deno.cwd();
  const config = await loadConfig(options.config ?? "tide.json", cwd);
  const env = options.env ?? ((name: string) => Deno.env.get(name));
  const choice = chooseDatabase(config, options.databaseUrl, env);
  let url = choice.url;
  if (options.readOnly && url.startsWith("pglite:") && url !== "pglite:memory") {
    const exists = await stat(url.slice("pglite:".length)).catch(() => undefined);
    if (!exists) url = "pglite:memory";
  }
  const db = await openDatabase(url);
  return makeSession(config, db, choice.url);
}

/** Builds a session around an already open database (tests, the library API). */
export function makeSession(config: ProjectConfig, db: Database, databaseUrl: string): Session {
  const sources = new Map<string, MigrationSource>();
  const app = (name: string): AppConfig => {
    const found = config.apps.find((a) => a.name === name);
    if (!found) {
      throw new PlanError(
        `Unknown app "${name}": ${config.path} lists ${config.apps.map((a) => `"${a.name}"`).join(", ")}`,
      );
    }
    return found;
  };
  return {
    config,
    db,
    history: new History(config.migrationTable),
    databaseLabel: maskPasswords(databaseUrl),
    databaseUrl,
    app,
    source(name: string) {
      let source = sources.get(name);
      if (!source) {
        source = new MigrationSource(app(name));
        sources.set(name, source);
      }
      return source;
    },
    close: () => db.close(),
  };
}
