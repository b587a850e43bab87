import { existsSync } from 'node:fs';
import { join } from 'node:path';
import fastifyCookie from '@fastify/cookie';
import fastifyStatic from '@fastify/static';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { TerminalError } from '../../domain/errors.js';
import { packageRoot } from '../../runtime/package-root.js';
import type { RateSample } from '../../workflow/dashboard-rates.js';
import type { DashboardSnapshot, SnapshotListener } from '../../workflow/dashboard-service.js';
import { SESSION_MS } from '../../workflow/key-service.js';
import { requireScope } from '../auth.js';
import {
  ERROR_RESPONSES,
  EVENT_STREAM_HEADERS,
  EVENT_STREAM_RESPONSES,
  isoTime,
} from '../schemas.js';
import { StreamSlots, takeSlots } from '../stream-slots.js';
import type { HttpDeps } from './deps.js';

/** Where `npm run build` puts the dashboard's page and assets (Vite, `dashboard/`). */
export const DASHBOARD_DIR = join(packageRoot()?.dir ?? process.cwd(), 'dist', 'dashboard');
/** The session cookie: HttpOnly, for the live stream only (the page's REST calls send the key). */
export const SESSION_COOKIE = 'orderflow_dashboard';

/**
 * The page's own CSP: its scripts, styles and connections are this origin's, nothing
 * inline, nothing from elsewhere (the dashboard works offline).
 */
const DASHBOARD_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join('; ');

const SessionBody = z.strictObject({
  key: z.string().max(512).optional().describe('An API key with admin:read; none without keys'),
});
const SessionView = z.object({
  keyId: z.string(),
  scopes: z.array(z.string()),
  expiresAt: z.string().describe('ISO 8601 time'),
});

const tags = ['dashboard'];

/**
 * The operator dashboard: the page and its assets (`DASHBOARD_DIR`), a login that turns an
 * admin key into a short-lived session cookie, and the live stream that cookie opens.
 *
 * The browser's EventSource cannot send `Authorization`, and a key in a URL lands in logs:
 * the login (`POST /dashboard/session`) sets an HttpOnly, SameSite=Strict cookie holding a
 * session signed with the key (`KeyService.openSession`), good for `SESSION_MS` and for
 * nothing but `GET /dashboard/live`, which only reads. Everything the page changes goes
 * through the /v1 admin API with the key itself, so no cookie can be ridden to a change.
 */
export const dashboardRoutes: FastifyPluginAsyncZod<HttpDeps> = async (app, { ctx }) => {
  const { keys, dashboard } = ctx;
  const built = existsSync(join(DASHBOARD_DIR, 'index.html'));
  /** Open live streams, ended when the app closes so that the server can stop. */
  const open = new Set<() => void>();
  const perKey = new StreamSlots(ctx.config.sseMaxPerKey, 'API key');
  const perIp = new StreamSlots(ctx.config.sseMaxPerIp, 'IP');

  await app.register(fastifyCookie);
  app.addHook('onReady', (done) => {
    dashboard.start();
    done();
  });
  app.addHook('preClose', (done) => {
    for (const close of [...open]) close();
    done();
  });
  app.addHook('onClose', (_instance, done) => {
    dashboard.stop();
    done();
  });
  app.addHook('onSend', (_request, reply, payload, done) => {
    reply.header('content-security-policy', DASHBOARD_CSP);
    done(null, payload);
  });

  if (built) {
    await app.register(fastifyStatic, {
      root: join(DASHBOARD_DIR, 'assets'),
      prefix: '/dashboard/assets/',
      index: false,
      // Vite names every asset by its content's hash: a new build is new names.
      immutable: true,
      maxAge: '365d',
    });
  }

  app.get(
    '/dashboard',
    { schema: { summary: 'The operator dashboard (a page: log in with an admin key)', tags } },
    async (_request, reply) => {
      if (!built)
        throw new TerminalError(
          'not_found',
          'the dashboard is not built here: `npm run build` builds it into dist/dashboard',
        );
      // The page names its assets by hash; the page itself must be asked for every time.
      return reply
        .header('cache-control', 'no-cache')
        .sendFile('index.html', DASHBOARD_DIR, { cacheControl: false });
    },
  );
  app.get('/dashboard/', { schema: { hide: true } }, (_request, reply) =>
    reply.redirect('/dashboard', 301),
  );

  app.post(
    '/dashboard/session',
    {
      schema: {
        summary: 'Log in: an admin key for a session cookie that opens the live stream',
        description: `The cookie is HttpOnly, SameSite=Strict, for /dashboard, good for ${SESSION_MS / 60_000} minutes: the page renews it while open. 401 for a wrong key, 403 for a key without admin:read.`,
        tags,
        body: SessionBody,
        response: { 200: SessionView, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const presented = request.body?.key?.trim();
      const session = await keys.openSession(presented === '' ? undefined : presented);
      requireScope(session.holder, 'admin:read');
      reply.setCookie(SESSION_COOKIE, session.token, {
        path: '/dashboard',
        httpOnly: true,
        sameSite: 'strict',
        secure: request.protocol === 'https',
        maxAge: SESSION_MS / 1000,
      });
      return {
        keyId: session.holder.id,
        scopes: [...session.holder.scopes],
        expiresAt: isoTime(session.expiresAt),
      };
    },
  );

  app.get(
    '/dashboard/session',
    {
      schema: {
        summary: 'Whether the login needs a key (none in anonymous loopback mode)',
        tags,
        response: { 200: z.object({ keyRequired: z.boolean() }) },
      },
    },
    async () => ({ keyRequired: await keys.keyRequired() }),
  );

  app.delete(
    '/dashboard/session',
    { schema: { summary: 'Log out: the session cookie is cleared', tags } },
    (_request, reply) => reply.clearCookie(SESSION_COOKIE, { path: '/dashboard' }).code(204).send(),
  );

  app.get(
    '/dashboard/live',
    {
      schema: {
        summary: "The dashboard's figures as Server-Sent Events (needs the session cookie)",
        description:
          'First `event: history` `{samples:[{at,acceptedPerS,completedPerS}]}` (the last 15 minutes, a sample a ' +
          'second), then `event: snapshot` every second: rates, orders by status, transitions, latency, consumers, ' +
          'sync, payment breaker, hottest SKUs. `event: end` `{reason}` when the session expires or its key is revoked.',
        tags,
        response: EVENT_STREAM_RESPONSES,
      },
    },
    async (request, reply) => {
      const token = request.cookies[SESSION_COOKIE];
      const holder = await keys.authenticateSession(token);
      requireScope(holder, 'admin:read');
      const releaseSlots = takeSlots(perKey, perIp, holder.id, request.ip);
      streamLive(request, reply, {
        history: dashboard.history(),
        subscribe: (listener) => dashboard.subscribe(listener),
        stillValid: async () => {
          requireScope(await keys.authenticateSession(token), 'admin:read');
        },
        onClose: releaseSlots,
        open,
      });
      return reply;
    },
  );
};

interface LiveStream {
  readonly history: readonly RateSample[];
  readonly subscribe: (listener: SnapshotListener) => () => void;
  /** Rejects once the session no longer holds (expired, its key revoked). */
  readonly stillValid: () => Promise<void>;
  readonly onClose: () => void;
  readonly open: Set<() => void>;
}

/** The SSE answer: the history, then a snapshot a second while the session holds. */
function streamLive(request: FastifyRequest, reply: FastifyReply, live: LiveStream): void {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, { ...EVENT_STREAM_HEADERS, 'content-security-policy': DASHBOARD_CSP });
  const send = (event: string, data: unknown): void => {
    if (!res.writableEnded) res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  };
  let closed = false;
  let checking = false;
  const close = (): void => {
    if (closed) return;
    closed = true;
    unsubscribe();
    live.onClose();
    live.open.delete(close);
    if (!res.writableEnded) res.end();
  };
  res.write('retry: 3000\n\n');
  send('history', {
    samples: live.history.map((sample) => ({ ...sample, at: isoTime(sample.at) })),
  });
  const unsubscribe = live.subscribe((snapshot) => {
    if (closed || checking) return;
    checking = true;
    live.stillValid().then(
      () => {
        checking = false;
        send('snapshot', snapshotView(snapshot));
      },
      (error: unknown) => {
        send('end', { reason: error instanceof Error ? error.message : 'session ended' });
        request.log.info({ err: error }, 'dashboard stream ended: the session no longer holds');
        close();
      },
    );
  });
  live.open.add(close);
  res.on('close', close);
  res.on('error', close);
}

function snapshotView(snapshot: DashboardSnapshot): Record<string, unknown> {
  return { ...snapshot, at: isoTime(snapshot.at) };
}
