import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { waitFor } from './wait.js';

/** One message as the test SMTP server received it. */
export interface ReceivedMail {
  /** Envelope recipients (RCPT TO). */
  readonly rcptTo: string[];
  readonly from: string;
  readonly to: string;
  readonly subject: string;
  readonly headers: Map<string, string>;
  readonly raw: string;
}

/** Decodes RFC 2047 encoded words (`=?UTF-8?B?…?=`, `=?UTF-8?Q?…?=`) in a header value. */
function decodeWords(value: string): string {
  return value
    .replace(/\?=\s+=\?/g, '?==?')
    .replace(
      /=\?([^?]+)\?([bBqQ])\?([^?]*)\?=/g,
      (_all, _charset: string, encoding: string, text: string) => {
        if (encoding.toUpperCase() === 'B') return Buffer.from(text, 'base64').toString('utf8');
        const bytes = text
          .replace(/_/g, ' ')
          .replace(/=([0-9A-Fa-f]{2})/g, (_m, hex: string) =>
            String.fromCharCode(parseInt(hex, 16)),
          );
        return Buffer.from(bytes, 'latin1').toString('utf8');
      },
    );
}

/** The header block of a raw RFC 5322 message, unfolded, names lower-cased, words decoded. */
export function parseHeaders(raw: string): Map<string, string> {
  const normalized = raw.replace(/\r\n/g, '\n');
  const end = normalized.indexOf('\n\n');
  const block = (end === -1 ? normalized : normalized.slice(0, end)).replace(/\n[ \t]+/g, ' ');
  const headers = new Map<string, string>();
  for (const line of block.split('\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    if (!headers.has(name)) headers.set(name, decodeWords(line.slice(colon + 1).trim()));
  }
  return headers;
}

export function parseMail(raw: string, rcptTo: string[] = []): ReceivedMail {
  const headers = parseHeaders(raw);
  return {
    rcptTo,
    from: headers.get('from') ?? '',
    to: headers.get('to') ?? '',
    subject: headers.get('subject') ?? '',
    headers,
    raw,
  };
}

export interface SmtpSink {
  readonly port: number;
  /** `smtp://127.0.0.1:<port>` for ORDERFLOW_SMTP_URL. */
  readonly url: string;
  messages(): ReceivedMail[];
  /** Waits until at least `count` messages arrived; answers all of them. */
  waitFor(count: number, timeoutMs?: number): Promise<ReceivedMail[]>;
  close(): Promise<void>;
}

/** A real SMTP server on a free port (no TLS, any or no auth) that keeps what it receives. */
export async function startSmtp(): Promise<SmtpSink> {
  const received: ReceivedMail[] = [];
  const server = new SMTPServer({
    authOptional: true,
    allowInsecureAuth: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onAuth(auth, _session, callback) {
      callback(null, { user: auth.username ?? 'anyone' });
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        const rcptTo = session.envelope.rcptTo.map((address) => address.address);
        received.push(parseMail(Buffer.concat(chunks).toString('utf8'), rcptTo));
        callback(null);
      });
    },
  });
  const netServer = await new Promise<ReturnType<SMTPServer['listen']>>((resolve, reject) => {
    server.once('error', reject);
    const listening = server.listen(0, '127.0.0.1', () => resolve(listening));
  });
  const { port } = netServer.address() as AddressInfo;
  return {
    port,
    url: `smtp://127.0.0.1:${port}`,
    messages: () => [...received],
    waitFor: (count, timeoutMs = 30_000) =>
      waitFor(() => (received.length >= count ? [...received] : undefined), {
        timeoutMs,
        what: `${count} emails`,
        describe: () => `${received.length} arrived: ${received.map((m) => m.subject).join(' | ')}`,
      }),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
