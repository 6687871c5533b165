import { IsIn, IsString, MaxLength } from 'class-validator';
import { Field, ID, InputType, Int, InterfaceType, ObjectType, registerEnumType } from 'type-graphql';

@ObjectType({ description: 'One tax of an invoice or preview, per rate (Stripe Tax)' })
export class TaxLine {
  @Field(() => Int, { description: 'Minor units of `currency`' })
  amount!: number;

  @Field(() => String)
  currency!: string;

  @Field(() => Int, {
    description: 'What the tax was computed on: the lines after their discounts (minor units)',
  })
  taxableAmount!: number;

  @Field(() => String, {
    description: 'The rate in percent as a decimal string ("23", "7.25"), exactly as Stripe states it',
  })
  ratePercent!: string;

  @Field(() => String, { nullable: true, description: 'Where the tax is owed (IE, DE, California)' })
  jurisdiction!: string | null;

  @Field(() => String, { description: "The rate's name (VAT, Sales Tax)" })
  name!: string;

  @Field(() => String, {
    nullable: true,
    description:
      "Stripe's taxability reason: standard_rated, reverse_charge, customer_exempt, not_collecting, …",
  })
  taxabilityReason!: string | null;
}

/** The tax of an invoice, a preview or the next bill: the same three fields on each (Stripe Tax). */
@InterfaceType({ description: 'The tax of an invoice, a preview or the next bill (Stripe Tax)' })
export abstract class TaxSummary {
  @Field(() => [TaxLine], { description: 'Each tax per rate (Stripe Tax); empty without tax' })
  taxLines!: TaxLine[];

  @Field(() => Boolean, {
    description:
      'True when the customer accounts for the VAT (a verified VAT ID of another EU country): tax is 0',
  })
  reverseCharge!: boolean;

  @Field(() => String, {
    nullable: true,
    description:
      'The note the invoice carries for a reverse charge ("Reverse charge", as Stripe prints it); else null',
  })
  reverseChargeNote!: string | null;
}

@ObjectType({ description: 'A tax ID of the customer (a VAT number), kept and verified by Stripe' })
export class TaxId {
  @Field(() => ID, { description: 'The Stripe tax ID id (txi_…)' })
  id!: string;

  @Field(() => String, { description: 'eu_vat, gb_vat, …' })
  type!: string;

  @Field(() => String)
  value!: string;

  @Field(() => String, {
    nullable: true,
    description:
      "Stripe's check of an EU or GB VAT number: pending, verified, unverified or unavailable; null for other types. Only a verified VAT ID of another EU country makes an invoice reverse charge",
  })
  verification!: string | null;
}

export enum TaxIdType {
  eu_vat = 'eu_vat',
  gb_vat = 'gb_vat',
  ch_vat = 'ch_vat',
  no_vat = 'no_vat',
  us_ein = 'us_ein',
  au_abn = 'au_abn',
  ca_bn = 'ca_bn',
}
registerEnumType(TaxIdType, { name: 'TaxIdType', description: "Stripe's tax ID types this API takes" });

@InputType()
export class AddTaxIdInput {
  @Field(() => TaxIdType)
  @IsIn(Object.values(TaxIdType))
  type!: TaxIdType;

  @Field(() => String, {
    description: 'The number with its country prefix for VAT (DE123456789); Stripe checks it',
  })
  @IsString()
  @MaxLength(64)
  value!: string;
}
