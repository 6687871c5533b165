import { formatMoney } from '../../money';
import type {
  AutoTopUpFailedData,
  DisputeClosedData,
  DisputeOpenedData,
  DuplicateSubscriptionCanceledData,
  NotificationMessage,
  PaymentActionRequiredData,
  PaymentFailedData,
  SpendLimitAlertData,
  SubscriptionCanceledData,
  TrialWillEndData,
  UsageThresholdData,
} from './messages';

/** A mail's content: the subject, a plain-text body and the same in simple HTML. */
export interface RenderedMail {
  subject: string;
  text: string;
  html: string;
}

/** Mails are written in US English; amounts are formatted by `src/money`, in the same locale by default. */
const LOCALE = 'en-US';

/** A date for a reader, in UTC so every instance writes the same mail: "December 3, 2026". */
export function formatDate(date: Date): string {
  return new Intl.DateTimeFormat(LOCALE, { dateStyle: 'long', timeZone: 'UTC' }).format(date);
}

function formatCount(value: number): string {
  return new Intl.NumberFormat(LOCALE).format(value);
}

/** The mail for a checked message. Pure: the same message always renders the same mail. */
export function renderNotification(message: NotificationMessage): RenderedMail {
  switch (message.kind) {
    case 'payment_failed':
      return paymentFailed(message.data);
    case 'trial_will_end':
      return trialWillEnd(message.data);
    case 'subscription_canceled':
      return subscriptionCanceled(message.data);
    case 'usage_threshold':
      return usageThreshold(message.data);
    case 'payment_action_required':
      return paymentActionRequired(message.data);
    case 'duplicate_subscription_canceled':
      return duplicateSubscriptionCanceled(message.data);
    case 'dispute_opened':
      return disputeOpened(message.data);
    case 'dispute_closed':
      return disputeClosed(message.data);
    case 'auto_top_up_failed':
      return autoTopUpFailed(message.data);
    case 'spend_limit_alert':
      return spendLimitAlert(message.data);
  }
}

/** A body as paragraphs, and optionally one link; becomes both the text and the HTML part. */
interface Body {
  paragraphs: string[];
  link?: { label: string; url: string } | null;
}

function mail(subject: string, body: Body): RenderedMail {
  const link = body.link ?? null;
  const textParts = [...body.paragraphs, ...(link ? [`${link.label}: ${link.url}`] : []), SIGNATURE];
  const htmlParts = [
    ...body.paragraphs.map((paragraph) => `<p>${escapeHtml(paragraph)}</p>`),
    ...(link ? [`<p><a href="${escapeHtml(link.url)}">${escapeHtml(link.label)}</a></p>`] : []),
    `<p style="color:#666">${escapeHtml(SIGNATURE)}</p>`,
  ];
  return {
    subject,
    text: `${textParts.join('\n\n')}\n`,
    html: `<!doctype html>\n<html><body style="font-family:sans-serif;line-height:1.5">\n${htmlParts.join('\n')}\n</body></html>\n`,
  };
}

const SIGNATURE = '— CODITECT Billing';

function paymentFailed(data: PaymentFailedData): RenderedMail {
  const amount = formatMoney(data.amountDue, data.currency);
  const invoice = data.invoiceNumber ? `invoice ${data.invoiceNumber}` : 'your invoice';
  const plan = data.planName ? ` for your ${data.planName} plan` : '';
  const retry = data.nextPaymentAttemptAt
    ? `We will try the payment again on ${formatDate(data.nextPaymentAttemptAt)}. To avoid an interruption, please update your payment method before then.`
    : 'We will not try this payment again automatically: please pay the invoice or update your payment method to keep your subscription.';
  return mail(`Payment failed: ${amount} due`, {
    paragraphs: [`We could not collect the payment of ${amount} for ${invoice}${plan}.`, retry],
    link: data.hostedInvoiceUrl ? { label: 'Pay the invoice', url: data.hostedInvoiceUrl } : null,
  });
}

function trialWillEnd(data: TrialWillEndData): RenderedMail {
  const endsOn = formatDate(data.trialEndsAt);
  const charge =
    data.amountAfterTrial !== null && data.currency !== null
      ? ` Your first payment of ${formatMoney(data.amountAfterTrial, data.currency)} will be charged then.`
      : '';
  const next = data.hasPaymentMethod
    ? `Your subscription continues automatically.${charge}`
    : 'No payment method is on file: add one before then to keep your plan, or the account moves to the free plan.';
  return mail(`Your ${data.planName} trial ends on ${endsOn}`, {
    paragraphs: [`Your free trial of the ${data.planName} plan ends on ${endsOn}.`, next],
  });
}

function subscriptionCanceled(data: SubscriptionCanceledData): RenderedMail {
  const endedOn = formatDate(data.endedAt);
  return mail(`Your ${data.planName} subscription has been canceled`, {
    paragraphs: [
      `Your ${data.planName} subscription has been canceled; access to its features ended on ${endedOn}.`,
      'Your account continues on the free plan. You can subscribe again at any time.',
    ],
  });
}

function usageThreshold(data: UsageThresholdData): RenderedMail {
  const figures = `${formatCount(data.used)} of ${formatCount(data.included)} ${data.metricLabel}`;
  const period = `the current billing period, which ends on ${formatDate(data.periodEnd)}`;
  const reached = data.thresholdPercent >= 100;
  const consequence = !reached
    ? 'No action is needed yet; consider upgrading if you expect to need more.'
    : data.overLimit === 'block'
      ? `Further ${data.metricLabel} are refused until the period ends, unless you upgrade your plan.`
      : `Further ${data.metricLabel} are billed as overage on your next invoice.`;
  return mail(
    reached
      ? `You have used all ${formatCount(data.included)} ${data.metricLabel} of your ${data.planName} plan`
      : `You have used ${data.thresholdPercent}% of your ${data.metricLabel}`,
    {
      paragraphs: [
        `You have used ${figures} (${Math.floor((data.used / data.included) * 100)}%) included in your ${data.planName} plan for ${period}.`,
        consequence,
      ],
    },
  );
}

function paymentActionRequired(data: PaymentActionRequiredData): RenderedMail {
  const amount = formatMoney(data.amountDue, data.currency);
  const invoice = data.invoiceNumber ? `invoice ${data.invoiceNumber}` : 'your invoice';
  const plan = data.planName ? ` for your ${data.planName} plan` : '';
  return mail(`Please confirm your payment of ${amount}`, {
    paragraphs: [
      `Your bank asks you to confirm the payment of ${amount} for ${invoice}${plan}.`,
      'The payment stays pending until you confirm it: open the invoice and follow your bank’s steps.',
    ],
    link: data.hostedInvoiceUrl ? { label: 'Confirm the payment', url: data.hostedInvoiceUrl } : null,
  });
}

function duplicateSubscriptionCanceled(data: DuplicateSubscriptionCanceledData): RenderedMail {
  const money = data.wasTrialing
    ? 'It was still in its free trial, so nothing was charged for it.'
    : data.amountRefunded > 0
      ? `We refunded what it charged, ${formatMoney(data.amountRefunded, data.currency)}, in full to the card it was paid with. Refunds usually appear on a statement within 5 to 10 business days.`
      : 'Nothing had been charged for it.';
  return mail(`We cancelled a second ${data.planName} subscription`, {
    paragraphs: [
      `Your account was subscribed twice to the ${data.planName} plan (for example, by paying in two browser tabs). An account needs only one subscription, so we cancelled the second one.`,
      money,
      'Your first subscription continues unchanged.',
    ],
  });
}

function disputeOpened(data: DisputeOpenedData): RenderedMail {
  const amount = formatMoney(data.amount, data.currency);
  const due = data.evidenceDueBy
    ? `Evidence is due by ${formatDate(data.evidenceDueBy)}; without it the dispute is lost.`
    : 'Stripe gives no deadline for evidence on this one.';
  return mail(`Dispute opened: ${amount} (${data.reason})`, {
    paragraphs: [
      `A customer's bank opened dispute ${data.disputeId} over ${amount}, reason ${data.reason}, status ${data.status}.`,
      `Charge ${data.chargeId}${data.invoiceId ? `, invoice ${data.invoiceId}` : ''}, account ${data.accountId ?? 'not one of ours'}.`,
      due,
      'The account keeps its subscription: answer the dispute (or accept it) in the Stripe Dashboard.',
    ],
  });
}

function disputeClosed(data: DisputeClosedData): RenderedMail {
  const amount = formatMoney(data.amount, data.currency);
  return mail(`Dispute closed (${data.status}): ${amount}`, {
    paragraphs: [
      `Dispute ${data.disputeId} over ${amount} (reason ${data.reason}) is closed: ${data.status}.`,
      `Charge ${data.chargeId}, account ${data.accountId ?? 'not one of ours'}.`,
    ],
  });
}

function escapeHtml(value: string): string {
  return value
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

function autoTopUpFailed(data: AutoTopUpFailedData): RenderedMail {
  const amount = formatMoney(data.amount, data.currency);
  const approval = data.reason === 'authentication_required';
  return mail('Your automatic credit top-up stopped', {
    paragraphs: [
      approval
        ? `Your bank asks you to approve the payment of ${amount} for ${data.packName} (${data.credits.toLocaleString('en-US')} credits), so we could not charge it automatically.`
        : data.reason === 'spend_limit_reached'
          ? `We did not charge ${amount} for ${data.packName} (${data.credits.toLocaleString('en-US')} credits): it would pass the spend limit you set for this billing period.`
          : `We could not charge ${amount} for ${data.packName} (${data.credits.toLocaleString('en-US')} credits) to your saved card (${data.reason.replaceAll('_', ' ')}).`,
      'Automatic top-up is now off, so nothing more is charged. Your AI calls keep running while your credits last: buy credits or turn automatic top-up on again on your billing page.',
    ],
    link: data.hostedInvoiceUrl ? { label: 'Approve the payment', url: data.hostedInvoiceUrl } : null,
  });
}

function spendLimitAlert(data: SpendLimitAlertData): RenderedMail {
  const spent = formatMoney(data.spentCents, data.currency);
  const limit = formatMoney(data.limitCents, data.currency);
  const reached = data.thresholdPercent >= 100;
  return mail(
    reached
      ? `You have reached your spend limit of ${limit}`
      : `You have used 80% of your spend limit of ${limit}`,
    {
      paragraphs: [
        `This billing period you have spent ${spent} beyond your plan (AI credits billed as overage and automatic top-ups), against a limit of ${limit}. The period ends on ${formatDate(data.periodEnd)}.`,
        reached
          ? 'AI calls your credits cannot cover are now refused, and automatic top-ups stop, until the period ends. Buy credits or raise the limit on your billing page to keep working.'
          : 'Nothing is refused yet. When the limit is reached, AI calls your credits cannot cover are refused: raise the limit on your billing page if you expect to need more.',
      ],
    },
  );
}
