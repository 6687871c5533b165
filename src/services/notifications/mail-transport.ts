import {
  createTransport,
  type SMTPSentMessageInfo,
  type SMTPTransportOptions,
  type Transporter,
} from 'nodemailer';
import type { Config } from '../../config';
import type { Logger } from '../../logging/logger';

/** One mail, ready to go. */
export interface OutgoingMail {
  from: string;
  to: string;
  subject: string;
  text: string;
  html: string;
  /** `<…@…>`: stable per notification, so a repeated delivery is recognisably the same mail. */
  messageId: string;
  headers: Record<string, string>;
}

/** Where mails go: an SMTP server, or (in development) the log. */
export interface MailTransport {
  readonly name: 'smtp' | 'log' | (string & {});
  /** Resolves once the receiving server accepted the mail; rejects with `MailDeliveryError` otherwise. */
  send(mail: OutgoingMail): Promise<void>;
  close(): Promise<void>;
}

/** A failed delivery. `permanent`: the server refused this mail for good (e.g. 550 unknown recipient). */
export class MailDeliveryError extends Error {
  override name = 'MailDeliveryError';

  constructor(
    message: string,
    readonly permanent: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Timeouts well inside the worker's lease, so a hung server fails the attempt instead of outliving the claim. */
const SMTP_TIMEOUTS = { connectionTimeout: 15_000, greetingTimeout: 15_000, socketTimeout: 60_000 };

/** Sends through an SMTP server given as a URL (`smtp://user:pass@host:587`, `smtps://…:465`). */
export class SmtpTransport implements MailTransport {
  readonly name = 'smtp';
  private readonly transporter: Transporter<SMTPSentMessageInfo, SMTPTransportOptions>;

  constructor(smtpUrl: string) {
    // One connection per mail: notification volume is low, and nothing stale survives between mails.
    this.transporter = createTransport({ url: smtpUrl, ...SMTP_TIMEOUTS });
  }

  async send(mail: OutgoingMail): Promise<void> {
    try {
      await this.transporter.sendMail({
        from: mail.from,
        to: mail.to,
        subject: mail.subject,
        text: mail.text,
        html: mail.html,
        messageId: mail.messageId,
        headers: mail.headers,
      });
    } catch (error) {
      throw toDeliveryError(error);
    }
  }

  async close(): Promise<void> {
    this.transporter.close();
  }
}

/**
 * Only a rejection of this very mail (its recipient or its content) with a permanent reply is final. Anything
 * else, including a refused login (a configuration error that affects every mail), is worth retrying.
 */
function toDeliveryError(error: unknown): MailDeliveryError {
  if (!(error instanceof Error)) return new MailDeliveryError(String(error), false);
  const code = 'code' in error && typeof error.code === 'string' ? error.code : undefined;
  const permanentReply = 'permanent' in error && error.permanent === true;
  const aboutThisMail = code === 'EENVELOPE' || code === 'EMESSAGE';
  return new MailDeliveryError(error.message, permanentReply && aboutThisMail, { cause: error });
}

/** Development: writes who would get which mail as a log line (never the body), and sends nothing. */
export class LogTransport implements MailTransport {
  readonly name = 'log';

  constructor(private readonly logger: Logger) {}

  async send(mail: OutgoingMail): Promise<void> {
    this.logger.info(
      { mail: { to: mail.to, subject: mail.subject, messageId: mail.messageId } },
      'mail not sent (no SMTP_URL): logged instead',
    );
  }

  async close(): Promise<void> {}
}

/** SMTP when `SMTP_URL` is set, else the log transport (with a warning in production, where mail must leave). */
export function createMailTransport(
  config: Pick<Config, 'mail' | 'isProduction'>,
  logger: Logger,
): MailTransport {
  if (config.mail.smtpUrl) return new SmtpTransport(config.mail.smtpUrl);
  if (config.isProduction) logger.warn({}, 'SMTP_URL is not set: notification mails are logged, not sent');
  return new LogTransport(logger);
}
