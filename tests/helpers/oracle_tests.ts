/**
 * Registers oracle round-trip tests: one test per object and database (`[pglite]`,
 * `[postgres]`, `[pg13]` … `[pg18]`), named `oracle <fixture>: <operation> [db]`, so the count
 * of exactly restored objects shows per version.
 *
 * @module
 */

import { assert } from "./assert.ts";
import { everyVersion } from "./matrix.ts";
import { exact, type OracleOp, oracleRoundTrip, report } from "./oracle_roundtrip.ts";

/** Registers the round trips of `ops` on fixture `fixture`, on every database. */
export function oracleTests(fixture: string, ops: readonly OracleOp[]): void {
  for (const op of ops) {
    everyVersion(`oracle ${fixture}: ${op.op}`, async (t) => {
      const result = await oracleRoundTrip(t, fixture, op);
      assert(exact(result), report(op, result));
    }, op.since ? { since: op.since } : {});
  }
}
