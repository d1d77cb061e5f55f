/**
 * A throwaway Citus cluster for the `[citus]` tests: a coordinator and two workers on a free
 * loopback port range, started with shared/citus/cluster.sh and destroyed afterwards. Each
 * test makes its own distributed database with `cluster.sh createdb` (tests/helpers/citus.ts).
 *
 * @module
 */

import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** A running cluster the tests may create and drop databases on. */
export interface CitusCluster {
  /** The coordinator's admin URL (database `postgres`, never used by a test itself). */
  readonly url: string;
  /** The coordinator's port; the workers are on port + 1 and port + 2. */
  readonly port: number;
  /** Path of cluster.sh, for `createdb NAME PORT` / `dropdb NAME PORT`. */
  readonly script: string;
  /** Stops the three servers and removes their data. */
  stop(): Promise<void>;
}

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..");

async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

/**
 * Finds shared/citus: TIDE_CITUS_DIR, else a `shared/citus` beside the repository or beside
 * any folder above it (CI keeps a copy of shared/ beside the clone; a worktree may sit deeper).
 */
export async function findCitusDir(): Promise<string | undefined> {
  const given = Deno.env.get("TIDE_CITUS_DIR");
  if (given) return (await isFile(join(given, "cluster.sh"))) ? resolve(given) : undefined;
  for (let dir = REPO;; dir = dirname(dir)) {
    const candidate = join(dirname(dir), "shared", "citus");
    if (await isFile(join(candidate, "cluster.sh"))) return candidate;
    if (dirname(dir) === dir) return undefined;
  }
}

async function run(cmd: string, args: string[]): Promise<{ ok: boolean; text: string }> {
  try {
    const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped", stdin: "null" }).output();
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    return { ok: out.success, text };
  } catch (error) {
    return { ok: false, text: String(error) };
  }
}

function portFree(port: number): boolean {
  try {
    Deno.listen({ hostname: "127.0.0.1", port }).close();
    return true;
  } catch {
    return false;
  }
}

/** A base port whose next two are free too, in 40000–59999, whose data folders are unused. */
async function freeRange(): Promise<number | undefined> {
  for (let tries = 0; tries < 50; tries++) {
    const base = 40000 + Math.floor(Math.random() * 6666) * 3;
    const ports = [base, base + 1, base + 2];
    if (!ports.every(portFree)) continue;
    const used = await Promise.all(ports.map((p) => Deno.stat(`/tmp/tide-citus-${p}`).then(() => true, () => false)));
    if (!used.some(Boolean)) return base;
  }
  return undefined;
}

/**
 * Starts a cluster, or says (through `log`) why it cannot: Citus not installed, no cluster.sh,
 * no free ports, a server that did not start. Returns undefined then.
 */
export async function startCitus(log: (s: string) => void): Promise<CitusCluster | undefined> {
  const dir = await findCitusDir();
  if (!dir) {
    log("no shared/citus/cluster.sh beside the repository (or in TIDE_CITUS_DIR)");
    return undefined;
  }
  const check = await run("bash", [join(dir, "install.sh"), "--check"]);
  if (!check.ok) {
    log(`Citus is not installed (run: bash ${join(dir, "install.sh")}, as root)`);
    return undefined;
  }
  const port = await freeRange();
  if (port === undefined) {
    log("no three free consecutive loopback ports for a Citus cluster");
    return undefined;
  }
  const script = join(dir, "cluster.sh");
  const stop = async () => {
    await run("bash", [script, "destroy", String(port)]);
  };
  const started = await run("bash", [script, "start", String(port)]);
  if (!started.ok) {
    log(`cluster.sh start ${port} failed: ${started.text.trim()}`);
    await stop();
    return undefined;
  }
  return { url: `postgres://postgres@127.0.0.1:${port}/postgres`, port, script, stop };
}
