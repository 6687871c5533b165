import type { MigrationObject } from '@mikro-orm/core';
import { Migration20261207100000_credit_ledger } from './Migration20261207100000_credit_ledger';
import { Migration20261207120000_credit_member_limits } from './Migration20261207120000_credit_member_limits';
import { Migration20261207130000_credit_auto_top_up } from './Migration20261207130000_credit_auto_top_up';
import { Migration20261207140000_token_reservations } from './Migration20261207140000_token_reservations';
import { Migration20261207150000_credit_low_balance_alert } from './Migration20261207150000_credit_low_balance_alert';
import { Migration20261207160000_credit_spend_limit } from './Migration20261207160000_credit_spend_limit';
import { Migration20261207170000_credit_next_expiry } from './Migration20261207170000_credit_next_expiry';
import { Migration20261207180000_credit_hold_overage_price } from './Migration20261207180000_credit_hold_overage_price';
import { Migration20261207190000_credit_hold_max_output } from './Migration20261207190000_credit_hold_max_output';
import { Migration20261207191000_credit_top_up_claim } from './Migration20261207191000_credit_top_up_claim';
import { Migration20261207210000_usage_record_columns } from './Migration20261207210000_usage_record_columns';
import { Migration20261208142100_webhook_waiting_retry_index } from './Migration20261208142100_webhook_waiting_retry_index';
import { Migration20261208142300_usage_batch_unseen_keys } from './Migration20261208142300_usage_batch_unseen_keys';
import { Migration20261208150000_usage_batch_answers_by_counter } from './Migration20261208150000_usage_batch_answers_by_counter';
import { Migration20261208175000_usage_reservation_retention } from './Migration20261208175000_usage_reservation_retention';
import { Migration20261208176000_credit_hold_retention } from './Migration20261208176000_credit_hold_retention';
import { Migration20261206020100_webhook_payload_retention } from './Migration20261206020100_webhook_payload_retention';
import { Migration20261206020000_usage_record_partitions } from './Migration20261206020000_usage_record_partitions';
import { Migration20261205032711_checkout_sessions_disputes } from './Migration20261205032711_checkout_sessions_disputes';
import { Migration20261205032806_webhook_retry_policy } from './Migration20261205032806_webhook_retry_policy';
import { Migration20261205032812_overage_retries } from './Migration20261205032812_overage_retries';
import { Migration20261205034840_usage_integrity } from './Migration20261205034840_usage_integrity';
import { Migration20261206023000_usage_group_commit } from './Migration20261206023000_usage_group_commit';
import { Migration20261206031000_webhook_queue } from './Migration20261206031000_webhook_queue';
import { Migration20261206040000_invoice_action_required } from './Migration20261206040000_invoice_action_required';
import { Migration20261206051000_usage_record_statement } from './Migration20261206051000_usage_record_statement';
import { Migration20261206090000_subscription_pending_change } from './Migration20261206090000_subscription_pending_change';
import { Migration20261206092000_usage_reservation_statement } from './Migration20261206092000_usage_reservation_statement';
import { Migration20261206110000_subscription_seats } from './Migration20261206110000_subscription_seats';
import { Migration20261206111000_subscription_addons } from './Migration20261206111000_subscription_addons';
import { Migration20261206112000_customer_currency } from './Migration20261206112000_customer_currency';
import { Migration20261206113000_addon_units_at_period_end } from './Migration20261206113000_addon_units_at_period_end';
import { Migration20261127081113_usage_metering } from './Migration20261127081113_usage_metering';
import { Migration20261127060938 } from './Migration20261127060938';
import { Migration20261127055731 } from './Migration20261127055731';
import { Migration20261127053511 } from './Migration20261127053511';
import { Migration20261127061500_notifications } from './Migration20261127061500_notifications';

/**
 * Every migration, in the order it runs. `npm run db:migration:create` writes a new file and appends it here;
 * a test checks this list names every file in this folder.
 */
export const MIGRATIONS: MigrationObject[] = [
  { name: 'Migration20261127053511', class: Migration20261127053511 },
  { name: 'Migration20261127055731', class: Migration20261127055731 },
  { name: 'Migration20261127060938', class: Migration20261127060938 },
  { name: 'Migration20261127061500_notifications', class: Migration20261127061500_notifications },
  { name: 'Migration20261127081113_usage_metering', class: Migration20261127081113_usage_metering },
  {
    name: 'Migration20261205032711_checkout_sessions_disputes',
    class: Migration20261205032711_checkout_sessions_disputes,
  },
  {
    name: 'Migration20261205032806_webhook_retry_policy',
    class: Migration20261205032806_webhook_retry_policy,
  },
  { name: 'Migration20261205032812_overage_retries', class: Migration20261205032812_overage_retries },
  { name: 'Migration20261205034840_usage_integrity', class: Migration20261205034840_usage_integrity },
  {
    name: 'Migration20261206020000_usage_record_partitions',
    class: Migration20261206020000_usage_record_partitions,
  },
  {
    name: 'Migration20261206020100_webhook_payload_retention',
    class: Migration20261206020100_webhook_payload_retention,
  },
  { name: 'Migration20261206023000_usage_group_commit', class: Migration20261206023000_usage_group_commit },
  { name: 'Migration20261206031000_webhook_queue', class: Migration20261206031000_webhook_queue },
  {
    name: 'Migration20261206040000_invoice_action_required',
    class: Migration20261206040000_invoice_action_required,
  },
  {
    name: 'Migration20261206051000_usage_record_statement',
    class: Migration20261206051000_usage_record_statement,
  },
  {
    name: 'Migration20261206090000_subscription_pending_change',
    class: Migration20261206090000_subscription_pending_change,
  },
  {
    name: 'Migration20261206092000_usage_reservation_statement',
    class: Migration20261206092000_usage_reservation_statement,
  },
  {
    name: 'Migration20261206110000_subscription_seats',
    class: Migration20261206110000_subscription_seats,
  },
  { name: 'Migration20261206111000_subscription_addons', class: Migration20261206111000_subscription_addons },
  {
    name: 'Migration20261206112000_customer_currency',
    class: Migration20261206112000_customer_currency,
  },
  {
    name: 'Migration20261206113000_addon_units_at_period_end',
    class: Migration20261206113000_addon_units_at_period_end,
  },
  { name: 'Migration20261207100000_credit_ledger', class: Migration20261207100000_credit_ledger },
  {
    name: 'Migration20261207120000_credit_member_limits',
    class: Migration20261207120000_credit_member_limits,
  },
  {
    name: 'Migration20261207130000_credit_auto_top_up',
    class: Migration20261207130000_credit_auto_top_up,
  },
  {
    name: 'Migration20261207140000_token_reservations',
    class: Migration20261207140000_token_reservations,
  },
  {
    name: 'Migration20261207150000_credit_low_balance_alert',
    class: Migration20261207150000_credit_low_balance_alert,
  },
  {
    name: 'Migration20261207160000_credit_spend_limit',
    class: Migration20261207160000_credit_spend_limit,
  },
  {
    name: 'Migration20261207170000_credit_next_expiry',
    class: Migration20261207170000_credit_next_expiry,
  },
  {
    name: 'Migration20261207180000_credit_hold_overage_price',
    class: Migration20261207180000_credit_hold_overage_price,
  },
  {
    name: 'Migration20261207190000_credit_hold_max_output',
    class: Migration20261207190000_credit_hold_max_output,
  },
  {
    name: 'Migration20261207191000_credit_top_up_claim',
    class: Migration20261207191000_credit_top_up_claim,
  },
  {
    name: 'Migration20261207210000_usage_record_columns',
    class: Migration20261207210000_usage_record_columns,
  },
  {
    name: 'Migration20261208142100_webhook_waiting_retry_index',
    class: Migration20261208142100_webhook_waiting_retry_index,
  },
  {
    name: 'Migration20261208142300_usage_batch_unseen_keys',
    class: Migration20261208142300_usage_batch_unseen_keys,
  },
  {
    name: 'Migration20261208150000_usage_batch_answers_by_counter',
    class: Migration20261208150000_usage_batch_answers_by_counter,
  },
  {
    name: 'Migration20261208175000_usage_reservation_retention',
    class: Migration20261208175000_usage_reservation_retention,
  },
  {
    name: 'Migration20261208176000_credit_hold_retention',
    class: Migration20261208176000_credit_hold_retention,
  },
];
