import type { Scope } from '../domain/scopes.js';

/** An API key as operators see it: never the key itself, never its digest. */
export interface ApiKeyRecord {
  /** Stable, non-secret: the owner recorded on the orders the key creates. */
  readonly id: string;
  /** The operator's label for it (which shop, which script); null when none was given. */
  readonly name: string | null;
  readonly scopes: readonly Scope[];
  /** ms since the epoch. */
  readonly createdAt: number;
  /** ms since the epoch; absent while unused. Updated at most about once a minute per key. */
  readonly lastUsedAt?: number;
}

/** A key as it is stored: its record and the SHA-256 digest (hex) of the key. */
export interface StoredApiKey extends ApiKeyRecord {
  readonly digest: string;
}

/**
 * The API keys created at run time, shared by every process of a deployment. Only the
 * SHA-256 digest of a key is ever given to the store, so neither the store nor a copy of it
 * can hand out a working key; keys are high-entropy random, so a plain digest (no salt, no
 * slow hash) is enough and can be looked up directly.
 *
 * Deliberately left out: caching and the "last used" throttle (the key service's, so that
 * every adapter stays a plain store), and keys from the environment (they never enter it).
 */
export interface ApiKeyStore {
  /** Stores a new key; rejects when its id or digest is stored already. */
  create(key: StoredApiKey): Promise<void>;

  /** The key with this digest, digest included; undefined when there is none (or it was revoked). */
  findByDigest(digest: string): Promise<StoredApiKey | undefined>;

  /**
   * The key with this id, digest included; undefined when there is none (or it was revoked).
   * What a dashboard session, signed with the key's digest, is checked against.
   */
  findById(id: string): Promise<StoredApiKey | undefined>;

  /** Every key, oldest first, without digests. */
  list(): Promise<readonly ApiKeyRecord[]>;

  /** Whether any key is stored: once one is, every request must present a key. */
  hasAny(): Promise<boolean>;

  /** Removes the key for good; false when there is no key `id`. */
  revoke(id: string): Promise<boolean>;

  /** Records a use at `at`, never moving it back; a revoked key stays revoked. */
  touch(id: string, at: number): Promise<void>;

  close(): Promise<void>;
}
