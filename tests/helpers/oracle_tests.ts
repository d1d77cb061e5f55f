/**
 * Registers oracle round-trip tests: one test per object and database (`[pglite]`,
 * `[postgres]`, `[pg13]` … `[pg18]`), named `oracle <fixture>: <operation> [db]`, so the count
 * of exactly restored objects shows per version.
 *
 * Known gaps are a ratchet, not a skip: an object listed as a known gap of today's engine is
 * registered as `oracle <fixture>: <operation> (known gap) [db]` and passes only while the
 * oracle still sees a difference; once the engine restores it, the test fails until the entry
 * is removed from the list. `TIDE_ORACLE_STRICT=1` ignores the list: every object must then
 * round-trip exactly (what issue 11 is done with).
 *
 * @module
 */

import { assert } from "./assert.ts";
import { eachDatabase } from "./databases.ts";
import { eachVersion, MATRIX_VERSIONS } from "./matrix.ts";
import { exact, type OracleOp, oracleRoundTrip, report } from "./oracle_roundtrip.ts";
import type { TestDatabase } from "./databases.ts";

/** A known gap: what today's engine loses; `only` limits it to some databases (`pg13`, `pglite`, …). */
export type KnownGap = string | { readonly what: string; readonly only: readonly string[] };

/** `"<fixture>: <operation>"` → the gap. */
export type KnownGaps = Readonly<Record<string, KnownGap>>;

/** Whether the ratchet is off (every object must round-trip exactly). */
export const STRICT = Deno.env.get("TIDE_ORACLE_STRICT") === "1";

function gapOn(gap: KnownGap | undefined, tag: string): string | undefined {
  if (gap === undefined || STRICT) return undefined;
  if (typeof gap === "string") return gap;
  return gap.only.includes(tag) ? gap.what : undefined;
}

/** Registers the round trips of `ops` on fixture `fixture`, on every database. */
export function oracleTests(fixture: string, ops: readonly OracleOp[], gaps: KnownGaps = {}): void {
  for (const op of ops) {
    const since = op.since ?? 0;
    const gap = gaps[`${fixture}: ${op.op}`];
    const register = (tag: string, add: (name: string, fn: (t: TestDatabase) => Promise<void>) => void) => {
      const known = gapOn(gap, tag);
      add(`oracle ${fixture}: ${op.op}${known ? " (known gap)" : ""}`, async (t) => {
        const result = await oracleRoundTrip(t, fixture, op);
        if (known) {
          assert(
            !exact(result),
            `${op.op} now round-trips exactly on ${tag}: remove it from the known gaps (tests/oracle/known_gaps.ts)`,
          );
        } else {
          assert(exact(result), report(op, result));
        }
      });
    };
    // PGlite 0.5.16 is PostgreSQL 18.6; the service is counted as 15.
    if (since <= 18) register("pglite", (name, fn) => eachDatabase(name, fn, { pgliteOnly: true }));
    if (since <= 15) register("postgres", (name, fn) => eachDatabase(name, fn, { postgresOnly: true }));
    for (const v of MATRIX_VERSIONS) {
      if (Number(v) >= since) register(`pg${v}`, (name, fn) => eachVersion(name, fn, { versions: [v] }));
    }
  }
}
