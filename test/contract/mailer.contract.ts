import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RetryableError } from '../../src/domain/errors.js';
import type { Mail, Mailer } from '../../src/ports/mailer.js';
import { mimeParts } from '../helpers/mime.js';
import type { ReceivedMail } from '../helpers/smtp.js';
import { systemClock, type Fixture, type FixtureFactory } from './fixture.js';

/** The sender every fixture's mailer is configured with (`ORDERFLOW_MAIL_FROM`). */
export const MAIL_FROM = 'orderflow shop <shop@example.com>';

/** A mailer and the other side of it: what has arrived so far. */
export interface MailerUnderTest {
  readonly mailer: Mailer;
  /** Every message delivered so far (an outbox file, a message the SMTP server accepted). */
  delivered(): Promise<ReceivedMail[]>;
}

/** What an adapter promises beyond the port's words. */
export interface MailerPromises {
  /**
   * Copies that arrive of one id sent twice: the port asks for "one message to deliver",
   * which the outbox keeps as one file, and SMTP (no way to take a message back) as every
   * send handed over under the same Message-ID, by which mail clients keep one.
   */
  readonly copiesOfOneIdSentTwice: number;
  /** A mailer that cannot deliver now: its server is down, or its folder cannot be written. */
  readonly down?: () => Promise<Mailer>;
}

/** A status mail of a fresh order: non-ASCII in the subject and the bodies, two text lines. */
function mailOf(status = 'COMPLETED'): Mail {
  const orderId = `ord-${randomUUID()}`;
  return {
    id: `${orderId}.${status}`,
    to: 'buyer@example.com',
    subject: `Order ${orderId} ${status} — thank you`,
    text: `2 × A123 at 19.99 USD\nTotal: 39.98 USD`,
    html: `<p>2 × A123 at 19.99 USD</p>\n<p>Total: <strong>39.98 USD</strong></p>`,
  };
}

const messageIdOf = (mail: Mail): string => `<${mail.id}@orderflow>`;

/**
 * What every Mailer must do: deliver a mail as one message with its sender, recipient,
 * subject, a Message-ID derived from the mail's id and both alternatives; keep one id one
 * message however often it is sent; and say that a server that is down may work later.
 */
export function describeMailerContract(
  name: string,
  factory: FixtureFactory<MailerUnderTest>,
  promises: MailerPromises,
): void {
  describe(`${name} Mailer`, () => {
    let fixture: Fixture<MailerUnderTest>;
    let target: MailerUnderTest;

    beforeEach(async () => {
      fixture = await factory();
      target = fixture.open(systemClock);
    });

    afterEach(async () => {
      await fixture.dispose();
    });

    it('delivers a mail as one message: From, To, Subject, Message-ID, text and HTML', async () => {
      const mail = mailOf();
      await target.mailer.send(mail);
      const [message, ...more] = await target.delivered();
      expect(more).toEqual([]);
      expect(message).toMatchObject({ from: MAIL_FROM, to: mail.to, subject: mail.subject });
      expect(message?.headers.get('message-id')).toBe(messageIdOf(mail));
      expect(message?.headers.get('content-type')).toMatch(/^multipart\/alternative;/);
      expect(mimeParts(message?.raw ?? '')).toEqual([
        { type: 'text/plain', body: mail.text },
        { type: 'text/html', body: mail.html },
      ]);
    });

    it('keeps one id one message when it is sent again, also by another process', async () => {
      const mail = mailOf();
      await target.mailer.send(mail);
      await fixture.open(systemClock).mailer.send(mail);
      const copies = await target.delivered();
      expect(copies).toHaveLength(promises.copiesOfOneIdSentTwice);
      for (const copy of copies) {
        expect(copy.headers.get('message-id')).toBe(messageIdOf(mail));
        expect(copy.subject).toBe(mail.subject);
      }
    });

    it('delivers mails of different ids as different messages', async () => {
      const mails = [mailOf('COMPLETED'), mailOf('COMPLETED'), mailOf('REFUNDED')];
      for (const mail of mails) await target.mailer.send(mail);
      const ids = (await target.delivered()).map((message) => message.headers.get('message-id'));
      expect(ids.sort()).toEqual(mails.map(messageIdOf).sort());
    });

    const { down } = promises;
    if (down) {
      it('fails with a RetryableError, its cause kept, while the server is down', async () => {
        const mailer = await down();
        try {
          const failure = await mailer.send(mailOf()).catch((error: unknown) => error);
          expect(failure).toBeInstanceOf(RetryableError);
          expect((failure as RetryableError).cause).toBeInstanceOf(Error);
        } finally {
          await mailer.close();
        }
      });
    }
  });
}
