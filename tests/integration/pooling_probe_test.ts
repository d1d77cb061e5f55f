/**
 * The pooling probe against real PgBouncer pools with other clients sharing them, many times:
 * it must call session pooling and a direct connection `session`, and transaction pooling
 * `transaction`, every time. A wrong `session` under transaction pooling would put the run
 * lock on a session that does not persist.
 */

import { assertEquals } from "../helpers/assert.ts";
import { openPostgres } from "../../src/db/postgres.ts";
import { probePooling } from "../../src/db/pooling.ts";
import { backgroundTraffic, pgbouncerTest } from "../helpers/pgbouncer.ts";

const TRIALS = 40;

pgbouncerTest(
  "the probe classifies the pool mode every time, under background traffic",
  ["session", "transaction"],
  async (db, mode) => {
    const traffic = backgroundTraffic(db.url, 4);
    const found: Record<string, number> = {};
    const direct: Record<string, number> = {};
    try {
      for (let i = 0; i < TRIALS; i++) {
        for (const [url, tally] of [[db.url, found], [db.direct, direct]] as const) {
          const a = await openPostgres(url);
          const b = await openPostgres(url);
          try {
            const probe = await probePooling(a, b);
            tally[probe.mode] = (tally[probe.mode] ?? 0) + 1;
          } finally {
            await a.close();
            await b.close();
          }
        }
      }
    } finally {
      await traffic.stop();
    }
    // deno-lint-ignore no-console -- the figures
    console.error(`probe through ${mode} pooling: ${JSON.stringify(found)}; direct: ${JSON.stringify(direct)}`);
    assertEquals(found, { [mode]: TRIALS });
    assertEquals(direct, { session: TRIALS });
  },
);
