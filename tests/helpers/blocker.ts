/**
 * Another session holding a table lock in an open transaction, for tests of lock timeouts.
 *
 * @module
 */

import postgres from "postgres";

/** A session holding a lock until `rollback`. */
export interface Blocker {
  /** Ends its transaction: the lock is released. */
  rollback(): Promise<void>;
  /** Closes the session (after `rollback`, or to release it anyway). */
  end(): Promise<void>;
}

/** Opens a session on `url` that begins a transaction and runs `lock` (e.g. `lock table t in access share mode`). */
export async function holdLock(url: string, lock: string): Promise<Blocker> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  const reserved = await sql.reserve();
  await reserved.unsafe("begin");
  await reserved.unsafe(lock);
  return {
    rollback: async () => {
      await reserved.unsafe("rollback");
    },
    end: async () => {
      reserved.release();
      await sql.end();
    },
  };
}
