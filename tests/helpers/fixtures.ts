/**
 * SQL fixtures under tests/fixtures/: split into statements (quotes, dollar quotes and
 * comments respected) and loaded with the version-guarded parts the server has.
 *
 * @module
 */

import { join } from "node:path";
import type { Queryable } from "../../src/db/database.ts";
import { REPO } from "./cli.ts";

/** The folder holding the fixtures. */
export const FIXTURES = join(REPO, "tests", "fixtures");

/** Splits an SQL script into statements (without their `;`), dropping comments and blanks. */
export function splitSql(script: string): string[] {
  const statements: string[] = [];
  let current = "";
  let i = 0;
  while (i < script.length) {
    const c = script[i]!;
    const rest = script.slice(i);
    if (c === "-" && script[i + 1] === "-") {
      const end = script.indexOf("\n", i);
      i = end < 0 ? script.length : end;
      continue;
    }
    if (c === "/" && script[i + 1] === "*") {
      const end = script.indexOf("*/", i + 2);
      i = end < 0 ? script.length : end + 2;
      continue;
    }
    if (c === "'" || c === '"') {
      // '' (or "") inside is an escaped quote: scanning to the next quote twice covers it.
      const end = script.indexOf(c, i + 1);
      const stop = end < 0 ? script.length : end + 1;
      current += script.slice(i, stop);
      i = stop;
      continue;
    }
    const dollar = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(rest);
    if (dollar) {
      const tag = dollar[0];
      const end = script.indexOf(tag, i + tag.length);
      const stop = end < 0 ? script.length : end + tag.length;
      current += script.slice(i, stop);
      i = stop;
      continue;
    }
    if (c === ";") {
      if (current.trim()) statements.push(current.trim());
      current = "";
      i++;
      continue;
    }
    current += c;
    i++;
  }
  if (current.trim()) statements.push(current.trim());
  return statements;
}

/** The server's `server_version_num` (PGlite 0.5.16: 180006). */
export async function serverVersion(db: Queryable): Promise<number> {
  const [row] = await db.query<{ v: string }>("select current_setting('server_version_num') as v");
  return Number(row!.v);
}

/**
 * The files of fixture `name`: `name.sql`, then each `name_pgNN.sql` with NN at most the
 * server's major version, in version order.
 */
export async function fixtureFiles(name: string, versionNum: number): Promise<string[]> {
  const major = Math.floor(versionNum / 10000);
  const guarded: { file: string; v: number }[] = [];
  for await (const entry of Deno.readDir(FIXTURES)) {
    const m = new RegExp(`^${name}_pg(\\d+)\\.sql$`).exec(entry.name);
    if (m && Number(m[1]) <= major) guarded.push({ file: entry.name, v: Number(m[1]) });
  }
  guarded.sort((a, b) => a.v - b.v);
  return [`${name}.sql`, ...guarded.map((g) => g.file)].map((f) => join(FIXTURES, f));
}

/** Loads fixture `name` (and its guarded parts for this server) statement by statement. */
export async function loadFixture(db: Queryable, name: string): Promise<void> {
  const version = await serverVersion(db);
  for (const file of await fixtureFiles(name, version)) {
    const statements = splitSql(await Deno.readTextFile(file));
    for (const statement of statements) {
      try {
        await db.query(statement);
      } catch (error) {
        throw new Error(`${file}: ${statement.slice(0, 200)}: ${error instanceof Error ? error.message : error}`);
      }
    }
  }
}
