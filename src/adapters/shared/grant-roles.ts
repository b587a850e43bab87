/**
 * The users of a least-privilege deployment, one per kind of process, each granted on every
 * engine only what that process does there:
 *
 * - `api`: the HTTP intake, public and admin reads; reads the catalog in the SoT;
 * - `worker`: the saga and the fan-out consumers;
 * - `scheduler`: sync-in, sync-out and reservation expiry (it writes the SoT's orders);
 * - `admin`: an `ORDERFLOW_ROLE=all` process, or the api process operators use for the
 *   catalog writes and the syncs run now (`PUT /v1/admin/products`, `orderflow stock set`,
 *   `orderflow sync orders`): everything the others may, and still no schema or stream changes.
 *
 * Creating and changing the schema and the streams is nobody's here: `orderflow migrate`,
 * run with the owner's (PostgreSQL) and an administrator's (NATS) credentials, does it.
 */
export const GRANT_ROLES = ['api', 'worker', 'scheduler', 'admin'] as const;

export type GrantRole = (typeof GRANT_ROLES)[number];

/** Each user's password (the same user name and password on the three engines). */
export type GrantPasswords = Readonly<Record<GrantRole, string>>;

const NAMESPACE = /^[A-Za-z0-9_-]{1,48}$/;

/**
 * Namespaces become user names, key patterns and subject tokens unquoted: plain tokens only
 * (a `*` or `.` would widen a grant).
 */
export function assertGrantNamespace(namespace: string): void {
  if (!NAMESPACE.test(namespace)) {
    throw new Error(
      `namespace ${JSON.stringify(namespace)}: least-privilege users need [A-Za-z0-9_-]{1,48}`,
    );
  }
}

/** The engine user of `role` in `namespace`: `<ns>_<role>` (lower case for PostgreSQL). */
export function grantUser(namespace: string, role: GrantRole): string {
  return `${namespace}_${role}`;
}
