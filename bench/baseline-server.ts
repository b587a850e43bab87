import { createServer } from 'node:http';

/**
 * The baseline: a bare node:http server that reads the body and answers 202 with a
 * small JSON document, doing nothing else. What no order service can beat.
 */
const body = JSON.stringify({ orderId: '00000000-0000-0000-0000-000000000000', status: 'PENDING' });
const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    res.writeHead(req.method === 'GET' ? 200 : 202, { 'content-type': 'application/json' });
    res.end(body);
  });
});
server.keepAliveTimeout = 65_000;
server.listen(Number(process.env['PORT'] ?? 0), process.env['HOST'] ?? '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
