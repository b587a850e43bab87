import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { RetryableError } from '../../domain/errors.js';
import type { Mail, Mailer } from '../../ports/mailer.js';

/**
 * Writes each email as an `.eml` file (RFC 5322, text and HTML alternatives) into a
 * folder: the embedded default, with nothing to set up. The file is named by the mail's
 * id and written by rename, so sending one id twice leaves one whole file.
 */
export class OutboxMailer implements Mailer {
  private ready: Promise<unknown> | undefined;

  constructor(
    private readonly dir: string,
    private readonly from: string,
  ) {}

  /** A folder that cannot be written now (full, read-only, not a folder) is a RetryableError. */
  async send(mail: Mail): Promise<void> {
    try {
      this.ready ??= mkdir(this.dir, { recursive: true });
      await this.ready;
      const name = mail.id.replace(/[^A-Za-z0-9._-]/g, '_');
      const path = join(this.dir, `${name}.eml`);
      const temp = `${path}.${process.pid}.tmp`;
      await writeFile(temp, this.render(mail));
      await rename(temp, path);
    } catch (error) {
      // The folder may be made writable (or freed) later: the next send tries it again.
      this.ready = undefined;
      throw new RetryableError(
        'outbox_unavailable',
        `outbox ${this.dir}: ${String(error)}`,
        1_000,
        {
          cause: error,
        },
      );
    }
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  private render(mail: Mail): string {
    const boundary = `orderflow-${mail.id.replace(/[^A-Za-z0-9]/g, '')}`;
    return [
      `From: ${this.from}`,
      `To: ${mail.to}`,
      `Subject: ${mail.subject}`,
      `Message-ID: <${mail.id}@orderflow>`,
      'MIME-Version: 1.0',
      `Content-Type: multipart/alternative; boundary="${boundary}"`,
      '',
      `--${boundary}`,
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: 8bit',
      '',
      mail.text,
      `--${boundary}`,
      'Content-Type: text/html; charset=utf-8',
      'Content-Transfer-Encoding: 8bit',
      '',
      mail.html,
      `--${boundary}--`,
      '',
    ].join('\r\n');
  }
}
