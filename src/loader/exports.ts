/**
 * What a migration module must export, checked in one place: by {@linkcode importMigration}
 * (which reports the problem) and by the Worker of long plans (src/loader/worker.ts, which
 * leaves a module with a problem to the main isolate, to be reported there). Imports nothing,
 * so that the Worker stays small.
 *
 * @module
 */

/** Whether text is acceptable as a migration ID (SPEC 1.3). */
export function isValidId(id: unknown): id is string {
  return typeof id === "string" && id.length > 0 && !/\s/.test(id) && id !== "all" &&
    !/^\d+$/.test(id);
}

/** What is wrong with a module's exports, in one sentence naming `path`; undefined when nothing. */
export function exportsProblem(path: string, module: Record<string, unknown>): string | undefined {
  if (!("ID" in module)) return `Migration ${path} does not export ID: add \`export const ID = "…"\``;
  if (!isValidId(module.ID)) {
    return `Migration ${path} exports an invalid ID ${
      JSON.stringify(module.ID)
    }: use a string without whitespace that is not "all" or only digits`;
  }
  if (typeof module.forwards !== "function") {
    return `Migration ${path} does not export a forwards function: add \`export async function forwards({ manager }) { …; return manager; }\``;
  }
  if (module.backwards !== undefined && typeof module.backwards !== "function") {
    return `Migration ${path} exports backwards, but it is not a function`;
  }
  if (module.DESCRIPTION !== undefined && typeof module.DESCRIPTION !== "string") {
    return `Migration ${path} exports DESCRIPTION, but it is not a string`;
  }
  return undefined;
}
