import type { Transporter } from 'nodemailer';
import { RetryableError } from '../../domain/errors.js';
import type { Mail, Mailer } from '../../ports/mailer.js';

/** SMTP through nodemailer: pooled connections, timeouts; failures are retried by the runner. */
export class SmtpMailer implements Mailer {
  private transport: Promise<Transporter> | undefined;

  constructor(
    private readonly url: string,
    private readonly from: string,
  ) {}

  async send(mail: Mail): Promise<void> {
    const transport = await (this.transport ??= this.connect());
    try {
      await transport.sendMail({
        from: this.from,
        to: mail.to,
        subject: mail.subject,
        text: mail.text,
        html: mail.html,
        messageId: `<${mail.id}@orderflow>`,
      });
    } catch (error) {
      throw new RetryableError('smtp_failed', `sending ${mail.id}: ${String(error)}`, undefined, {
        cause: error,
      });
    }
  }

  async close(): Promise<void> {
    if (this.transport) (await this.transport).close();
  }

  private async connect(): Promise<Transporter> {
    const { createTransport } = await import('nodemailer');
    const url = new URL(this.url);
    return createTransport({
      pool: true,
      maxConnections: 4,
      host: url.hostname,
      port: Number(url.port) || (url.protocol === 'smtps:' ? 465 : 587),
      secure: url.protocol === 'smtps:',
      auth: url.username
        ? { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) }
        : undefined,
      connectionTimeout: 10_000,
      greetingTimeout: 10_000,
      socketTimeout: 30_000,
      tls: { rejectUnauthorized: url.searchParams.get('tls') !== 'insecure' },
    });
  }
}
