/**
 * `[standby]` tests: a fresh database on the throwaway primary (tools/standby.ts), waited for
 * until the hot standby has replayed it. Without the pair the tests register as ignored.
 *
 * @module
 */

import postgres from "postgres";

const PRIMARY = Deno.env.get("TIDE_TEST_PRIMARY_URL");
const STANDBY = Deno.env.get("TIDE_TEST_STANDBY_URL");

/** One test database, on both servers. */
export interface PairDatabase {
  /** The database on the primary. */
  readonly primary: string;
  /** The same database on the standby (read-only). */
  readonly standby: string;
  /** `host:port` of each server, for multi-host URLs. */
  readonly primaryHost: string;
  readonly standbyHost: string;
  /** The database's name. */
  readonly name: string;
  /** Waits until the standby has replayed everything the primary committed so far. */
  caughtUp(): Promise<void>;
}

function withDatabase(url: string, name: string): string {
  return url.replace(/\/[^/?]*(\?|$)/, `/${name}$1`);
}

/** Registers `name [standby]`. */
export function standbyTest(name: string, fn: (db: PairDatabase) => Promise<void>): void {
  Deno.test({
    name: `${name} [standby]`,
    ignore: !PRIMARY || !STANDBY,
    sanitizeResources: false,
    sanitizeOps: false,
    fn: async () => {
      const db = `tide_t_${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`;
      const admin = postgres(PRIMARY!, { max: 1, onnotice: () => {} });
      await admin.unsafe(`create database ${db}`);
      const caughtUp = async () => {
        const [{ lsn }] = await admin`select pg_current_wal_lsn()::text as lsn` as unknown as [{ lsn: string }];
        const standby = postgres(STANDBY!, { max: 1, onnotice: () => {} });
        try {
          const deadline = Date.now() + 20_000;
          while (Date.now() < deadline) {
            const [r] = await standby`select pg_last_wal_replay_lsn() >= ${lsn}::pg_lsn as ok`;
            if (r?.ok) return;
            await new Promise((r) => setTimeout(r, 50));
          }
          throw new Error("the standby did not catch up within 20 s");
        } finally {
          await standby.end();
        }
      };
      try {
        await caughtUp();
        await fn({
          primary: withDatabase(PRIMARY!, db),
          standby: withDatabase(STANDBY!, db),
          primaryHost: new URL(PRIMARY!).host,
          standbyHost: new URL(STANDBY!).host,
          name: db,
          caughtUp,
        });
      } finally {
        await admin.unsafe(`drop database if exists ${db} with (force)`);
        await admin.end();
      }
    },
  });
}
