/**
 * The Worker side of {@linkcode recordInWorkers}: imports migration files, runs each one's
 * `forwards` on a fresh manager and sends back the operations it recorded, as data. A file
 * whose module or operations this cannot send for certain (an import or `forwards` that fails,
 * a hand-written `backwards`, a raw step that is a function, anything unusual) is sent back as
 * `undefined`: the main isolate imports that one itself, and reports what is wrong as it
 * always has. Imports only the manager, so that the Worker stays small.
 *
 * @module
 */

import { type MigrationContext, MigrationManager } from "../migration/manager.ts";
import { exportsProblem } from "./exports.ts";
import type { Operation } from "../migration/operations.ts";

/** What the main isolate sends: one app's files, by `file://` URL. */
export interface WorkerRequest {
  readonly app: string;
  readonly urls: readonly string[];
}

/** What a file gave, or undefined when the main isolate must import it. */
export type WorkerRecord = { readonly id: string; readonly description: string; readonly operations: Operation[] };

/** Runs one file's `forwards` here; undefined for anything the main isolate must see for itself. */
async function recordOne(app: string, url: string): Promise<WorkerRecord | undefined> {
  try {
    const module = await import(url) as Record<string, unknown>;
    // A module importMigration would refuse, or with a hand-written backwards: the main isolate's.
    if (exportsProblem(url, module) !== undefined || module.backwards !== undefined) return undefined;
    const id = module.ID as string;
    const description = module.DESCRIPTION as string | undefined;
    const manager = new MigrationManager();
    const result = await (module.forwards as (ctx: MigrationContext) => unknown).call(module, {
      manager,
      appName: app,
      migrationId: id,
    });
    if (result !== undefined && !(result instanceof MigrationManager)) return undefined;
    const operations = [...(result ?? manager).operations];
    // A function cannot cross to the main isolate: that migration is imported there.
    for (const op of operations) {
      if ("forwards" in op && typeof op.forwards === "function") return undefined;
      if ("backwards" in op && typeof op.backwards === "function") return undefined;
    }
    return { id, description: description ?? "", operations };
  } catch {
    return undefined;
  }
}

// deno-lint-ignore no-explicit-any -- the Worker global scope, which Deno's lib types as Window here.
const scope = self as any;
scope.onmessage = async (event: MessageEvent<WorkerRequest>) => {
  const { app, urls } = event.data;
  const records: (WorkerRecord | undefined)[] = [];
  for (const url of urls) records.push(await recordOne(app, url));
  try {
    scope.postMessage(records);
  } catch {
    // Something in an operation that cannot be cloned: the main isolate imports the batch.
    scope.postMessage(records.map(() => undefined));
  }
};
