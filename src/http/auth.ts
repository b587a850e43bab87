import { hash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { TerminalError } from '../domain/errors.js';
import type { ApiKey, KeyRole } from '../runtime/config.js';

/** Who is calling: the key's stable id (the owner of the orders it creates) and its role. */
export interface Principal {
  readonly id: string;
  readonly role: KeyRole;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the authentication hook of the /v1 routes; null elsewhere. */
    principal: Principal | null;
  }
}

/** With no keys configured every caller is this one (only allowed on a loopback bind). */
export const ANONYMOUS: Principal = { id: 'anonymous', role: 'admin' };

interface KnownKey {
  readonly digest: Buffer;
  readonly principal: Principal;
}

const BEARER = /^bearer\s+(\S+)\s*$/i;

/**
 * Turns a request into its principal or throws `401 unauthorized`. The presented key is
 * hashed once and compared with every configured key's digest in constant time, so neither
 * which key matched nor the keys' lengths leak through timing.
 */
export function createAuthenticator(
  apiKeys: readonly ApiKey[] | undefined,
): (request: FastifyRequest) => Principal {
  if (apiKeys === undefined) return () => ANONYMOUS;
  const known: KnownKey[] = apiKeys.map((apiKey) => ({
    digest: sha256(apiKey.key),
    principal: { id: apiKey.id, role: apiKey.role },
  }));
  return (request) => {
    const presented = presentedKey(request);
    if (presented === undefined)
      throw new TerminalError(
        'unauthorized',
        'an API key is required (Authorization: Bearer <key>)',
      );
    const digest = sha256(presented);
    let match: Principal | undefined;
    for (const key of known) {
      if (timingSafeEqual(digest, key.digest) && match === undefined) match = key.principal;
    }
    if (!match) throw new TerminalError('unauthorized', 'the API key is not valid');
    return match;
  };
}

function presentedKey(request: FastifyRequest): string | undefined {
  const authorization = request.headers.authorization;
  if (authorization !== undefined) return BEARER.exec(authorization)?.[1] ?? '';
  const header = request.headers['x-api-key'];
  const key = Array.isArray(header) ? header[0] : header;
  return key === undefined ? undefined : key.trim();
}

function sha256(text: string): Buffer {
  return hash('sha256', text, 'buffer');
}

/** The caller of an authenticated route; throws 401 if the route was not authenticated. */
export function principalOf(request: FastifyRequest): Principal {
  const principal = request.principal;
  if (!principal) throw new TerminalError('unauthorized', 'not authenticated');
  return principal;
}

export function requireAdmin(request: FastifyRequest): void {
  if (principalOf(request).role !== 'admin')
    throw new TerminalError('forbidden', 'this route needs an admin key');
}

/** A client key sees only what it created; an admin key sees everything. */
export function canSee(principal: Principal, owner: string): boolean {
  return principal.role === 'admin' || principal.id === owner;
}
