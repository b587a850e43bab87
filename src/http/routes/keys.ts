import type { FastifyPluginCallbackZod } from 'fastify-type-provider-zod';
import type { ApiKeyRecord } from '../../ports/api-key-store.js';
import { principalOf } from '../auth.js';
import { orUnavailable } from '../errors.js';
import type { KeyView } from '../schemas.js';
import {
  CreatedKeyView,
  CreateKeyBody,
  ERROR_RESPONSES,
  KeyIdParams,
  KeyListView,
  KeyRevoked,
  SECURED,
  isoTime,
} from '../schemas.js';
import type { HttpDeps } from './deps.js';

function keyView(key: ApiKeyRecord): KeyView {
  return {
    id: key.id,
    name: key.name,
    scopes: [...key.scopes],
    createdAt: isoTime(key.createdAt),
    lastUsedAt: key.lastUsedAt === undefined ? null : isoTime(key.lastUsedAt),
  };
}

/** `/v1/admin/keys`: the keys created at run time, managed by a key with `admin:write`. */
export const keyRoutes: FastifyPluginCallbackZod<HttpDeps> = (app, { ctx }, done) => {
  const { keys } = ctx;
  const tags = ['admin'];

  app.post(
    '/v1/admin/keys',
    {
      config: { scope: 'admin:write' },
      schema: {
        summary: 'Create an API key with some of the scopes of the calling key',
        description: 'The key is in this answer only: the service keeps just its SHA-256 digest.',
        tags,
        security: SECURED,
        body: CreateKeyBody,
        response: { 201: CreatedKeyView, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const created = await orUnavailable(
        keys.create(request.body, principalOf(request)),
        'the key store',
      );
      const { id, name, scopes, createdAt, key } = created;
      return reply
        .code(201)
        .send({ id, name, scopes: [...scopes], createdAt: isoTime(createdAt), key });
    },
  );

  app.get(
    '/v1/admin/keys',
    {
      config: { scope: 'admin:read' },
      schema: {
        summary: 'The stored API keys, oldest first, with when each was last used',
        tags,
        security: SECURED,
        response: { 200: KeyListView, ...ERROR_RESPONSES },
      },
    },
    async () => ({ keys: (await orUnavailable(keys.list(), 'the key store')).map(keyView) }),
  );

  app.delete(
    '/v1/admin/keys/:id',
    {
      config: { scope: 'admin:write' },
      schema: {
        summary: 'Revoke an API key: refused by every process within a second',
        tags,
        security: SECURED,
        params: KeyIdParams,
        response: { 200: KeyRevoked, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const { id } = request.params;
      await orUnavailable(keys.revoke(id), 'the key store');
      return { id, revoked: true as const };
    },
  );

  done();
};
