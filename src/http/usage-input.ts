import {
  type GraphQLInputObjectType,
  type GraphQLScalarType,
  getNullableType,
  isNonNullType,
  isScalarType,
} from 'graphql';

/** A coercion that answers the coerced value, or undefined for anything it does not take as it is. */
export type FastCoercion<T> = (value: unknown) => T | undefined;

interface ScalarField {
  name: string;
  scalar: GraphQLScalarType;
  required: boolean;
}

/**
 * What GraphQL's `coerceInputValue` answers for an input object whose fields are all scalars without defaults
 * (`RecordUsageInput`), for the values it accepts as they are: the same scalars' `parseValue`, the same fields.
 * `coerceInputValue` walks the type for every value (a path object per field, a dictionary-mode object per
 * record): 11 % of the service's CPU on `POST /usage/batch` of 100 (profiled 2026-12-07, ADR 0034's amendment).
 * Anything else (a field missing, unknown, or null where required; a scalar refusing its value; not an object)
 * answers undefined, and the caller runs `coerceInputValue` itself, whose error names the field: the answers and
 * refusals are GraphQL's, only the accepted values' cost is not. Null when the type has a field this does not
 * handle (a list, an input object, an enum, a default): the caller always uses `coerceInputValue` then.
 */
export function compileScalarObjectCoercion(
  type: GraphQLInputObjectType,
): FastCoercion<Record<string, unknown>> | null {
  const fields: ScalarField[] = [];
  for (const field of Object.values(type.getFields())) {
    const scalar = getNullableType(field.type);
    if (!isScalarType(scalar) || field.defaultValue !== undefined || type.isOneOf) return null;
    fields.push({ name: field.name, scalar, required: isNonNullType(field.type) });
  }
  return (value) => coerceScalarObject(value, fields);
}

/** A list of such objects, as `coerceInputValue` coerces `[T!]!` (a value that is not a list: undefined). */
export function listCoercion<T>(item: FastCoercion<T>): FastCoercion<T[]> {
  return (value) => {
    if (!Array.isArray(value)) return undefined;
    const coerced: T[] = new Array(value.length);
    for (let index = 0; index < value.length; index++) {
      const one = item(value[index]);
      if (one === undefined) return undefined;
      coerced[index] = one;
    }
    return coerced;
  };
}

function coerceScalarObject(value: unknown, fields: ScalarField[]): Record<string, unknown> | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const given = value as Record<string, unknown>;
  const coerced: Record<string, unknown> = {};
  let present = 0;
  for (const { name, scalar, required } of fields) {
    const raw = given[name];
    if (raw === undefined) {
      if (required) return undefined;
      continue;
    }
    present++;
    if (raw === null) {
      if (required) return undefined;
      coerced[name] = null;
      continue;
    }
    const parsed = parsedOrUndefined(scalar, raw);
    if (parsed === undefined) return undefined;
    coerced[name] = parsed;
  }
  // More keys than fields given: one is not a field, GraphQL's to refuse.
  return Object.keys(given).length === present ? coerced : undefined;
}

function parsedOrUndefined(scalar: GraphQLScalarType, raw: unknown): unknown {
  try {
    return scalar.parseValue(raw);
  } catch {
    return undefined;
  }
}
