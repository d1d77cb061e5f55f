/**
 * Finds a PostgreSQL server for the tests: the URL given, the service on 127.0.0.1:5432, or a
 * throwaway cluster started from the server binaries (as a non-root user, loopback only).
 *
 * @module
 */

import postgres from "postgres";

/** A server the tests may create and drop databases on. */
export interface TestServer {
  /** Admin URL (a database the tests never touch except to create/drop their own). */
  readonly url: string;
  /** Where it came from, for the log. */
  readonly origin: string;
  /** Stops a cluster this process started; a no-op otherwise. */
  stop(): Promise<void>;
}

async function answers(url: string): Promise<boolean> {
  const sql = postgres(url, { max: 1, connect_timeout: 3, onnotice: () => {} });
  try {
    await sql`select 1`;
    return true;
  } catch {
    return false;
  } finally {
    await sql.end({ timeout: 1 }).catch(() => {});
  }
}

async function run(cmd: string, args: string[]): Promise<{ ok: boolean; text: string }> {
  try {
    const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    return { ok: out.success, text };
  } catch (error) {
    return { ok: false, text: String(error) };
  }
}

async function findBinDir(): Promise<string | undefined> {
  const which = await run("sh", ["-c", "command -v initdb"]);
  if (which.ok && which.text.trim()) {
    const dir = which.text.trim().replace(/\/initdb$/, "");
    // Debian's /usr/bin/initdb may be a wrapper without pg_ctl beside it.
    if (await exists(`${dir}/pg_ctl`) && await exists(`${dir}/postgres`)) return dir;
  }
  const versions: string[] = [];
  try {
    for await (const entry of Deno.readDir("/usr/lib/postgresql")) versions.push(entry.name);
  } catch {
    return undefined;
  }
  versions.sort((a, b) => Number(b) - Number(a));
  for (const v of versions) {
    const dir = `/usr/lib/postgresql/${v}/bin`;
    if (await exists(`${dir}/initdb`) && await exists(`${dir}/pg_ctl`)) return dir;
  }
  return undefined;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/**
 * Starts a throwaway cluster in a temp folder from the server binaries in `binDir` (default:
 * the system's); refuses nothing, returns undefined on failure. tools/matrix.ts starts the
 * version matrix with it.
 */
export async function startCluster(log: (s: string) => void, binDir?: string): Promise<TestServer | undefined> {
  const bin = binDir ?? await findBinDir();
  if (!bin) return undefined;
  const root = Deno.uid() === 0;
  const dir = await Deno.makeTempDir({ prefix: "tide-pg-" });
  const data = `${dir}/data`;
  // The server refuses to run as root: run it as the postgres user when we are root.
  const as = (cmd: string, args: string[]) =>
    root ? run("runuser", ["-u", "postgres", "--", cmd, ...args]) : run(cmd, args);
  if (root) {
    const chown = await run("chown", ["-R", "postgres", dir]);
    if (!chown.ok) {
      log(`cannot hand ${dir} to the postgres user: ${chown.text}`);
      return undefined;
    }
  }
  const init = await as(`${bin}/initdb`, ["-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"]);
  if (!init.ok) {
    log(`initdb failed: ${init.text}`);
    return undefined;
  }
  const port = freePort();
  const start = await as(`${bin}/pg_ctl`, [
    "-D",
    data,
    "-w",
    "-l",
    `${dir}/server.log`,
    "-o",
    `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off`,
    "start",
  ]);
  if (!start.ok) {
    log(`pg_ctl start failed: ${start.text}`);
    return undefined;
  }
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    origin: `a throwaway cluster from ${bin} on port ${port}`,
    stop: async () => {
      await as(`${bin}/pg_ctl`, ["-D", data, "-m", "fast", "-w", "stop"]);
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/** Finds or starts a server; undefined when there is none to be had. */
export async function findTestServer(log: (s: string) => void): Promise<TestServer | undefined> {
  const given = Deno.env.get("TIDE_TEST_POSTGRES_URL");
  if (given) {
    if (await answers(given)) return { url: given, origin: "TIDE_TEST_POSTGRES_URL", stop: async () => {} };
    log("TIDE_TEST_POSTGRES_URL does not answer");
    return undefined;
  }
  const service = "postgres://postgres@127.0.0.1:5432/postgres";
  // TIDE_TEST_OWN_CLUSTER=1 skips the service: how to test the path a fresh machine takes.
  if (Deno.env.get("TIDE_TEST_OWN_CLUSTER") !== "1" && await answers(service)) {
    return { url: service, origin: "the service on 127.0.0.1:5432", stop: async () => {} };
  }
  return await startCluster(log);
}
