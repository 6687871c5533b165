export { MailWorker, type MailWorkerOptions } from './mail-worker';
export {
  createMailTransport,
  LogTransport,
  MailDeliveryError,
  type MailTransport,
  type OutgoingMail,
  SmtpTransport,
} from './mail-transport';
export {
  dedupeKeyOf,
  InvalidNotificationError,
  type NotificationMessage,
  type NotificationMessageInput,
  parseNotificationMessage,
} from './messages';
export { type EnqueueResult, type NotificationRequest, Notifier } from './notifier';
export { formatDate, type RenderedMail, renderNotification } from './templates';
export { BillingMails, type FailedInvoice, type NotifiedSubscription } from './billing-mails';
