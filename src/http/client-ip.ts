import type { IncomingHttpHeaders } from 'node:http';
import { isIP } from 'node:net';

/**
 * Whose IP `request.ip` is. Without a configured header: the connection's peer, whatever
 * the headers say (fastify's `trustProxy` off). With one (the caller in front — a proxy,
 * the shop's back end — names the end user there): fastify's `trustProxy` trusts the peer
 * (hop 0) and nothing beyond, so `request.ip` is the last address of X-Forwarded-For, the
 * one the peer itself vouches for; `forwardedFor` first reduces the configured header to
 * that one valid address (or none), so a header other than X-Forwarded-For works the same.
 * Configure a header only when every request comes through that caller: anyone who
 * reaches the service directly can write any address in it.
 */
export function trustProxyOption(
  header: string | undefined,
  trustProxy?: number | readonly string[],
): false | string[] | ((address: string, hop: number) => boolean) {
  if (header !== undefined) return (_address, hop) => hop === 0;
  // Behind load balancers (ORDERFLOW_TRUST_PROXY): fastify walks X-Forwarded-For from the
  // right past the trusted hops (a count, or the proxies' addresses) to the end user.
  if (trustProxy === undefined) return false;
  if (typeof trustProxy === 'number') return (_address, hop) => hop < trustProxy;
  return [...trustProxy];
}

/** Rewrites X-Forwarded-For to the end user's address as `header` gives it, or removes it. */
export function forwardedFor(header: string, headers: IncomingHttpHeaders): void {
  const value = headers[header];
  const text = Array.isArray(value) ? value.join(',') : value;
  const ip = text === undefined ? undefined : lastAddress(text);
  if (ip === undefined) delete headers['x-forwarded-for'];
  else headers['x-forwarded-for'] = ip;
}

/** The last entry of a list header, if it is an IP (`1.2.3.4`, `::1`, `1.2.3.4:80`, `[::1]:80`). */
function lastAddress(text: string): string | undefined {
  const entry = text.slice(text.lastIndexOf(',') + 1).trim();
  const address = /^\[(.+)\](?::\d+)?$/.exec(entry)?.[1] ?? entry.replace(/^([\d.]+):\d+$/, '$1');
  return isIP(address) === 0 ? undefined : address;
}
