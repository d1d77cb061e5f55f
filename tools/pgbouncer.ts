/**
 * Starts PgBouncer (Debian's 1.18, /usr/sbin/pgbouncer) for the `[pgbouncer]` tests: three
 * instances on free loopback ports in front of the test server, in session, transaction and
 * statement pool mode, auth trust with a userlist naming the server's user. As root it drops
 * to the `postgres` user (`-u`). Every database name goes through (`* =` entry), so tests reach
 * the databases they create.
 *
 * @module
 */

import postgres from "postgres";

/** The two bouncers: URL templates whose database is `postgres` (tests swap in their own). */
export interface Bouncers {
  readonly sessionUrl: string;
  readonly transactionUrl: string;
  /** Statement pooling: tide must refuse it (a migration needs a transaction). */
  readonly statementUrl: string;
  stop(): Promise<void>;
}

const BIN = "/usr/sbin/pgbouncer";

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

async function answers(url: string, deadline: number): Promise<boolean> {
  while (Date.now() < deadline) {
    const sql = postgres(url, { max: 1, connect_timeout: 2, onnotice: () => {} });
    try {
      await sql`select 1`;
      return true;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    } finally {
      await sql.end({ timeout: 1 }).catch(() => {});
    }
  }
  return false;
}

/**
 * Starts both bouncers in front of `serverUrl` (a `postgres://user@host:port/db` URL of the
 * test server); undefined (with the reason logged) when PgBouncer is missing or fails.
 */
export async function startPgbouncers(serverUrl: string, log: (s: string) => void): Promise<Bouncers | undefined> {
  try {
    await Deno.stat(BIN);
  } catch {
    log(`PgBouncer: ${BIN} is not installed (apt-get install -y pgbouncer)`);
    return undefined;
  }
  const server = new URL(serverUrl);
  const user = decodeURIComponent(server.username || "postgres");
  const dir = await Deno.makeTempDir({ prefix: "tide-pgbouncer-" });
  const root = Deno.uid() === 0;
  const children: Deno.ChildProcess[] = [];
  const stop = async () => {
    for (const child of children) {
      try {
        child.kill("SIGINT"); // PgBouncer's immediate shutdown
      } catch { /* already gone */ }
      await child.status;
    }
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  const urls: string[] = [];
  await Deno.writeTextFile(`${dir}/userlist.txt`, `"${user}" ""\n`);
  for (const mode of ["session", "transaction", "statement"] as const) {
    const port = freePort();
    const ini = `${dir}/${mode}.ini`;
    await Deno.writeTextFile(
      ini,
      [
        "[databases]",
        `* = host=${server.hostname} port=${server.port || 5432}`,
        "[pgbouncer]",
        "listen_addr = 127.0.0.1",
        `listen_port = ${port}`,
        "unix_socket_dir =",
        "auth_type = trust",
        `auth_file = ${dir}/userlist.txt`,
        `pool_mode = ${mode}`,
        // A small pool, so that clients really share server connections.
        "default_pool_size = 10",
        "max_client_conn = 200",
        "ignore_startup_parameters = extra_float_digits,options",
        "server_check_delay = 0",
        "",
      ].join("\n"),
    );
    if (root) {
      const chown = await new Deno.Command("chown", { args: ["-R", "postgres", dir] }).output();
      if (!chown.success) {
        log(`PgBouncer: cannot hand ${dir} to the postgres user`);
        await stop();
        return undefined;
      }
    }
    const child = new Deno.Command(BIN, {
      args: [...(root ? ["-u", "postgres"] : []), "-q", ini],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    children.push(child);
    const url = `postgres://${encodeURIComponent(user)}@127.0.0.1:${port}/postgres`;
    if (!(await answers(url, Date.now() + 10_000))) {
      log(`PgBouncer (${mode}) did not answer on port ${port}`);
      await stop();
      return undefined;
    }
    // Its log is not needed; drain it so that it never blocks on a full pipe.
    child.stderr.pipeTo(new WritableStream()).catch(() => {});
    urls.push(url);
  }
  return { sessionUrl: urls[0]!, transactionUrl: urls[1]!, statementUrl: urls[2]!, stop };
}
