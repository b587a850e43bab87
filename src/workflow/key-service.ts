import { createHmac, hash, randomBytes, timingSafeEqual } from 'node:crypto';
import { TerminalError } from '../domain/errors.js';
import {
  missingScopes,
  normalizeScopes,
  ROLE_SCOPES,
  SCOPES,
  type Scope,
} from '../domain/scopes.js';
import type { ApiKeyRecord, ApiKeyStore, StoredApiKey } from '../ports/api-key-store.js';
import type { Clock } from '../ports/clock.js';

/** Who is calling: the key's stable id (the owner of the orders it creates) and its scopes. */
export interface KeyHolder {
  readonly id: string;
  readonly scopes: readonly Scope[];
}

/** With no key anywhere every caller is this one (only allowed on a loopback bind). */
export const ANONYMOUS: KeyHolder = { id: 'anonymous', scopes: SCOPES };

/** A key of `ORDERFLOW_API_KEYS`: its id is the one orders stored before scopes carry. */
export interface BootstrapKey {
  readonly id: string;
  readonly role: keyof typeof ROLE_SCOPES;
  readonly key: string;
}

export interface NewKey {
  readonly name?: string;
  readonly scopes: readonly Scope[];
}

/** A key just created: the only moment its plain text exists outside the caller's hands. */
export interface CreatedKey extends ApiKeyRecord {
  readonly key: string;
}

/**
 * A dashboard session: who opened it with their key, and the token its cookie carries. The
 * token is `<key id>.<expiry>.<HMAC-SHA256 of both, keyed with the key's SHA-256 digest>`:
 * only who held the key (or the store of digests) can make one, and revoking the key ends
 * every session it opened, in every process, with no secret to share between them.
 */
export interface KeySession {
  readonly holder: KeyHolder;
  readonly token: string;
  /** ms since the epoch. */
  readonly expiresAt: number;
}

export interface KeyServiceDeps {
  readonly apiKeys: ApiKeyStore;
  readonly clock: Clock;
  /** `ORDERFLOW_API_KEYS`; undefined when unset. */
  readonly bootstrap: readonly BootstrapKey[] | undefined;
  /** A use that could not be recorded (the store is down): worth a warning, never a refusal. */
  readonly onTouchFailed?: (error: unknown) => void;
}

/**
 * How long a process trusts what it last read from the store, found or not found. A revoked
 * key is refused by every process within this time; a created key accepted by all.
 */
export const KEY_CACHE_MS = 1_000;
/** A key's "last used" is written at most this often: the intake must not write per request. */
export const TOUCH_EVERY_MS = 60_000;
/** How long a dashboard session lasts; the page renews it while it stays open. */
export const SESSION_MS = 15 * 60_000;
/** Bounds the cache under a flood of made-up keys; entries live `KEY_CACHE_MS` anyway. */
const CACHE_MAX = 10_000;

/**
 * Answers by key, each trusted for `ttlMs` and shared by the callers that ask meanwhile; a
 * failed answer is not kept (the next caller asks again). At `max` entries the oldest goes.
 */
class ExpiringAnswers<T> {
  private readonly answers = new Map<
    string,
    { readonly value: Promise<T>; readonly until: number }
  >();

  constructor(
    private readonly now: () => number,
    private readonly ttlMs: number,
    private readonly max: number,
  ) {}

  get(key: string, ask: () => Promise<T>): Promise<T> {
    const now = this.now();
    const cached = this.answers.get(key);
    if (cached && cached.until > now) return cached.value;
    this.answers.delete(key);
    if (this.answers.size >= this.max) {
      const oldest = this.answers.keys().next();
      if (!oldest.done) this.answers.delete(oldest.value);
    }
    const value = ask();
    this.answers.set(key, { value, until: now + this.ttlMs });
    value.catch(() => {
      if (this.answers.get(key)?.value === value) this.answers.delete(key);
    });
    return value;
  }

  clear(): void {
    this.answers.clear();
  }
}

/**
 * API keys: who a presented key belongs to, and the keys operators create, list and revoke.
 *
 * Keys are `of_` and 32 random bytes (base64url); the store sees only their SHA-256 digest.
 * Every process caches each lookup, hit or miss, for at most `KEY_CACHE_MS`, so the intake
 * costs no store round trip per request and a revocation reaches every process within a
 * second. The bootstrap keys of `ORDERFLOW_API_KEYS` never enter the store: they are compared
 * in memory, in constant time, every one of them, so timing tells neither which matched
 * nor their lengths.
 *
 * Without bootstrap keys and with none stored, nobody needs a key (`ANONYMOUS`): the embedded
 * default on a loopback bind. As soon as one key is stored, every request must present one.
 */
export class KeyService {
  private readonly bootstrap: readonly { digest: Buffer; holder: KeyHolder }[] | undefined;
  /** By digest: the stored key, or undefined. */
  private readonly lookups: ExpiringAnswers<StoredApiKey | undefined>;
  /** By id (a session's key): the stored key, or undefined. */
  private readonly byId: ExpiringAnswers<StoredApiKey | undefined>;
  /** Whether any key is stored (one entry). */
  private readonly anyStored: ExpiringAnswers<boolean>;
  private readonly touched = new Map<string, number>();

  constructor(private readonly deps: KeyServiceDeps) {
    const now = (): number => deps.clock.now();
    this.lookups = new ExpiringAnswers(now, KEY_CACHE_MS, CACHE_MAX);
    this.byId = new ExpiringAnswers(now, KEY_CACHE_MS, CACHE_MAX);
    this.anyStored = new ExpiringAnswers(now, KEY_CACHE_MS, 1);
    this.bootstrap = deps.bootstrap?.map(({ id, role, key }) => ({
      digest: sha256(key),
      holder: { id, scopes: ROLE_SCOPES[role] },
    }));
  }

  /**
   * The holder of `presented` (undefined: no key was sent); `401 unauthorized` for a key that
   * is not (or no longer) valid, or for none where one is needed.
   */
  async authenticate(presented: string | undefined): Promise<KeyHolder> {
    if (!(await this.keyRequired())) return ANONYMOUS;
    if (presented === undefined)
      throw new TerminalError(
        'unauthorized',
        'an API key is required (Authorization: Bearer <key>)',
      );
    const digest = sha256(presented);
    let match: KeyHolder | undefined;
    for (const known of this.bootstrap ?? []) {
      if (timingSafeEqual(digest, known.digest) && match === undefined) match = known.holder;
    }
    if (match) return match;
    const hex = digest.toString('hex');
    const stored = await this.lookups.get(hex, () => this.deps.apiKeys.findByDigest(hex));
    if (!stored || !sameDigest(digest, stored.digest))
      throw new TerminalError('unauthorized', 'the API key is not valid');
    this.touchIfDue(stored);
    return { id: stored.id, scopes: stored.scopes };
  }

  /** A session for the holder of `presented`, refused as `authenticate` refuses. */
  async openSession(presented: string | undefined): Promise<KeySession> {
    const holder = await this.authenticate(presented);
    const expiresAt = this.deps.clock.now() + SESSION_MS;
    const body = `${holder.id}.${expiresAt}`;
    const mac = presented === undefined ? '' : sessionMac(sha256(presented), body);
    return { holder, expiresAt, token: `${body}.${mac}` };
  }

  /**
   * The holder of the session `token`; `401 unauthorized` for none, an expired one, a forged
   * one, or one whose key was revoked (within `KEY_CACHE_MS`). Nobody needs one where nobody
   * needs a key.
   */
  async authenticateSession(token: string | undefined): Promise<KeyHolder> {
    if (!(await this.keyRequired())) return ANONYMOUS;
    const refused = new TerminalError('unauthorized', 'no valid dashboard session: log in again');
    const session = token === undefined ? undefined : parseSession(token);
    if (!session || session.expiresAt <= this.deps.clock.now()) throw refused;
    const key = await this.keyById(session.id);
    if (!key) throw refused;
    const expected = Buffer.from(sessionMac(key.digest, `${session.id}.${session.expiresAt}`));
    const presented = Buffer.from(session.mac);
    if (presented.length !== expected.length || !timingSafeEqual(presented, expected))
      throw refused;
    return key.holder;
  }

  /** A new key with `scopes`; `403 forbidden` when `by` lacks any of them. */
  async create(request: NewKey, by: KeyHolder): Promise<CreatedKey> {
    const scopes = normalizeScopes(request.scopes);
    const missing = missingScopes(by.scopes, scopes);
    if (missing.length > 0)
      throw new TerminalError(
        'forbidden',
        `a key cannot grant scopes it does not hold: ${missing.join(', ')}`,
        { details: { missing } },
      );
    const key = `of_${randomBytes(32).toString('base64url')}`;
    const record: ApiKeyRecord = {
      id: `key_${randomBytes(8).toString('hex')}`,
      name: request.name ?? null,
      scopes,
      createdAt: this.deps.clock.now(),
    };
    await this.deps.apiKeys.create({ ...record, digest: sha256(key).toString('hex') });
    this.anyStored.clear();
    return { ...record, key };
  }

  /** Every stored key, oldest first; the keys of `ORDERFLOW_API_KEYS` are not among them. */
  list(): Promise<readonly ApiKeyRecord[]> {
    return this.deps.apiKeys.list();
  }

  /** Revokes a stored key at once here, within `KEY_CACHE_MS` elsewhere; `404` for any other id. */
  async revoke(id: string): Promise<void> {
    const revoked = await this.deps.apiKeys.revoke(id);
    this.lookups.clear();
    this.byId.clear();
    this.anyStored.clear();
    if (revoked) return;
    const fromEnvironment = this.bootstrap?.some(({ holder }) => holder.id === id) ?? false;
    throw new TerminalError(
      'not_found',
      fromEnvironment
        ? `${id} comes from ORDERFLOW_API_KEYS: remove it there and restart`
        : `no API key ${id}`,
    );
  }

  /** Whether a caller must present a key: not where none exists anywhere (`ANONYMOUS`). */
  async keyRequired(): Promise<boolean> {
    return (
      this.bootstrap !== undefined ||
      (await this.anyStored.get('', () => this.deps.apiKeys.hasAny()))
    );
  }

  /** The key of `id` with its digest: of `ORDERFLOW_API_KEYS`, or stored. */
  private async keyById(id: string): Promise<{ holder: KeyHolder; digest: Buffer } | undefined> {
    const fromEnvironment = this.bootstrap?.find(({ holder }) => holder.id === id);
    if (fromEnvironment) return fromEnvironment;
    const stored = await this.byId.get(id, () => this.deps.apiKeys.findById(id));
    return (
      stored && {
        holder: { id: stored.id, scopes: stored.scopes },
        digest: Buffer.from(stored.digest, 'hex'),
      }
    );
  }

  /** In the background, at most once per `TOUCH_EVERY_MS` per key and process. */
  private touchIfDue(key: StoredApiKey): void {
    const now = this.deps.clock.now();
    const last = Math.max(this.touched.get(key.id) ?? 0, key.lastUsedAt ?? 0);
    if (now - last < TOUCH_EVERY_MS) return;
    this.touched.set(key.id, now);
    this.deps.apiKeys.touch(key.id, now).catch((error: unknown) => {
      this.deps.onTouchFailed?.(error);
    });
  }
}

/**
 * The store found the key by its digest; comparing again, in constant time, keeps a store
 * that matches loosely (a collation, a prefix) from letting another key in.
 */
function sameDigest(digest: Buffer, storedHex: string): boolean {
  const stored = Buffer.from(storedHex, 'hex');
  return stored.length === digest.length && timingSafeEqual(digest, stored);
}

/** `<id>.<expiry>.<mac>`; ids never hold a dot after their last one, the mac none at all. */
function parseSession(token: string): { id: string; expiresAt: number; mac: string } | undefined {
  const macAt = token.lastIndexOf('.');
  const expiryAt = token.lastIndexOf('.', macAt - 1);
  if (expiryAt <= 0) return undefined;
  const expiry = token.slice(expiryAt + 1, macAt);
  if (!/^\d{1,15}$/.test(expiry)) return undefined;
  return { id: token.slice(0, expiryAt), expiresAt: Number(expiry), mac: token.slice(macAt + 1) };
}

function sessionMac(digest: Buffer, body: string): string {
  return createHmac('sha256', digest)
    .update(`orderflow dashboard session ${body}`)
    .digest('base64url');
}

function sha256(text: string): Buffer {
  return hash('sha256', text, 'buffer');
}
