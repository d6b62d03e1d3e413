/** Neutron's attribute conversion and validation, with its error messages. */
import { HttpError } from "../http/errors";
import { isObject } from "../util/ids";
import { parseIp } from "../util/ipv4";

export function neutronError(status: number, type: string, message: string): HttpError {
  return new HttpError(status, message, { type });
}

export function invalidInput(attr: string, reason: string): HttpError {
  return neutronError(400, "HTTPBadRequest", `Invalid input for ${attr}. Reason: ${reason}.`);
}

export function invalidOperation(reason: string): HttpError {
  return neutronError(400, "InvalidInput", `Invalid input for operation: ${reason}.`);
}

export type Converter = (value: unknown, attr: string) => unknown;

const repr = (v: unknown) => (typeof v === "string" ? `'${v}'` : JSON.stringify(v));

export const toBool: Converter = (v, attr) => {
  if (typeof v === "boolean") return v;
  if (typeof v === "string" && ["true", "false"].includes(v.toLowerCase())) return v.toLowerCase() === "true";
  if (v === 0 || v === 1) return v === 1;
  throw invalidInput(attr, `${repr(v)} cannot be converted to boolean`);
};

export const toString255: Converter = (v, attr) => {
  if (typeof v !== "string") throw invalidInput(attr, `${repr(v)} is not a valid string`);
  if (v.length > 255) throw invalidInput(attr, `${repr(v)} exceeds maximum length of 255`);
  return v;
};

export const toStringOrNull: Converter = (v, attr) => (v === null ? null : toString255(v, attr));

export const toInt: Converter = (v, attr) => {
  const n = typeof v === "string" && /^-?\d+$/.test(v) ? Number(v) : v;
  if (typeof n !== "number" || !Number.isInteger(n)) throw invalidInput(attr, `${repr(v)} is not an integer`);
  return n;
};

export const toStringList: Converter = (v, attr) => {
  if (!Array.isArray(v) || v.some((s) => typeof s !== "string")) throw invalidInput(attr, `${repr(v)} is not a list`);
  return [...v];
};

export const toIpOrNull: Converter = (v, attr) => {
  if (v === null) return null;
  if (parseIp(v) === null) throw invalidInput(attr, `${repr(v)} is not a valid IP address`);
  return v;
};

export const toIpList: Converter = (v, attr) => {
  if (!Array.isArray(v)) throw invalidInput(attr, `${repr(v)} is not a list`);
  for (const ip of v) if (parseIp(ip) === null) throw invalidInput(attr, `'${String(ip)}' is not a valid nameserver`);
  return [...v];
};

/** A list of objects, each with the `required` keys. */
export const toDictList =
  (required: string[]): Converter =>
  (v, attr) => {
    if (!Array.isArray(v)) throw invalidInput(attr, `${repr(v)} is not a list`);
    for (const item of v) {
      if (!isObject(item) || required.some((k) => !(k in item))) {
        throw invalidInput(attr, `${repr(item)} is not a valid dictionary: ${required.join(", ")} required`);
      }
    }
    return v.map((item) => ({ ...(item as Record<string, unknown>) }));
  };

export const anyValue: Converter = (v) => v;

export type AttributeSpec = Record<string, Converter>;

/**
 * Checks a request body against the attributes allowed for the operation: unknown attributes are
 * refused ("Unrecognized attribute(s)"), known but not writable ones are read-only.
 */
export function convert(body: Record<string, unknown>, allowed: AttributeSpec, readOnly: string[] = []): Record<string, unknown> {
  const unknown = Object.keys(body).filter((k) => !(k in allowed) && !readOnly.includes(k));
  if (unknown.length > 0) throw neutronError(400, "HTTPBadRequest", `Unrecognized attribute(s) '${unknown.join(", ")}'`);
  const ro = Object.keys(body).filter((k) => readOnly.includes(k));
  if (ro.length > 0) throw neutronError(400, "HTTPBadRequest", `Cannot update read-only attribute ${ro[0]}`);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(body)) out[k] = allowed[k](v, k);
  return out;
}

/** `{"network": {...}}` → the inner object, or Neutron's 400. */
export function resourceBody(body: unknown, resource: string): Record<string, unknown> {
  if (!isObject(body) || !isObject(body[resource])) {
    throw neutronError(400, "HTTPBadRequest", `Unable to find '${resource}' in request body`);
  }
  return body[resource];
}
