/**
 * A pre-initialised PGlite data directory, so that a fresh project's embedded database starts
 * in about 0.6 s instead of the 2-3 s initdb takes. The template is a `dumpDataDir` tarball
 * kept per user and per PGlite version (a data directory only fits the version that wrote it);
 * the first fresh database on a machine seeds it.
 *
 * @module
 */

import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import denoConfig from "../../deno.json" with { type: "json" };

/** The pinned PGlite version, from deno.json's import map. */
export const PGLITE_VERSION: string = /@([\d.]+[^/]*)$/.exec(denoConfig.imports["@electric-sql/pglite"])?.[1] ??
  "unknown";

/** Where the template lives: TIDE_CACHE_DIR, else XDG_CACHE_HOME/tide, else ~/.cache/tide. */
export function templatePath(env: (name: string) => string | undefined = (n) => Deno.env.get(n)): string | undefined {
  const dir = env("TIDE_CACHE_DIR") ||
    (env("XDG_CACHE_HOME")
      ? join(env("XDG_CACHE_HOME")!, "tide")
      : env("HOME")
      ? join(env("HOME")!, ".cache", "tide")
      : undefined);
  return dir === undefined ? undefined : join(dir, `pglite-${PGLITE_VERSION}.tar.gz`);
}

/** The template, if one was made on this machine. */
export async function readTemplate(): Promise<Blob | undefined> {
  const path = templatePath();
  if (path === undefined) return undefined;
  try {
    return new Blob([new Uint8Array(await readFile(path))]);
  } catch {
    return undefined;
  }
}

/** Saves a template; best effort (a read-only home only costs the next fresh project time). */
export async function saveTemplate(dump: Blob): Promise<void> {
  const path = templatePath();
  if (path === undefined) return;
  try {
    await mkdir(join(path, ".."), { recursive: true });
    // Write aside and rename: two first runs at once must not leave half a file.
    const partial = `${path}.${crypto.randomUUID()}.partial`;
    await writeFile(partial, new Uint8Array(await dump.arrayBuffer()));
    await rename(partial, path);
  } catch {
    // Ignored on purpose: the template is an optimisation.
  }
}
