/** Request checks with Nova's jsonschema-style 400 messages. */
import type { HttpError } from "../http/errors";
import { novaError } from "./compute";

export function schemaError(field: string, value: unknown, reason: string): HttpError {
  return novaError(400, `Invalid input for field/attribute ${field}. Value: ${JSON.stringify(value)}. ${reason}`);
}

export function zoneValue(value: unknown): string | null | undefined {
  if (value === undefined || value === null) return value;
  if (typeof value !== "string" || value.length < 1 || value.length > 255) {
    throw schemaError("availability_zone", value, `${JSON.stringify(value)} is not a valid availability zone name`);
  }
  if (value.includes(":")) throw schemaError("availability_zone", value, `'${value}' does not match '^[^:]*$'`);
  return value;
}

export function nameValue(value: unknown, field = "name"): string {
  if (typeof value !== "string" || value.trim().length === 0 || value.length > 255) {
    throw schemaError(field, value, value === undefined ? `'${field}' is a required property` : `${JSON.stringify(value)} is not a valid name`);
  }
  return value;
}
