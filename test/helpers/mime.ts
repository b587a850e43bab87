import { parseHeaders } from './smtp.js';

/** One leaf part of a MIME message: its media type and its body decoded to text. */
export interface MimePart {
  /** Lower case, without parameters: `text/plain`, `text/html`. */
  readonly type: string;
  /** Decoded (7bit, 8bit, quoted-printable or base64; UTF-8), line ends `\n`. */
  readonly body: string;
}

/**
 * The leaf parts of a raw RFC 5322 message, multiparts walked in order: what a mail client
 * shows, whichever transfer encoding the sender chose. Enough for the mail the adapters send
 * (text parts in UTF-8), not a general MIME parser.
 */
export function mimeParts(raw: string): MimePart[] {
  const message = raw.replace(/\r\n/g, '\n');
  const end = message.indexOf('\n\n');
  const headers = parseHeaders(message);
  const body = end === -1 ? '' : message.slice(end + 2);
  const contentType = headers.get('content-type') ?? 'text/plain';
  const type = (contentType.split(';')[0] ?? '').trim().toLowerCase();
  if (!type.startsWith('multipart/')) {
    return [{ type, body: decode(body, headers.get('content-transfer-encoding')) }];
  }
  const boundary = /boundary="?([^";]+)"?/i.exec(contentType)?.[1];
  if (boundary === undefined) throw new Error(`a ${type} without a boundary`);
  const [, ...sections] = `\n${body}`.split(`\n--${boundary}`);
  const closing = sections.findIndex((section) => section.startsWith('--'));
  return sections
    .slice(0, closing === -1 ? sections.length : closing)
    .flatMap((section) => mimeParts(section.slice(section.indexOf('\n') + 1)));
}

function decode(body: string, encoding = '7bit'): string {
  switch (encoding.trim().toLowerCase()) {
    case 'quoted-printable':
      return Buffer.from(
        body
          .replace(/[ \t]+$/gm, '')
          .replace(/=\n/g, '')
          .replace(/=([0-9A-Fa-f]{2})/g, (_match, hex: string) =>
            String.fromCharCode(parseInt(hex, 16)),
          ),
        'latin1',
      ).toString('utf8');
    case 'base64':
      return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
    default:
      return body;
  }
}
