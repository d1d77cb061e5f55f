/**
 * What the fault suite (tests/faults) needs beyond the PostgreSQL test server: a throwaway
 * cluster it may restart in the middle of a run. tools/test.ts calls
 * {@linkcode findFaultsSupport} and passes the server binaries' folder to the tests
 * (TIDE_TEST_FAULTS_PG_BIN); the restart test starts its cluster with
 * {@linkcode startRestartableCluster}: loopback only, a free port, removed afterwards. As
 * root the server runs as the `postgres` user (it refuses root).
 *
 * @module
 */

/** Where the binaries are, or why there are none. */
export interface FaultsSupport {
  readonly bin?: string;
  readonly why?: string;
}

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

async function run(cmd: string, args: string[]): Promise<{ ok: boolean; text: string }> {
  try {
    const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
    return { ok: out.success, text: new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr) };
  } catch (error) {
    return { ok: false, text: String(error) };
  }
}

/** Finds server binaries (PostgreSQL 15 first, the client tools' version) that can run a cluster here. */
export async function findFaultsSupport(log: (s: string) => void): Promise<FaultsSupport> {
  const given = Deno.env.get("TIDE_TEST_FAULTS_PG_BIN");
  const candidates = given ? [given] : ["/usr/lib/postgresql/15/bin"];
  if (!given) {
    try {
      for await (const e of Deno.readDir("/usr/lib/postgresql")) candidates.push(`/usr/lib/postgresql/${e.name}/bin`);
    } catch { /* none installed */ }
  }
  for (const bin of candidates) {
    if (await exists(`${bin}/initdb`) && await exists(`${bin}/pg_ctl`) && await exists(`${bin}/postgres`)) {
      if (Deno.uid() === 0 && !(await run("id", ["-u", "postgres"])).ok) {
        return { why: "running as root and there is no postgres user to run a cluster as" };
      }
      log(`fault suite: restartable clusters from ${bin}`);
      return { bin };
    }
  }
  return { why: "no PostgreSQL server binaries (initdb, pg_ctl) under /usr/lib/postgresql" };
}

/** A throwaway cluster the test may restart. */
export interface RestartableCluster {
  /** Admin URL (database `postgres`). */
  readonly url: string;
  /** `pg_ctl restart -m fast`: every session ends, the server comes back on the same port. */
  restart(): Promise<void>;
  /** Stops the server and removes its folder. */
  remove(): Promise<void>;
}

/** Starts a cluster from `bin` on a free loopback port. */
export async function startRestartableCluster(bin: string): Promise<RestartableCluster> {
  const root = Deno.uid() === 0;
  const dir = await Deno.makeTempDir({ prefix: "tide-faults-pg-" });
  const data = `${dir}/data`;
  const as = (cmd: string, args: string[]) =>
    root ? run("runuser", ["-u", "postgres", "--", cmd, ...args]) : run(cmd, args);
  if (root) {
    const chown = await run("chown", ["-R", "postgres", dir]);
    if (!chown.ok) throw new Error(`cannot hand ${dir} to the postgres user: ${chown.text}`);
  }
  const init = await as(`${bin}/initdb`, ["-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"]);
  if (!init.ok) throw new Error(`initdb failed: ${init.text}`);
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off`;
  const pgctl = (args: string[]) => as(`${bin}/pg_ctl`, ["-D", data, "-w", "-l", `${dir}/server.log`, ...args]);
  const start = await pgctl(["-o", options, "start"]);
  if (!start.ok) throw new Error(`pg_ctl start failed: ${start.text}`);
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    restart: async () => {
      const r = await pgctl(["-m", "fast", "-o", options, "restart"]);
      if (!r.ok) throw new Error(`pg_ctl restart failed: ${r.text}`);
    },
    remove: async () => {
      await pgctl(["-m", "immediate", "stop"]);
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}
