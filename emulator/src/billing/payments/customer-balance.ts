/**
 * `/v1/customers/:id/balance_transactions` (https://docs.stripe.com/api/customer_balance_transactions): the
 * ledger of a customer's credit balance. A negative `amount` is a credit (the customer is owed it), applied to
 * the next invoice when it is finalized; `customer.balance` is the running total (`ending_balance`). A manual
 * transaction is an `adjustment`; a credit note's `credit_amount` writes a `credit_note` transaction
 * (CustomerBalanceTransaction.type in the SDK). A change of the balance is a `customer.updated`.
 */
import type Stripe from 'stripe';
import { invalidRequest, missingParam } from '../../core/errors';
import type { ApiRequest, Route } from '../../core/http';
import { paginate } from '../../core/list';
import { requireCustomer } from '../../resources/common';
import { type Emulator, emit, id, now } from '../context';
import { COLLECTIONS } from '../../core/collections';

export interface BalanceEntry {
  customerId: string;
  amount: number;
  currency: string;
  type: Stripe.CustomerBalanceTransaction.Type;
  description: string | null;
  creditNote?: string | null;
  invoice?: string | null;
  metadata?: Stripe.Metadata;
}

/** Writes one transaction and moves the customer's balance by its amount. */
export function addBalanceTransaction(
  emulator: Emulator,
  entry: BalanceEntry,
): Stripe.CustomerBalanceTransaction {
  const customer = requireCustomer(emulator, entry.customerId);
  const transaction: Stripe.CustomerBalanceTransaction = {
    id: id('cbtxn'),
    object: 'customer_balance_transaction',
    amount: entry.amount,
    checkout_session: null,
    created: now(emulator, customer.id),
    credit_note: entry.creditNote ?? null,
    currency: entry.currency,
    customer: customer.id,
    customer_account: null,
    description: entry.description,
    ending_balance: (customer.balance ?? 0) + entry.amount,
    invoice: entry.invoice ?? null,
    livemode: false,
    metadata: entry.metadata ?? {},
    type: entry.type,
  };
  emulator.store.insert(COLLECTIONS.customerBalanceTransaction, transaction);
  const { obj, previous } = emulator.store.update(COLLECTIONS.customer, customer.id, (c) => {
    c.balance = transaction.ending_balance;
  });
  emit(emulator, 'customer.updated', obj, previous);
  return transaction;
}

function createAdjustment({ emulator, input, pathParams }: ApiRequest): Stripe.CustomerBalanceTransaction {
  const amount = input.int('amount');
  if (amount === undefined) throw missingParam('amount');
  const currency = input.str('currency');
  if (!currency) throw missingParam('currency');
  if (amount === 0) throw invalidRequest('The amount must not be zero.', 'amount');
  return addBalanceTransaction(emulator, {
    customerId: requireCustomer(emulator, pathParams.id, 'id').id,
    amount,
    currency: currency.toLowerCase(),
    type: 'adjustment',
    description: input.str('description') ?? null,
    metadata: input.metadata({}),
  });
}

function requireTransaction(req: ApiRequest): Stripe.CustomerBalanceTransaction {
  const transaction = req.emulator.store.require(
    COLLECTIONS.customerBalanceTransaction,
    req.pathParams.transaction,
    'customer_balance_transaction',
  );
  if (transaction.customer !== req.pathParams.id)
    throw invalidRequest(
      `No such customer balance transaction: '${req.pathParams.transaction}'`,
      'id',
      'resource_missing',
    );
  return transaction;
}

export const routes: Route[] = [
  {
    method: 'POST',
    path: '/v1/customers/:id/balance_transactions',
    params: ['amount', 'currency', 'description', 'metadata'],
    handler: createAdjustment,
  },
  {
    method: 'GET',
    path: '/v1/customers/:id/balance_transactions',
    params: ['limit', 'starting_after', 'ending_before', 'created', 'invoice'],
    handler: (req) => {
      requireCustomer(req.emulator, req.pathParams.id, 'id');
      const invoice = req.input.str('invoice');
      const items = req.emulator.store
        .all(COLLECTIONS.customerBalanceTransaction)
        .filter((t) => t.customer === req.pathParams.id && (!invoice || t.invoice === invoice));
      return paginate(items, req.input, req.path);
    },
  },
  {
    method: 'GET',
    path: '/v1/customers/:id/balance_transactions/:transaction',
    params: [],
    handler: requireTransaction,
  },
];
