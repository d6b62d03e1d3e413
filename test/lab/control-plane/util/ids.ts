/** Identifier, time and formatting helpers shared by the lab's services. */
import { randomBytes, randomUUID } from "node:crypto";

/** A canonical dashed lower-case UUID (Contrail uuids, Glance and Neutron ids). */
export function newUuid(): string {
  return randomUUID();
}

/** A 32-digit hex id without dashes (Keystone project/user ids, Neutron tenant ids). */
export function newHexId(): string {
  return randomUUID().replace(/-/g, "");
}

/** An opaque token string in the shape of a Keystone fernet token. */
export function newTokenId(): string {
  return "gAAAAAB" + randomBytes(96).toString("base64url");
}

/** A random secret (application credential secrets, generated passwords). */
export function newSecret(bytes = 24): string {
  return randomBytes(bytes).toString("base64url");
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** True when `s` is exactly what Python's `str(uuid.UUID(s))` would print. */
export function isCanonicalUuid(s: unknown): s is string {
  return typeof s === "string" && UUID_RE.test(s);
}

/** 32 hex digits → dashed form (Keystone project id → Contrail project uuid). */
export function dashUuid(hex: string): string {
  const h = hex.replace(/-/g, "").toLowerCase();
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/** Dashed uuid → 32 hex digits (Contrail project uuid → Neutron tenant_id). */
export function undashUuid(uuid: string): string {
  return uuid.replace(/-/g, "").toLowerCase();
}

/** The two signed halves Contrail's `id_perms.uuid` carries, as unsigned 64-bit integers. */
export function uuidHalves(uuid: string): { uuid_mslong: bigint; uuid_lslong: bigint } {
  const h = undashUuid(uuid);
  return { uuid_mslong: BigInt("0x" + h.slice(0, 16)), uuid_lslong: BigInt("0x" + h.slice(16)) };
}

/** ISO-8601 UTC with microseconds and `Z` (Keystone `expires_at`). */
export function isoMicros(d: Date): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

/** ISO-8601 UTC without fractional seconds (Nova, Neutron, Glance timestamps). */
export function isoSeconds(d: Date = new Date()): string {
  return d.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** Python `datetime.isoformat()` of a naive UTC time with microseconds (Contrail id_perms). */
export function isoNaiveMicros(d: Date = new Date()): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, ".$1000");
}

/** Python's `repr()` of a list of strings: `['default-domain', 'x']`. */
export function pyList(items: readonly unknown[]): string {
  return "[" + items.map(pyRepr).join(", ") + "]";
}

/** Python's `repr()` of a scalar or list, enough for error messages. */
export function pyRepr(v: unknown): string {
  if (Array.isArray(v)) return pyList(v);
  if (v === null || v === undefined) return "None";
  if (typeof v === "boolean") return v ? "True" : "False";
  if (typeof v === "number" || typeof v === "bigint") return String(v);
  if (typeof v === "string") {
    const quote = v.includes("'") && !v.includes('"') ? '"' : "'";
    const body = v.replace(/\\/g, "\\\\").replace(quote === "'" ? /'/g : /"/g, `\\${quote}`);
    return quote + body + quote;
  }
  return JSON.stringify(v);
}

/** A deep copy of plain JSON data (bigint kept). */
export function clone<T>(v: T): T {
  return structuredClone(v);
}

/** Type guard for a plain JSON object. */
export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
