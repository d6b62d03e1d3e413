/** Glance v2's image schema checks, with jsonschema-style messages, and its webob error pages. */
import { HttpError, statusTitle } from "../http/errors";
import { text, type Reply } from "../http/reply";
import { pyRepr, pyList } from "../util/ids";

/** Properties the server owns: a client may not set them. */
export const READ_ONLY = [
  "checksum",
  "created_at",
  "updated_at",
  "size",
  "virtual_size",
  "status",
  "self",
  "file",
  "schema",
  "direct_url",
  "locations",
  "os_hash_algo",
  "os_hash_value",
];

/** Writable base properties of the Juno image schema. */
export const BASE = ["id", "name", "visibility", "container_format", "disk_format", "min_disk", "min_ram", "protected", "tags", "owner"];

/** Juno v2's visibility values. */
export const VISIBILITIES = ["public", "private"];

/** A 400 whose explanation is `Provided object does not match schema 'image': <reason>`. */
export function schemaError(reason: string, detail: string): HttpError {
  return new HttpError(400, `Provided object does not match schema 'image': ${reason}\n\n${detail}`);
}

function enumError(field: string, value: unknown, allowed: readonly string[], description: string): HttpError {
  return schemaError(
    `${pyRepr(value)} is not one of ${pyList(allowed)}`,
    `Failed validating 'enum' in schema['properties']['${field}']:\n` +
      `    {'description': '${description}',\n` +
      `     'enum': ${pyList(allowed)},\n` +
      `     'type': ['null', 'string']}\n\n` +
      `On instance['${field}']:\n    ${pyRepr(value)}`,
  );
}

function typeError(field: string, value: unknown, type: string): HttpError {
  return schemaError(
    `${pyRepr(value)} is not of type '${type}'`,
    `Failed validating 'type' in schema['properties']['${field}']:\n    {'type': '${type}'}\n\nOn instance['${field}']:\n    ${pyRepr(value)}`,
  );
}

export interface FormatConfig {
  containerFormats: readonly string[];
  diskFormats: readonly string[];
}

/** Validates a whole image document (base + custom properties) the way Glance v2's schema does. */
export function validateImageDocument(doc: Record<string, unknown>, formats: FormatConfig): void {
  const cf = doc.container_format;
  if (cf !== undefined && cf !== null && !formats.containerFormats.includes(cf as string)) {
    throw enumError("container_format", cf, formats.containerFormats, "Format of the container");
  }
  const df = doc.disk_format;
  if (df !== undefined && df !== null && !formats.diskFormats.includes(df as string)) {
    throw enumError("disk_format", df, formats.diskFormats, "Format of the disk");
  }
  if (doc.visibility !== undefined && !VISIBILITIES.includes(doc.visibility as string)) {
    throw schemaError(
      `${pyRepr(doc.visibility)} is not one of ${pyList(VISIBILITIES)}`,
      `Failed validating 'enum' in schema['properties']['visibility']:\n    {'enum': ${pyList(VISIBILITIES)}}`,
    );
  }
  if (doc.name !== undefined && doc.name !== null) {
    if (typeof doc.name !== "string") throw typeError("name", doc.name, "string");
    if (doc.name.length > 255) throw schemaError(`${pyRepr(doc.name)} is too long`, "Failed validating 'maxLength'");
  }
  for (const f of ["min_disk", "min_ram"]) {
    const v = doc[f];
    if (v !== undefined && (typeof v !== "number" || !Number.isInteger(v))) throw typeError(f, v, "integer");
    if (typeof v === "number" && v < 0) throw schemaError(`${v} is less than the minimum of 0`, `Failed validating 'minimum' in schema['properties']['${f}']`);
  }
  if (doc.protected !== undefined && typeof doc.protected !== "boolean") throw typeError("protected", doc.protected, "boolean");
  if (doc.tags !== undefined && (!Array.isArray(doc.tags) || doc.tags.some((t) => typeof t !== "string"))) {
    throw typeError("tags", doc.tags, "array");
  }
  const longTag = (doc.tags as string[] | undefined)?.find((tag) => tag.length > 255);
  if (longTag !== undefined) throw schemaError(`${pyRepr(longTag)} is too long`, "Failed validating 'maxLength' in schema['properties']['tags']['items']");
  if (doc.id !== undefined && (typeof doc.id !== "string" || !/^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$/.test(doc.id))) {
    throw schemaError(`${pyRepr(doc.id)} does not match '^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$'`, "Failed validating 'pattern' in schema['properties']['id']");
  }
  for (const [k, v] of Object.entries(doc)) {
    if (BASE.includes(k) || READ_ONLY.includes(k)) continue;
    if (k.length > 255) throw schemaError(`${pyRepr(k)} is too long`, "Property names are at most 255 characters");
    if (typeof v !== "string") {
      throw schemaError(`${pyRepr(v)} is not of type 'string'`, `Failed validating 'type' in schema['additionalProperties']:\n    {'type': 'string'}\n\nOn instance[${pyRepr(k)}]:\n    ${pyRepr(v)}`);
    }
  }
}

/** webob's plain-text error page, as Glance sends it. */
export function glanceError(err: HttpError): Reply {
  return text(err.status, `${err.status} ${statusTitle(err.status)}\n\n${err.message}\n\n   `);
}
