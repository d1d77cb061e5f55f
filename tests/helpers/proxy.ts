/**
 * A fault-injecting TCP proxy for tests: listens on a free loopback port, forwards each
 * connection to the server, and cuts a connection where it is told — after a number of bytes
 * either way, on seeing a statement's text in the client's stream (before or after passing it
 * on), or after a delay. Loopback only.
 *
 * @module
 */

/** Where to cut one connection. */
export type Fault =
  /** After `bytes` bytes from the client were passed on (the rest of that chunk is dropped). */
  | { readonly kind: "client-bytes"; readonly bytes: number }
  /** After `bytes` bytes from the server were passed on. */
  | { readonly kind: "server-bytes"; readonly bytes: number }
  /**
   * On the `occurrence`-th (from 1) appearance of `text` in the client's stream: `before`
   * passes on only what precedes it; `after` passes the chunk holding it on, then cuts the
   * client off (the server may act on it: an in-doubt COMMIT).
   */
  | {
    readonly kind: "client-text";
    readonly text: string;
    readonly occurrence: number;
    readonly when: "before" | "after";
  }
  /** `ms` after the connection opened. */
  | { readonly kind: "time"; readonly ms: number };

/** How the server side of a cut connection ends. */
export interface CutOptions {
  /**
   * Keep the server side open this long after cutting the client (a partition the server has
   * not noticed), then close it. 0 closes both at once.
   */
  readonly lingerMs?: number;
}

/** What a proxy saw. */
export interface ProxyStats {
  connections: number;
  /** Connections cut by a fault. */
  cuts: number;
  /** Description of each cut, in order. */
  cutLog: string[];
  /** Bytes passed on from clients and from the server. */
  clientBytes: number;
  serverBytes: number;
}

/** The proxy. Arm a fault for the Nth connection with {@linkcode FaultProxy.arm}. */
export class FaultProxy {
  readonly port: number;
  readonly stats: ProxyStats = { connections: 0, cuts: 0, cutLog: [], clientBytes: 0, serverBytes: 0 };
  readonly #listener: Deno.TcpListener;
  readonly #target: { hostname: string; port: number };
  readonly #open = new Set<Deno.TcpConn>();
  readonly #lingering = new Set<number>();
  #faults = new Map<number, { fault: Fault; options: CutOptions }>();
  #closed = false;

  private constructor(listener: Deno.TcpListener, target: { hostname: string; port: number }) {
    this.#listener = listener;
    this.#target = target;
    this.port = (listener.addr as Deno.NetAddr).port;
    this.#accept();
  }

  /** Starts a proxy to `target` (loopback only). */
  static start(target: { hostname: string; port: number }): FaultProxy {
    if (!["127.0.0.1", "localhost", "::1"].includes(target.hostname)) {
      throw new Error(`the fault proxy forwards to loopback only, not ${target.hostname}`);
    }
    return new FaultProxy(Deno.listen({ hostname: "127.0.0.1", port: 0 }), target);
  }

  /** The URL that reaches `url`'s database through this proxy. */
  urlFor(url: string): string {
    const u = new URL(url);
    u.hostname = "127.0.0.1";
    u.port = String(this.port);
    return u.toString();
  }

  /** Arms `fault` for the connection numbered `index` (0 = the next one opened after reset). */
  arm(index: number, fault: Fault, options: CutOptions = {}): void {
    this.#faults.set(index, { fault, options });
  }

  /** Forgets armed faults and restarts connection numbering; counters keep going. */
  reset(): void {
    this.#faults = new Map();
    this.#base = this.stats.connections;
  }
  #base = 0;

  /** Closes every connection under way (the network heals: lingering server sides end). */
  dropAll(): void {
    for (const c of this.#open) closeQuietly(c);
    this.#open.clear();
  }

  /** Connections opened since the last reset. */
  get opened(): number {
    return this.stats.connections - this.#base;
  }

  close(): void {
    this.#closed = true;
    closeQuietly(this.#listener);
    this.dropAll();
  }

  async #accept(): Promise<void> {
    for (;;) {
      let client: Deno.TcpConn;
      try {
        client = await this.#listener.accept();
      } catch {
        return;
      }
      if (this.#closed) {
        closeQuietly(client);
        return;
      }
      const index = this.stats.connections - this.#base;
      this.stats.connections++;
      this.#serve(client, index).catch(() => {});
    }
  }

  async #serve(client: Deno.TcpConn, index: number): Promise<void> {
    let server: Deno.TcpConn;
    try {
      server = await Deno.connect(this.#target);
    } catch {
      closeQuietly(client);
      return;
    }
    this.#open.add(client);
    this.#open.add(server);
    const armed = this.#faults.get(index);
    let cut = false;
    const doCut = (what: string) => {
      if (cut) return;
      cut = true;
      this.stats.cuts++;
      this.stats.cutLog.push(`connection ${index}: ${what}`);
      closeQuietly(client);
      this.#open.delete(client);
      const linger = armed?.options.lingerMs ?? 0;
      if (linger > 0) {
        this.#lingering.add(index);
        setTimeout(() => {
          closeQuietly(server);
          this.#open.delete(server);
        }, linger);
      } else {
        closeQuietly(server);
        this.#open.delete(server);
      }
    };
    let timer: ReturnType<typeof setTimeout> | undefined;
    if (armed?.fault.kind === "time") {
      timer = setTimeout(() => doCut(`after ${(armed.fault as { ms: number }).ms} ms`), armed.fault.ms);
    }
    const upstream = this.#pump(client, server, "client", armed?.fault, doCut, () => cut);
    const downstream = this.#pump(server, client, "server", armed?.fault, doCut, () => cut);
    await Promise.allSettled([upstream, downstream]);
    if (timer !== undefined) clearTimeout(timer);
    if (!cut || (armed?.options.lingerMs ?? 0) === 0) {
      closeQuietly(client);
      closeQuietly(server);
      this.#open.delete(client);
      this.#open.delete(server);
    }
  }

  async #pump(
    from: Deno.TcpConn,
    to: Deno.TcpConn,
    side: "client" | "server",
    fault: Fault | undefined,
    doCut: (what: string) => void,
    isCut: () => boolean,
  ): Promise<void> {
    const buffer = new Uint8Array(64 * 1024);
    let passed = 0;
    let seen = 0;
    let tail = "";
    const messages = new MessageSplitter();
    let pendingCut: number | undefined;
    let pendingWhat: string | undefined;
    let matchEnd = 0;
    for (;;) {
      let n: number | null;
      try {
        n = await from.read(buffer);
      } catch {
        n = null;
      }
      if (n === null || isCut()) {
        // One side ended: end the other (unless a cut already decided how).
        if (!isCut()) {
          closeQuietly(to);
          closeQuietly(from);
        }
        return;
      }
      let chunk = buffer.subarray(0, n);
      let cutAfter: string | undefined;
      if (fault && (fault.kind === "client-bytes" || fault.kind === "server-bytes") && fault.kind === `${side}-bytes`) {
        if (passed + chunk.length >= fault.bytes) {
          chunk = chunk.subarray(0, Math.max(0, fault.bytes - passed));
          cutAfter = `after ${fault.bytes} ${side} bytes`;
        }
      } else if (fault?.kind === "client-text" && side === "client") {
        // Latin-1 keeps one character per byte, so offsets map back to bytes.
        messages.feed(chunk);
        if (pendingCut === undefined) {
          const text = tail + latin1(chunk);
          let from = 0;
          for (;;) {
            const at = text.indexOf(fault.text, from);
            if (at === -1) break;
            seen++;
            from = at + fault.text.length;
            if (seen === fault.occurrence) {
              const streamAt = passed + at - tail.length;
              matchEnd = streamAt + fault.text.length;
              // Cut on message boundaries, so that the server sees whole messages only: before
              // the message holding the text, or after the Sync that ends its pipeline.
              pendingCut = fault.when === "before" ? messages.startOf(streamAt) : messages.syncAfter(matchEnd);
              pendingWhat = `${fault.when} ${JSON.stringify(fault.text)} #${fault.occurrence}`;
              break;
            }
          }
          tail = text.slice(-(fault.text.length - 1));
        }
        if (pendingCut === undefined && fault.when === "after" && seen >= fault.occurrence) {
          pendingCut = messages.syncAfter(matchEnd);
        }
        if (pendingCut !== undefined && pendingCut <= passed + chunk.length) {
          chunk = chunk.subarray(0, Math.max(0, pendingCut - passed));
          cutAfter = pendingWhat;
        }
      }
      try {
        if (chunk.length > 0) await writeAll(to, chunk);
      } catch {
        if (!isCut()) {
          closeQuietly(to);
          closeQuietly(from);
        }
        return;
      }
      passed += chunk.length;
      if (side === "client") this.stats.clientBytes += chunk.length;
      else this.stats.serverBytes += chunk.length;
      if (cutAfter !== undefined) {
        doCut(cutAfter);
        return;
      }
    }
  }
}

/**
 * Knows where the frontend's protocol messages start and end in the client's stream (the
 * first message, the startup packet, has no type byte).
 */
class MessageSplitter {
  /** [start, end, type] of each complete message seen. */
  readonly #messages: [number, number, number][] = [];
  #buffer = new Uint8Array(0);
  #offset = 0;

  feed(chunk: Uint8Array): void {
    const joined = new Uint8Array(this.#buffer.length + chunk.length);
    joined.set(this.#buffer);
    joined.set(chunk, this.#buffer.length);
    let at = 0;
    for (;;) {
      const first = this.#offset === 0 && this.#messages.length === 0;
      const head = first ? 4 : 5;
      if (joined.length - at < head) break;
      const view = new DataView(joined.buffer, joined.byteOffset + at);
      const length = first ? view.getInt32(0) : view.getInt32(1) + 1;
      if (joined.length - at < length) break;
      const start = this.#offset + at;
      // The startup packet and an SSL request are untyped; treat them as "startup".
      this.#messages.push([start, start + length, first ? 0 : joined[at]!]);
      at += length;
    }
    this.#offset += at;
    this.#buffer = joined.slice(at);
  }

  /** Stream offset where the message holding `position` starts. */
  startOf(position: number): number {
    for (const [start, end] of this.#messages) if (position >= start && position < end) return start;
    return Math.min(position, this.#offset);
  }

  /** Stream offset just after the first Sync or Query message ending at or after `position`. */
  syncAfter(position: number): number | undefined {
    for (const [, end, type] of this.#messages) {
      if (end >= position && (type === 0x53 || type === 0x51)) return end;
    }
    return undefined;
  }
}

function latin1(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 8192) s += String.fromCharCode(...bytes.subarray(i, i + 8192));
  return s;
}

async function writeAll(conn: Deno.TcpConn, data: Uint8Array): Promise<void> {
  let written = 0;
  while (written < data.length) written += await conn.write(data.subarray(written));
}

function closeQuietly(c: { close(): void }): void {
  try {
    c.close();
  } catch { /* already closed */ }
}
