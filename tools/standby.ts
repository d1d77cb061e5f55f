/**
 * A primary and a hot standby for the `[standby]` tests: two throwaway PostgreSQL 15 clusters on
 * free loopback ports, the standby made by `pg_basebackup -R` and streaming from the primary.
 * As root, the servers run as the `postgres` user. Removed by stop().
 *
 * @module
 */

/** The pair's admin URLs. */
export interface StandbyPair {
  readonly primaryUrl: string;
  readonly standbyUrl: string;
  stop(): Promise<void>;
}

const BIN = "/usr/lib/postgresql/15/bin";

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** Starts the pair; undefined (reason logged) when the binaries are missing or a step fails. */
export async function startStandbyPair(log: (s: string) => void): Promise<StandbyPair | undefined> {
  try {
    await Deno.stat(`${BIN}/pg_basebackup`);
  } catch {
    log(`standby: ${BIN}/pg_basebackup is missing (Debian's postgresql-15)`);
    return undefined;
  }
  const root = Deno.uid() === 0;
  const dir = await Deno.makeTempDir({ prefix: "tide-standby-" });
  const run = async (cmd: string, args: string[]) => {
    const [c, a] = root ? ["runuser", ["-u", "postgres", "--", cmd, ...args]] : [cmd, args];
    const out = await new Deno.Command(c, { args: a, stdout: "piped", stderr: "piped", stdin: "null" }).output();
    return { ok: out.success, text: new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr) };
  };
  const started: string[] = [];
  const stop = async () => {
    for (const data of started.reverse()) await run(`${BIN}/pg_ctl`, ["-D", data, "-m", "immediate", "-w", "stop"]);
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  const fail = async (what: string, text: string) => {
    log(`standby: ${what} failed: ${text.trim().split("\n").slice(-3).join(" | ")}`);
    await stop();
    return undefined;
  };
  if (root) {
    const chown = await new Deno.Command("chown", { args: ["postgres", dir] }).output();
    if (!chown.success) return await fail("chown", "");
  }
  const options = (port: number) =>
    `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off`;
  const primary = `${dir}/primary`;
  const standby = `${dir}/standby`;
  const [p, s] = [freePort(), freePort()];
  let r = await run(`${BIN}/initdb`, ["-D", primary, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"]);
  if (!r.ok) return await fail("initdb", r.text);
  r = await run(`${BIN}/pg_ctl`, ["-D", primary, "-w", "-l", `${dir}/primary.log`, "-o", options(p), "start"]);
  if (!r.ok) return await fail("starting the primary", r.text);
  started.push(primary);
  r = await run(`${BIN}/pg_basebackup`, [
    "-h",
    "127.0.0.1",
    "-p",
    String(p),
    "-U",
    "postgres",
    "-D",
    standby,
    "-R",
    "-X",
    "stream",
    "-c",
    "fast",
  ]);
  if (!r.ok) return await fail("pg_basebackup", r.text);
  r = await run(`${BIN}/pg_ctl`, ["-D", standby, "-w", "-l", `${dir}/standby.log`, "-o", options(s), "start"]);
  if (!r.ok) return await fail("starting the standby", r.text);
  started.push(standby);
  return {
    primaryUrl: `postgres://postgres@127.0.0.1:${p}/postgres`,
    standbyUrl: `postgres://postgres@127.0.0.1:${s}/postgres`,
    stop,
  };
}
