/**
 * The Mailer contract against both adapters: the outbox folder (the embedded default) and
 * SMTP through nodemailer against a real SMTP server on a socket, one per test.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { OutboxMailer } from '../../src/adapters/mail/outbox-mailer.js';
import { SmtpMailer } from '../../src/adapters/mail/smtp-mailer.js';
import { deadPort } from '../helpers/net.js';
import { parseMail, startSmtp, type ReceivedMail } from '../helpers/smtp.js';
import type { FixtureFactory } from './fixture.js';
import {
  describeMailerContract,
  MAIL_FROM,
  type MailerPromises,
  type MailerUnderTest,
} from './mailer.contract.js';

/** A temp folder per test; every `open` is a new mailer (another process) on it. */
const outbox: FixtureFactory<MailerUnderTest> = async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'orderflow-outbox-'));
  // A folder the mailer creates on its first send.
  const folder = path.join(dir, 'outbox');
  const delivered = async (): Promise<ReceivedMail[]> => {
    const files = (await fs.readdir(folder)).filter((file) => file.endsWith('.eml')).sort();
    const raws = await Promise.all(
      files.map((file) => fs.readFile(path.join(folder, file), 'utf8')),
    );
    return raws.map((raw) => parseMail(raw));
  };
  return {
    open: () => ({ mailer: new OutboxMailer(folder, MAIL_FROM), delivered }),
    dispose: () => fs.rm(dir, { recursive: true, force: true }),
  };
};

/** An SMTP server per test; every `open` is a new mailer (another process) sending to it. */
const smtp: FixtureFactory<MailerUnderTest> = async () => {
  const sink = await startSmtp();
  const opened: SmtpMailer[] = [];
  return {
    open: () => {
      const mailer = new SmtpMailer(sink.url, MAIL_FROM);
      opened.push(mailer);
      // The server has the message before it answers the DATA command the send waits for.
      return { mailer, delivered: () => Promise.resolve(sink.messages()) };
    },
    async dispose() {
      await Promise.all(opened.map((mailer) => mailer.close()));
      await sink.close();
    },
  };
};

const MAILERS: readonly {
  name: string;
  factory: FixtureFactory<MailerUnderTest>;
  promises: MailerPromises;
}[] = [
  {
    name: 'outbox',
    factory: outbox,
    promises: {
      copiesOfOneIdSentTwice: 1,
      // Its folder cannot be made: a file stands where the folder should be.
      down: async () => {
        const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'orderflow-outbox-down-'));
        await fs.writeFile(path.join(dir, 'outbox'), 'not a folder');
        return new OutboxMailer(path.join(dir, 'outbox'), MAIL_FROM);
      },
    },
  },
  {
    name: 'SMTP',
    factory: smtp,
    promises: {
      copiesOfOneIdSentTwice: 2,
      down: async () => new SmtpMailer(`smtp://127.0.0.1:${await deadPort()}`, MAIL_FROM),
    },
  },
];

for (const mailer of MAILERS) describeMailerContract(mailer.name, mailer.factory, mailer.promises);
