/**
 * Reading and validating `tide.json` (SPEC 1.1) and choosing the database (SPEC 1.2).
 *
 * @module
 */

import { readFile, stat } from "node:fs/promises";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { ConfigError, UsageError } from "./errors.ts";
import { parseJsonc } from "./jsonc.ts";
import { maskPasswords } from "./mask.ts";

/** One app of the project: a named folder of migrations. */
export interface AppConfig {
  /** The app's name, as used on the command line and in the history table. */
  readonly name: string;
  /** Absolute path of the app's migrations folder. */
  readonly migrationsDir: string;
  /** Names of the apps whose migrations must run before this app's. */
  readonly dependsOn: readonly string[];
}

/** A loaded and validated `tide.json`. */
export interface ProjectConfig {
  /** Absolute path of the `tide.json` file. */
  readonly path: string;
  /** Folder holding `tide.json`; relative paths in it are resolved from here. */
  readonly root: string;
  /** `database` from the file, if set. */
  readonly database: string | undefined;
  /** Name of the history table. @default "migration" */
  readonly migrationTable: string;
  /** Refuse any plan that loses data (`forbidDataLoss`). @default false */
  readonly forbidDataLoss: boolean;
  /** Retain what `dropTable`/`dropColumn` drop unless they say `{ retain: false }` (issue 15). @default false */
  readonly retainDropped: boolean;
  /** Apps in "sorted app names" order: dependencies first, ties by name. */
  readonly apps: readonly AppConfig[];
  /** The run lock (`"lock"`): `auto` (default), `table` or `advisory`. */
  readonly lock?: "auto" | "table" | "advisory" | undefined;
  /** The table lock's lease (`"lockLease"`, e.g. `"60s"`), in ms. */
  readonly lockLeaseMs?: number | undefined;
  /** A scratch database URL for `tide verify` (`"verifyDatabase"`), instead of a temporary one. */
  readonly verifyDatabase?: string | undefined;
}

const TOP_KEYS = new Set([
  "$schema",
  "database",
  "migrationTable",
  "apps",
  "forbidDataLoss",
  "retainDropped",
  "lock",
  "lockLease",
  "verifyDatabase",
]);

/** Parses a duration: `10s`, `500ms`, `2m` or plain seconds; undefined when malformed. */
export function durationMs(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (!m) return undefined;
  const value = Number(m[1]);
  return m[2] === "ms" ? value : m[2] === "m" ? value * 60_000 : value * 1000;
}
const APP_KEYS = new Set(["migrations", "dependsOn"]);

/**
 * Reads, validates and orders a project's `tide.json`.
 *
 * @param path Path of `tide.json`; relative paths resolve from `cwd`.
 * @param cwd Folder the command was started in.
 * @throws {ConfigError} naming the key or app at fault.
 */
export async function loadConfig(path: string, cwd: string): Promise<ProjectConfig> {
  const file = resolve(cwd, path);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    throw new ConfigError(
      `Cannot read ${file}: ${(error as Error).message}. ` +
        "Run tide in the folder holding tide.json or pass --config PATH",
      { cause: error },
    );
  }
  let raw: unknown;
  try {
    raw = parseJsonc(text);
  } catch (error) {
    throw new ConfigError(`Cannot parse ${file}: ${(error as Error).message}`, { cause: error });
  }
  return await validateConfig(raw, file);
}

async function validateConfig(raw: unknown, file: string): Promise<ProjectConfig> {
  const where = `in ${file}`;
  if (!isRecord(raw)) throw new ConfigError(`Expected a JSON object ${where}`);
  for (const key of Object.keys(raw)) {
    if (!TOP_KEYS.has(key)) {
      throw new ConfigError(
        `Unknown key "${key}" ${where}: expected one of ${[...TOP_KEYS].slice(1).join(", ")}`,
      );
    }
  }
  const database = optionalString(raw, "database", where);
  const migrationTable = optionalString(raw, "migrationTable", where) ?? "migration";
  if (!/^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?$/.test(migrationTable)) {
    throw new ConfigError(
      `Invalid "migrationTable" "${migrationTable}" ${where}: use a plain name such as "migration" or "schema.migration"`,
    );
  }
  const forbid = raw.forbidDataLoss;
  if (forbid !== undefined && typeof forbid !== "boolean") {
    throw new ConfigError(`"forbidDataLoss" must be true or false ${where}`);
  }
  const retainDropped = raw.retainDropped;
  if (retainDropped !== undefined && typeof retainDropped !== "boolean") {
    throw new ConfigError(`"retainDropped" must be true or false ${where}`);
  }
  const lock = optionalString(raw, "lock", where);
  if (lock !== undefined && lock !== "auto" && lock !== "table" && lock !== "advisory") {
    throw new ConfigError(`Invalid "lock" "${lock}" ${where}: use "auto", "table" or "advisory"`);
  }
  const lease = optionalString(raw, "lockLease", where);
  const lockLeaseMs = lease === undefined ? undefined : durationMs(lease);
  if (lease !== undefined && (lockLeaseMs === undefined || lockLeaseMs < 1000)) {
    throw new ConfigError(`Invalid "lockLease" "${lease}" ${where}: give a duration of at least 1s, e.g. "60s"`);
  }
  const verifyDatabase = optionalString(raw, "verifyDatabase", where);
  if (!isRecord(raw.apps) || Object.keys(raw.apps).length === 0) {
    throw new ConfigError(`Missing "apps" ${where}: add at least one app with a "migrations" folder`);
  }
  const root = dirname(file);
  const apps: AppConfig[] = [];
  for (const [name, app] of Object.entries(raw.apps)) {
    apps.push(await validateApp(name, app, root, where));
  }
  return {
    path: file,
    root,
    database,
    migrationTable,
    forbidDataLoss: forbid ?? false,
    retainDropped: retainDropped ?? false,
    apps: sortApps(apps, where),
    ...(lock !== undefined ? { lock } : {}),
    ...(lockLeaseMs !== undefined ? { lockLeaseMs } : {}),
    ...(verifyDatabase !== undefined ? { verifyDatabase } : {}),
  };
}

async function validateApp(
  name: string,
  app: unknown,
  root: string,
  where: string,
): Promise<AppConfig> {
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(name) || name === "all") {
    throw new ConfigError(
      `Invalid app name "${name}" ${where}: use letters, digits, "_", "-" or "." (and not "all")`,
    );
  }
  if (!isRecord(app)) throw new ConfigError(`App "${name}" must be an object ${where}`);
  for (const key of Object.keys(app)) {
    if (!APP_KEYS.has(key)) {
      throw new ConfigError(
        `Unknown key "${key}" in app "${name}" ${where}: expected "migrations" or "dependsOn"`,
      );
    }
  }
  if (typeof app.migrations !== "string" || app.migrations === "") {
    throw new ConfigError(`App "${name}" needs a "migrations" folder ${where}`);
  }
  const migrationsDir = isAbsolute(app.migrations) ? app.migrations : join(root, app.migrations);
  const info = await stat(migrationsDir).catch(() => undefined);
  if (!info?.isDirectory()) {
    throw new ConfigError(
      `The migrations folder of app "${name}" does not exist: ${migrationsDir} ` +
        `(key "apps.${name}.migrations" ${where}); create it or fix the path`,
    );
  }
  const dependsOn = app.dependsOn ?? [];
  if (!Array.isArray(dependsOn) || !dependsOn.every((d) => typeof d === "string")) {
    throw new ConfigError(`"dependsOn" of app "${name}" must be a list of app names ${where}`);
  }
  return { name, migrationsDir, dependsOn };
}

/**
 * Orders apps dependencies first (topologically), ties broken by name.
 *
 * @throws {ConfigError} on an unknown dependency or a cycle, naming the apps.
 */
export function sortApps(apps: readonly AppConfig[], where = ""): AppConfig[] {
  const byName = new Map(apps.map((a) => [a.name, a]));
  for (const app of apps) {
    for (const dep of app.dependsOn) {
      if (!byName.has(dep)) {
        throw new ConfigError(
          `App "${app.name}" depends on unknown app "${dep}"${where ? " " + where : ""}`,
        );
      }
    }
  }
  const sorted: AppConfig[] = [];
  const done = new Set<string>();
  const remaining = [...apps].sort((a, b) => compare(a.name, b.name));
  while (remaining.length > 0) {
    const index = remaining.findIndex((a) => a.dependsOn.every((d) => done.has(d)));
    if (index === -1) {
      const names = remaining.map((a) => `"${a.name}"`).join(", ");
      throw new ConfigError(
        `Dependency cycle between apps ${names}${where ? " " + where : ""}: remove one "dependsOn"`,
      );
    }
    const [app] = remaining.splice(index, 1);
    sorted.push(app!);
    done.add(app!.name);
  }
  return sorted;
}

/** Where the database URL came from, for messages. */
export type DatabaseUrlSource =
  | "--database-url"
  | "TIDE_DATABASE_URL"
  | "DATABASE_URL"
  | "tide.json"
  | "default";

/** The database a command will use. */
export interface DatabaseChoice {
  /** The URL, with a relative `pglite:` path made absolute. */
  readonly url: string;
  /** Which setting supplied it. */
  readonly source: DatabaseUrlSource;
}

/**
 * Chooses the database: `--database-url`, then env `TIDE_DATABASE_URL`, env `DATABASE_URL`,
 * `tide.json` `database`, else the embedded `pglite:.tide/pglite` (SPEC 1.2).
 *
 * @throws {UsageError} when the URL has an unsupported form.
 */
export function chooseDatabase(
  config: Pick<ProjectConfig, "root" | "database">,
  flag: string | undefined,
  env: (name: string) => string | undefined,
): DatabaseChoice {
  const candidates: [string | undefined, DatabaseUrlSource][] = [
    [flag, "--database-url"],
    [env("TIDE_DATABASE_URL"), "TIDE_DATABASE_URL"],
    [env("DATABASE_URL"), "DATABASE_URL"],
    [config.database, "tide.json"],
    ["pglite:.tide/pglite", "default"],
  ];
  const [url, source] = candidates.find(([value]) => value !== undefined && value !== "")!;
  return { url: normaliseUrl(url!, config.root, source), source };
}

function normaliseUrl(url: string, root: string, source: DatabaseUrlSource): string {
  if (/^postgres(ql)?:\/\//i.test(url)) return url;
  if (url.startsWith("pglite:")) {
    const path = url.slice("pglite:".length);
    if (path === "memory" || path === "") return "pglite:memory";
    return `pglite:${isAbsolute(path) ? path : join(root, path)}`;
  }
  throw new UsageError(
    `Unsupported database URL "${maskPasswords(url)}" (from ${source}): ` +
      "use postgres://…, postgresql://…, pglite:PATH or pglite:memory",
  );
}

function optionalString(raw: Record<string, unknown>, key: string, where: string) {
  const value = raw[key];
  if (value === undefined) return undefined;
  if (typeof value !== "string") throw new ConfigError(`"${key}" must be a string ${where}`);
  return value;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
