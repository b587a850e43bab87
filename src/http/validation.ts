import type { FastifySchemaCompiler } from 'fastify';
import type { ZodType } from 'zod';

/** One problem with a request: where (zod's path) and what. */
export interface Issue {
  readonly path: readonly (string | number)[];
  readonly message: string;
}

/** A request that does not match its route's schema; answered `400 validation_error`. */
export class RequestValidationError extends Error {
  override readonly name = 'RequestValidationError';
  /** Set by fastify: `body`, `headers`, `params` or `querystring`. */
  validationContext?: string;
  constructor(readonly issues: readonly Issue[]) {
    super(issues[0]?.message ?? 'invalid request');
  }
}

/**
 * Validates with zod and keeps zod's issue paths (the provider's own compiler flattens
 * them into JSON pointers). No coercion: a string "2" is not a quantity.
 */
export const validatorCompiler: FastifySchemaCompiler<ZodType> =
  ({ schema }) =>
  (data: unknown) => {
    const result = schema.safeParse(data);
    if (result.success) return { value: result.data };
    const issues = result.error.issues.map((issue) => ({
      path: issue.path.map((part) => (typeof part === 'number' ? part : String(part))),
      message: issue.message,
    }));
    return { error: new RequestValidationError(issues) };
  };
