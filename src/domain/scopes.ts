/**
 * What an API key may do. Each route of the API needs exactly one of these; a key holds any
 * set of them. Kept to four on purpose: checkout (write, read) and operations (read, write)
 * are what the shops and operators we serve tell apart, and a scope nobody needs is a scope
 * somebody grants by mistake.
 */
export const SCOPES = ['orders:write', 'orders:read', 'admin:read', 'admin:write'] as const;

export type Scope = (typeof SCOPES)[number];

/** The scopes of the bootstrap roles of `ORDERFLOW_API_KEYS`, as they were before scopes. */
export const ROLE_SCOPES = {
  client: ['orders:write', 'orders:read'],
  admin: SCOPES,
} as const satisfies Record<string, readonly Scope[]>;

export function isScope(text: string): text is Scope {
  return (SCOPES as readonly string[]).includes(text);
}

/** Each scope once, in the order of `SCOPES`: how keys store and show them. */
export function normalizeScopes(scopes: Iterable<Scope>): Scope[] {
  const wanted = new Set(scopes);
  return SCOPES.filter((scope) => wanted.has(scope));
}

/** The scopes of `wanted` that `held` lacks (none: `held` may grant all of `wanted`). */
export function missingScopes(held: readonly Scope[], wanted: readonly Scope[]): Scope[] {
  return normalizeScopes(wanted.filter((scope) => !held.includes(scope)));
}

/** A key with either admin scope sees every order; any other only the orders it created. */
export function seesEveryOrder(scopes: readonly Scope[]): boolean {
  return scopes.includes('admin:read') || scopes.includes('admin:write');
}

/**
 * The scopes of a comma-separated list as a store keeps them. A scope this version does not
 * know (written by a newer one) is left out, never granted.
 */
export function scopesIn(text: string): Scope[] {
  return normalizeScopes(text.split(',').filter(isScope));
}
