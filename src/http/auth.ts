import type { FastifyInstance, FastifyRequest, RouteOptions } from 'fastify';
import { TerminalError } from '../domain/errors.js';
import { seesEveryOrder, type Scope } from '../domain/scopes.js';
import { ANONYMOUS, type KeyHolder, type KeyService } from '../workflow/key-service.js';

/** Who is calling: the key's stable id (the owner of the orders it creates) and its scopes. */
export type Principal = KeyHolder;
export { ANONYMOUS };

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the authentication hook of the /v1 routes; null elsewhere. */
    principal: Principal | null;
  }
  interface FastifyContextConfig {
    /** The one scope a /v1 route needs; every /v1 route declares it (`requireDeclaredScopes`). */
    scope?: Scope;
  }
}

const BEARER = /^bearer\s+(\S+)\s*$/i;

/**
 * Turns a request into its principal, or rejects with `401 unauthorized`. The key travels as
 * `Authorization: Bearer <key>` or `X-API-Key`; the key service decides whose it is.
 */
export function createAuthenticator(
  keys: KeyService,
): (request: FastifyRequest) => Promise<Principal> {
  return (request) => keys.authenticate(presentedKey(request));
}

function presentedKey(request: FastifyRequest): string | undefined {
  const authorization = request.headers.authorization;
  if (authorization !== undefined) return BEARER.exec(authorization)?.[1] ?? '';
  const header = request.headers['x-api-key'];
  const key = Array.isArray(header) ? header[0] : header;
  return key === undefined ? undefined : key.trim();
}

/** The caller of an authenticated route; throws 401 if the route was not authenticated. */
export function principalOf(request: FastifyRequest): Principal {
  const principal = request.principal;
  if (!principal) throw new TerminalError('unauthorized', 'not authenticated');
  return principal;
}

/** `403 forbidden` unless the caller holds the scope its route declared. */
export function requireRouteScope(request: FastifyRequest): void {
  requireScope(principalOf(request), request.routeOptions.config.scope);
}

/** Outside /v1 (`/metrics`, `/docs` when protected): what an operator reads needs `admin:read`. */
export function requireAdmin(request: FastifyRequest): void {
  requireScope(principalOf(request), 'admin:read');
}

/**
 * `403 forbidden` unless `principal` holds `scope`: the one scope check, also for callers
 * authenticated otherwise than by a key header (the dashboard's session).
 */
export function requireScope(principal: Principal, scope: Scope | undefined): void {
  if (scope === undefined || !principal.scopes.includes(scope))
    throw new TerminalError('forbidden', `this route needs a key with the scope ${scope ?? '?'}`, {
      details: { scope },
    });
}

/**
 * Refuses, when the app is built, a route of `scope` (the /v1 plugin) that declares no scope:
 * a route nobody thought about must not be open to every key. Also names the scope in the
 * route's OpenAPI operation (`x-orderflow-scope` and its description), from the same
 * declaration the check reads.
 */
export function requireDeclaredScopes(scope: FastifyInstance): void {
  scope.addHook('onRoute', (route: RouteOptions) => {
    const needed = route.config?.scope;
    if (needed === undefined)
      throw new Error(`${String(route.method)} ${route.url} declares no scope (config.scope)`);
    const schema = route.schema as Record<string, unknown> | undefined;
    if (schema === undefined || schema['x-orderflow-scope'] !== undefined) return;
    const description = typeof schema['description'] === 'string' ? schema['description'] : '';
    const documented: Record<string, unknown> = {
      ...schema,
      description: `${description}${description ? '\n\n' : ''}Needs a key with the scope \`${needed}\`.`,
      'x-orderflow-scope': needed,
    };
    route.schema = documented;
  });
}

/** A key without admin scopes sees only what it created; one with either sees everything. */
export function canSee(principal: Principal, owner: string): boolean {
  return seesEveryOrder(principal.scopes) || principal.id === owner;
}
