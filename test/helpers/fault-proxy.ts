/**
 * A TCP proxy in front of an engine, for race and outage tests: give the process under test
 * `proxy.url` instead of the engine's URL, then play network faults on its connections
 * without touching the engine. No backpressure: it is meant for test traffic.
 *
 * ```ts
 * const proxy = await FaultProxy.start(nats.url); // nats://127.0.0.1:<engine port>
 * const service = await startService({ env: { ORDERFLOW_NATS_URL: proxy.url } });
 * proxy.blackhole(); … proxy.restore();
 * ```
 */
import net from 'node:net';

type Mode = 'open' | 'cut' | 'blackhole';

const DEFAULT_PORTS: Record<string, number> = {
  'nats:': 4222,
  'redis:': 6379,
  'rediss:': 6379,
  'postgres:': 5432,
  'postgresql:': 5432,
};

/** One chunk on its way, or `null`: the sender's end of stream. */
interface Held {
  readonly due: number;
  readonly chunk: Buffer | null;
}

/** What the lanes read of their proxy: its faults right now. */
interface Faults {
  readonly mode: Mode;
  readonly delayMs: number;
}

/** One direction of one connection: chunks leave in arrival order, each not before its due time. */
class Lane {
  target: net.Socket | undefined;
  private readonly queue: Held[] = [];
  private lastDue = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly faults: Faults) {}

  get size(): number {
    return this.queue.length;
  }

  push(chunk: Buffer | null): void {
    this.lastDue = Math.max(Date.now() + this.faults.delayMs, this.lastDue);
    this.queue.push({ due: this.lastDue, chunk });
    this.pump();
  }

  pump(): void {
    if (this.timer !== undefined || this.target === undefined || this.faults.mode !== 'open')
      return;
    for (let head = this.queue[0]; head !== undefined; head = this.queue[0]) {
      const wait = head.due - Date.now();
      if (wait > 0) {
        this.timer = setTimeout(() => {
          this.timer = undefined;
          this.pump();
        }, wait);
        return;
      }
      this.queue.shift();
      if (head.chunk === null) this.target.end();
      else this.target.write(head.chunk);
    }
  }

  clear(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.queue.length = 0;
  }
}

/** A client connection and its upstream connection, joined by two lanes. */
class Link {
  private readonly toUpstream: Lane;
  private readonly toClient: Lane;
  private upstream: net.Socket | undefined;

  constructor(
    private readonly client: net.Socket,
    faults: Faults,
    private readonly onGone: (link: Link) => void,
  ) {
    this.toUpstream = new Lane(faults);
    this.toClient = new Lane(faults);
    this.toClient.target = client;
    this.attach(client, this.toUpstream);
  }

  get connected(): boolean {
    return this.upstream !== undefined;
  }

  get held(): number {
    return this.toUpstream.size + this.toClient.size;
  }

  connect(host: string, port: number): void {
    const upstream = net.connect({ host, port, allowHalfOpen: true });
    this.upstream = upstream;
    this.toUpstream.target = upstream;
    this.attach(upstream, this.toClient);
    this.pump();
  }

  pump(): void {
    this.toUpstream.pump();
    this.toClient.pump();
  }

  /** Both sockets go at once; `reset` sends an RST instead of a FIN. */
  destroy(reset: boolean): void {
    this.toUpstream.clear();
    this.toClient.clear();
    for (const socket of [this.client, this.upstream]) {
      if (!socket || socket.destroyed) continue;
      if (reset && socket.readyState === 'open') socket.resetAndDestroy();
      else socket.destroy();
    }
    this.onGone(this);
  }

  private attach(socket: net.Socket, lane: Lane): void {
    socket.on('data', (chunk: Buffer) => lane.push(chunk));
    socket.on('end', () => lane.push(null));
    socket.on('error', () => undefined);
    socket.on('close', (hadError) => {
      const peer = socket === this.client ? this.upstream : this.client;
      if (hadError || !peer || peer.destroyed) this.destroy(hadError);
    });
  }
}

export class FaultProxy implements Faults {
  mode: Mode = 'open';
  delayMs = 0;
  private readonly links = new Set<Link>();

  private constructor(
    private readonly server: net.Server,
    private readonly target: URL,
    /** The proxy's port on 127.0.0.1. */
    readonly port: number,
  ) {}

  /** Listens on a free 127.0.0.1 port in front of `target`, an engine URL (`nats://host:port`, …). */
  static async start(target: string): Promise<FaultProxy> {
    const server = net.createServer({ allowHalfOpen: true });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const { port } = server.address() as net.AddressInfo;
    const proxy = new FaultProxy(server, new URL(target), port);
    server.on('connection', (client) => proxy.accept(client));
    return proxy;
  }

  /** `target` with the proxy's host and port (scheme, credentials and path kept). */
  get url(): string {
    const url = new URL(this.target.href);
    url.hostname = '127.0.0.1';
    url.port = String(this.port);
    return url.href;
  }

  /** Chunks received and not yet forwarded (delayed or black-holed): a test's sentinel. */
  get held(): number {
    let held = 0;
    for (const link of this.links) held += link.held;
    return held;
  }

  /** Holds every chunk, both directions, `ms` before forwarding it, keeping their order; 0 = none. */
  delay(ms: number): void {
    this.delayMs = Math.max(0, ms);
  }

  /** Destroys every open connection (RST) and resets new ones at once until `restore()`. */
  cut(): void {
    this.mode = 'cut';
    for (const link of [...this.links]) link.destroy(true);
  }

  /** Accepts connections but forwards nothing either way, so requests hang, until `restore()`. */
  blackhole(): void {
    this.mode = 'blackhole';
  }

  /** Forwards again at once with no delay; what a black hole held is delivered, in order. */
  restore(): void {
    this.mode = 'open';
    this.delayMs = 0;
    for (const link of this.links) {
      if (!link.connected) this.connectUpstream(link);
      else link.pump();
    }
  }

  /** Stops listening and destroys every connection. */
  async close(): Promise<void> {
    for (const link of [...this.links]) link.destroy(false);
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: net.Socket): void {
    if (this.mode === 'cut') {
      client.on('error', () => undefined);
      client.resetAndDestroy();
      return;
    }
    const link = new Link(client, this, (gone) => this.links.delete(gone));
    this.links.add(link);
    // In a black hole the client believes it is connected; the engine hears of it on restore.
    if (this.mode === 'open') this.connectUpstream(link);
  }

  private connectUpstream(link: Link): void {
    const port = Number(this.target.port) || DEFAULT_PORTS[this.target.protocol];
    if (port === undefined) throw new Error(`no port in ${this.target.href}`);
    link.connect(this.target.hostname, port);
  }
}
