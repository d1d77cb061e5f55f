/**
 * Records the operations of many migration files in Workers, a batch per Worker, each Worker
 * ended after its batch. V8 never unloads an ES module: imported in the main isolate, 3,000
 * migration files hold ~30 MB until the run ends, beside everything the run itself keeps;
 * imported in a Worker, they are gone with it, and Deno's module graph stays small (3,000
 * imports in batches of 250: 1.9 s against 2.9 s one after another; bench/RESULTS.md).
 *
 * @module
 */

import { pathToFileURL } from "node:url";
import type { WorkerRecord, WorkerRequest } from "./worker.ts";

export type { WorkerRecord } from "./worker.ts";

/**
 * `forwards` and `verify` of more than this many migrations record their operations in
 * Workers instead of importing every file into tide's isolate, where V8 keeps each module
 * (~10 KB) until the run ends. A Worker costs ~27 MB while it lives, so below about this many
 * files importing there takes less memory.
 */
export const WORKER_ABOVE = 2000;

/** Files per Worker: each lives for one batch (its isolate ~20 MB, plus what the batch imports). */
export const WORKER_BATCH = 250;

/**
 * What each file's `forwards` records, in the order of `paths`; undefined for a file the
 * caller must import itself (see src/loader/worker.ts), and for every file when a Worker cannot
 * be started here (the caller then imports them all, as without Workers).
 */
export async function recordInWorkers(
  app: string,
  paths: readonly string[],
  batch = WORKER_BATCH,
): Promise<(WorkerRecord | undefined)[]> {
  const out: (WorkerRecord | undefined)[] = [];
  for (let i = 0; i < paths.length; i += batch) {
    const chunk = paths.slice(i, i + batch);
    const records = await recordBatch(app, chunk.map((p) => pathToFileURL(p).href));
    if (records === undefined) return [...out, ...paths.slice(i).map(() => undefined)];
    out.push(...records);
  }
  return out;
}

/** One Worker's batch; undefined when the Worker could not run it. */
async function recordBatch(app: string, urls: string[]): Promise<(WorkerRecord | undefined)[] | undefined> {
  let worker: Worker;
  try {
    worker = new Worker(new URL("./worker.ts", import.meta.url).href, { type: "module" });
  } catch {
    return undefined;
  }
  try {
    return await new Promise((resolve) => {
      worker.onmessage = (event: MessageEvent<(WorkerRecord | undefined)[]>) => {
        resolve(Array.isArray(event.data) && event.data.length === urls.length ? event.data : undefined);
      };
      worker.onerror = (event) => {
        // An error the Worker did not catch (it could not load, say): the caller imports.
        event.preventDefault();
        resolve(undefined);
      };
      worker.onmessageerror = () => resolve(undefined);
      worker.postMessage({ app, urls } satisfies WorkerRequest);
    });
  } finally {
    worker.terminate();
  }
}
