/** The fault proxy's controls, in front of a private Redis spoken to in raw RESP. */
import net from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FaultProxy } from '../helpers/fault-proxy.js';
import { waitFor } from '../helpers/wait.js';
import {
  privateEnginesAvailable,
  startPrivateRedis,
  type PrivateEngine,
} from '../helpers/private-engines.js';

/** A Redis connection that sends inline commands and reads one-line replies, in order. */
class RespClient {
  private buffered = '';
  private readonly waiting: ((line: string) => void)[] = [];
  readonly closed: Promise<void>;

  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffered += chunk.toString('utf8');
      for (let end = this.buffered.indexOf('\r\n'); end >= 0; end = this.buffered.indexOf('\r\n')) {
        const line = this.buffered.slice(0, end);
        this.buffered = this.buffered.slice(end + 2);
        this.waiting.shift()?.(line);
      }
    });
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('error', () => undefined);
  }

  static connect(port: number): Promise<RespClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port });
      socket.once('connect', () => resolve(new RespClient(socket)));
      socket.once('error', reject);
    });
  }

  /** Sends the command now; resolves with its reply line (`:1`, `+OK`, `$-1`, …). */
  send(command: string): Promise<string> {
    return this.sendAll([command]).then((replies) => replies[0] as string);
  }

  /** Sends the commands in one write; resolves with their reply lines. */
  sendAll(commands: readonly string[]): Promise<string[]> {
    const replies = commands.map(
      () => new Promise<string>((resolve) => this.waiting.push(resolve)),
    );
    this.socket.write(commands.map((command) => `${command}\r\n`).join(''));
    return Promise.all(replies);
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Whether a connection to `port` gets an answer to PING before it closes. */
function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('close', () => resolve(false));
    socket.on('error', () => undefined);
  });
}

describe.skipIf(!privateEnginesAvailable())('the fault proxy', () => {
  let redis: PrivateEngine;
  let proxy: FaultProxy;
  const clients: RespClient[] = [];
  const connect = async (port: number): Promise<RespClient> => {
    const client = await RespClient.connect(port);
    clients.push(client);
    return client;
  };

  beforeAll(async () => {
    redis = await startPrivateRedis();
    proxy = await FaultProxy.start(redis.url);
  });

  afterEach(async () => {
    proxy.restore();
    for (const client of clients.splice(0)) client.close();
    const direct = await RespClient.connect(redis.port);
    await direct.send('FLUSHALL');
    direct.close();
  });

  afterAll(async () => {
    await proxy?.close();
    await redis?.dispose();
  });

  it('names the engine URL with its own port', () => {
    expect(proxy.url).toBe(`redis://127.0.0.1:${proxy.port}`);
  });

  it('forwards both ways', async () => {
    const client = await connect(proxy.port);
    expect(await client.send('SET k v')).toBe('+OK');
    expect(await client.send('EXISTS k')).toBe(':1');
  });

  it('delays every chunk and keeps their order when the delay changes', async () => {
    const client = await connect(proxy.port);
    const incrs = Array.from({ length: 20 }, () => 'INCR n');
    proxy.delay(150);
    const started = Date.now();
    const slow = client.sendAll(incrs);
    await waitFor(() => (proxy.held > 0 ? true : undefined), {
      timeoutMs: 5_000,
      intervalMs: 1,
      what: 'the proxy to hold the first commands',
    });
    proxy.delay(0);
    const fast = client.sendAll(incrs);
    const replies = (await Promise.all([slow, fast])).flat();
    // The commands were held on their way in; their replies came back after delay(0).
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    expect(replies).toEqual(Array.from({ length: 40 }, (_, i) => `:${i + 1}`));
  });

  it('cuts open connections and resets new ones until restored', async () => {
    const client = await connect(proxy.port);
    expect(await client.send('PING')).toBe('+PONG');
    proxy.cut();
    await client.closed;
    expect(await answersPing(proxy.port)).toBe(false);
    proxy.restore();
    expect(await (await connect(proxy.port)).send('PING')).toBe('+PONG');
  });

  it('holds everything in a black hole and delivers it in order on restore', async () => {
    const open = await connect(proxy.port);
    expect(await open.send('PING')).toBe('+PONG');
    proxy.blackhole();
    let settled = false;
    const held = Promise.all([open.send('INCR n'), open.send('INCR n')]).finally(() => {
      settled = true;
    });
    const late = await connect(proxy.port); // accepted, but the engine hears nothing of it
    const lateReply = late.send('INCR n');
    // Redis itself answers at once and has seen none of the held commands.
    const direct = await connect(redis.port);
    expect(await direct.send('GET n')).toBe('$-1');
    expect(settled).toBe(false);
    proxy.restore();
    // In order on each connection; the two connections race each other.
    const [first, second] = (await held).map((reply) => Number(reply.slice(1)));
    expect(Number(second)).toBeGreaterThan(Number(first));
    expect([first, second, Number((await lateReply).slice(1))].sort()).toEqual([1, 2, 3]);
  });
});
