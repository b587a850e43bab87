import type { FastifyHelmetOptions } from '@fastify/helmet';

/** Bodies nesting deeper than this are refused with `400 validation_error`. */
export const MAX_JSON_DEPTH = 32;

/**
 * Security headers for a JSON API: a response is never a page, so the CSP allows nothing
 * and no one may frame it. `/docs` (swagger UI) sets its own CSP (`swaggerCsp`).
 */
export const HELMET_OPTIONS: FastifyHelmetOptions = {
  contentSecurityPolicy: {
    useDefaults: false,
    directives: {
      defaultSrc: ["'none'"],
      frameAncestors: ["'none'"],
      baseUri: ["'none'"],
      formAction: ["'none'"],
    },
  },
};

/**
 * swagger UI's own CSP without `upgrade-insecure-requests`: on a plain-HTTP bind (the
 * loopback default) that directive would send the page's scripts to https and break it.
 */
export function swaggerCsp(header: string): string {
  return header.replace(/\s*upgrade-insecure-requests;?/g, '');
}

/**
 * Whether JSON text nests deeper than `limit` arrays and objects: one pass over the text
 * before it is parsed, so a deep body costs neither the parser's nor the validator's stack.
 */
export function nestsDeeperThan(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const char = text.charCodeAt(i);
    if (inString) {
      if (char === 0x5c)
        i++; // backslash: skip the escaped character
      else if (char === 0x22) inString = false;
    } else if (char === 0x22) {
      inString = true;
    } else if (char === 0x7b || char === 0x5b) {
      if (++depth > limit) return true;
    } else if (char === 0x7d || char === 0x5d) {
      depth--;
    }
  }
  return false;
}
