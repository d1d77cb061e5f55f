/**
 * In-memory migrations: a LoadedMigration whose module is an object, not a file, so engine
 * tests need no folder (kysely's createMigrations idea).
 *
 * @module
 */

import type { LoadedMigration } from "../../src/loader/load.ts";
import type { MigrationManager } from "../../src/migration/manager.ts";

/** Builds a migration that records what `record` does on the manager. */
export function fakeMigration(
  id: string,
  record: (manager: MigrationManager) => void,
  options: { app?: string; backwards?: (manager: MigrationManager) => void; checksum?: string } = {},
): LoadedMigration {
  return {
    app: options.app ?? "app",
    id,
    description: `fake ${id}`,
    path: `/nowhere/${id}.ts`,
    checksum: options.checksum ?? "c0ffee",
    module: {
      ID: id,
      forwards: ({ manager }) => {
        record(manager);
        return manager;
      },
      ...(options.backwards
        ? {
          backwards: ({ manager }) => {
            options.backwards!(manager);
            return manager;
          },
        }
        : {}),
    },
  };
}
