/** Request checks with Nova's jsonschema-style 400 messages. */
import type { HttpError } from "../http/errors";
import { novaError } from "./compute";

export function schemaError(field: string, value: unknown, reason: string): HttpError {
  return novaError(400, `Invalid input for field/attribute ${field}. Value: ${JSON.stringify(value)}. ${reason}`);
}

/**
 * Nova's `name` format: printable characters only (no Unicode "other" category, no line or
 * paragraph separators), and no leading or trailing whitespace.
 */
const PRINTABLE = /^[^\p{C}\p{Zl}\p{Zp}]*$/u;
const INVALID_NAME = "An invalid 'name' value was provided. The name must be: printable characters. Can not start or end with whitespace.";

function printableName(value: string): boolean {
  return PRINTABLE.test(value) && !/^\s|\s$/.test(value);
}

export function zoneValue(value: unknown): string | null | undefined {
  if (value === undefined || value === null) return value;
  if (typeof value !== "string" || value.length < 1 || value.length > 255) {
    throw schemaError("availability_zone", value, `${JSON.stringify(value)} is not a valid availability zone name`);
  }
  if (!printableName(value)) throw novaError(400, INVALID_NAME);
  if (value.includes(":")) throw schemaError("availability_zone", value, `'${value}' does not match '^[^:]*$'`);
  return value;
}

export function nameValue(value: unknown, field = "name"): string {
  if (typeof value !== "string" || value.trim().length === 0 || value.length > 255) {
    throw schemaError(field, value, value === undefined ? `'${field}' is a required property` : `${JSON.stringify(value)} is not a valid name`);
  }
  if (!printableName(value)) throw field === "name" ? novaError(400, INVALID_NAME) : schemaError(field, value, `${JSON.stringify(value)} is not a valid ${field}`);
  return value;
}

/** jsonschema's `additionalProperties: false`; `field` names the object when it is not the body itself. */
export function noExtraKeys(obj: Record<string, unknown>, allowed: readonly string[], field?: string): void {
  const extra = Object.keys(obj).filter((k) => !allowed.includes(k));
  if (extra.length === 0) return;
  const reason = `Additional properties are not allowed (${extra.map((k) => `'${k}'`).join(", ")} ${extra.length === 1 ? "was" : "were"} unexpected)`;
  throw field === undefined ? novaError(400, reason) : schemaError(field, obj, reason);
}
