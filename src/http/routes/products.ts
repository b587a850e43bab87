import type { FastifyPluginCallbackZod } from 'fastify-type-provider-zod';
import { TerminalError } from '../../domain/errors.js';
import { ERROR_RESPONSES, ProductView, SECURED, SkuParams } from '../schemas.js';
import type { HttpDeps } from './deps.js';

export const productRoutes: FastifyPluginCallbackZod<HttpDeps> = (app, { ctx }, done) => {
  app.get(
    '/v1/products/:sku',
    {
      config: { scope: 'orders:read' },
      schema: {
        summary: 'A product with its price and what can be sold now',
        tags: ['products'],
        security: SECURED,
        params: SkuParams,
        response: { 200: ProductView, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const { sku } = request.params;
      const item = await ctx.catalog.product(sku);
      if (!item) throw new TerminalError('not_found', `no product ${sku}`);
      return { sku: item.sku, name: item.name, price: item.price, available: item.available };
    },
  );

  done();
};
