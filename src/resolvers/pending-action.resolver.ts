import DataLoader from 'dataloader';
import { Ctx, FieldResolver, Resolver, Root } from 'type-graphql';
import type { RequestContext } from '../graphql/context';
import { Account } from '../schema/account.type';
import { PendingAction, PendingActionKind } from '../schema/pending-action.type';
import { BillingSubscription } from '../schema/subscription.type';
import type { InvoiceDetails } from '../services/invoices/invoice-details';
import type { PendingActions, PendingAuthentication } from '../services/invoices/pending-actions';
import { stripeRequired } from './stripe-required';

type PendingLoader = DataLoader<string, PendingAuthentication | null>;

/**
 * One loader of each kind per request, made on first use: one query however many parents. Kept beside the request's
 * own loaders, which a subscription replaces for each event (`startNextEvent`), so no event reads an older answer.
 */
const byAccount = new WeakMap<object, PendingLoader>();
const bySubscription = new WeakMap<object, PendingLoader>();

function loaderOf(
  cache: WeakMap<object, PendingLoader>,
  context: RequestContext,
  batch: (keys: readonly string[]) => Promise<(PendingAuthentication | null)[]>,
): PendingLoader {
  const scope = context.loaders;
  let loader = cache.get(scope);
  if (!loader) {
    loader = new DataLoader(batch);
    cache.set(scope, loader);
  }
  return loader;
}

function toPendingAction(pending: PendingAuthentication | null): PendingAction | null {
  const url = pending?.invoice.hostedInvoiceUrl;
  if (!pending || !url) return null;
  return {
    kind: PendingActionKind.AUTHENTICATE,
    url,
    expiresAt: pending.expiresAt,
    invoiceId: pending.invoice.stripeInvoiceId,
    amountDue: pending.invoice.amountDue,
    currency: pending.invoice.currency,
  };
}

@Resolver(() => Account)
export class AccountPendingActionResolver {
  constructor(private readonly pending: PendingActions) {}

  @FieldResolver(() => PendingAction, {
    nullable: true,
    description:
      "A payment waiting for the customer's approval (3-D Secure): a new subscription, an upgrade's prorated charge, or a renewal",
  })
  async pendingAction(
    @Root() account: Account,
    @Ctx() context: RequestContext,
  ): Promise<PendingAction | null> {
    context.requireAccountAccess(account.id);
    const loader = loaderOf(byAccount, context, (ids) => this.pending.ofAccounts(context.em, ids));
    return toPendingAction(await loader.load(account.id));
  }
}

@Resolver(() => BillingSubscription)
export class SubscriptionPendingActionResolver {
  constructor(private readonly pending: PendingActions) {}

  /** The subscription was reached through an account the caller may read (or a mutation of the caller's own). */
  @FieldResolver(() => PendingAction, {
    nullable: true,
    description: "This subscription's payment waiting for the customer's approval (3-D Secure), if any",
  })
  async pendingAction(
    @Root() subscription: BillingSubscription,
    @Ctx() context: RequestContext,
  ): Promise<PendingAction | null> {
    const loader = loaderOf(bySubscription, context, (ids) => this.pending.ofSubscriptions(context.em, ids));
    return toPendingAction(await loader.load(subscription.id));
  }
}

/**
 * What a team that confirms payments with Stripe.js (Elements) needs instead of `url`. Read from Stripe when asked
 * (never stored: a client secret is a credential of one payment), so a page that follows `url` costs no Stripe call.
 * The action was reached through an account or subscription the caller may read.
 */
@Resolver(() => PendingAction)
export class PendingActionSecretResolver {
  constructor(private readonly details: InvoiceDetails | null) {}

  @FieldResolver(() => String, {
    nullable: true,
    description:
      "For a page that uses Stripe.js (Elements) rather than `url`: the client secret of the invoice's payment intent, to confirm it with `stripe.confirmCardPayment` (or `handleNextAction`); read from Stripe when asked; null once the invoice is no longer open",
  })
  async clientSecret(@Root() action: PendingAction): Promise<string | null> {
    return stripeRequired(this.details).clientSecretOf(action.invoiceId);
  }
}
