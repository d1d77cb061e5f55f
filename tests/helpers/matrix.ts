/**
 * The PostgreSQL version matrix in tests: the test task (tools/matrix.ts) starts PostgreSQL
 * 13, 14, 16, 17 and 18 and passes their admin URLs in TIDE_TEST_MATRIX (JSON
 * `{ "13": url, … }`). {@linkcode eachVersion} registers one test per version, tagged
 * `[pg13]` … `[pg18]`, ignored when that version is not running (so the skip shows).
 *
 * @module
 */

import { openPostgres } from "../../src/db/postgres.ts";
import { createDatabaseOn, eachDatabase, type EachOptions, type TestDatabase } from "./databases.ts";

/** The versions of the matrix (15 is the `[postgres]` service, 18.6 is also PGlite). */
export const MATRIX_VERSIONS = ["13", "14", "16", "17", "18"] as const;

/** version → admin URL of the running matrix servers. */
export const MATRIX: Readonly<Record<string, string>> = parseMatrix(Deno.env.get("TIDE_TEST_MATRIX"));

function parseMatrix(text: string | undefined): Record<string, string> {
  if (!text) return {};
  try {
    const value = JSON.parse(text);
    return value && typeof value === "object" ? value : {};
  } catch {
    throw new Error(`TIDE_TEST_MATRIX is not JSON like {"13": "postgres://…"}: ${text}`);
  }
}

/** A matrix database: a real PostgreSQL of a known major version. */
export interface VersionDatabase extends TestDatabase {
  readonly kind: "postgres";
  /** The major version, e.g. `"13"`. */
  readonly version: string;
}

/** Registers `name [pgNN]` for each matrix version, each with a fresh database on that server. */
export function eachVersion(
  name: string,
  fn: (t: VersionDatabase) => Promise<void>,
  options: { since?: number; versions?: readonly string[] } = {},
): void {
  const versions = options.versions ?? MATRIX_VERSIONS;
  for (const version of versions.filter((v) => Number(v) >= (options.since ?? 0))) {
    const admin = MATRIX[version];
    Deno.test({
      name: `${name} [pg${version}]`,
      ignore: !admin,
      sanitizeResources: false,
      sanitizeOps: false,
      fn: async () => {
        const { url, drop } = await createDatabaseOn(admin!);
        const db = await openPostgres(url);
        try {
          await fn({ kind: "postgres", db, url, version });
        } finally {
          await db.close();
          await drop();
        }
      },
    });
  }
}

/**
 * Registers `name` on every database there is: `[pglite]`, `[postgres]` (the 15 service) and
 * each matrix version. `since` (a major version) leaves out the servers older than it: the
 * service counts as 15, PGlite 0.5.16 as 18.
 */
export function everyVersion(
  name: string,
  fn: (t: TestDatabase) => Promise<void>,
  options: EachOptions & { since?: number } = {},
): void {
  const { since = 0, ...each } = options;
  if (since <= 18) eachDatabase(name, fn, { ...each, ...(since > 15 ? { pgliteOnly: true } : {}) });
  eachVersion(name, fn, { since });
}
