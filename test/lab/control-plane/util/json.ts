/**
 * JSON serialisation that keeps bigint values exact: Contrail's `id_perms.uuid` halves are 64-bit
 * integers, which Python's json module prints in full.
 */
const MARK = "\u0000bigint:";

export function stringifyJson(value: unknown): string {
  const text = JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? MARK + v.toString() : v));
  if (text === undefined) return "null";
  // JSON.stringify escapes the NUL of the marker as \u0000.
  return text.includes("\\u0000bigint:") ? text.replace(/"\\u0000bigint:(\d+)"/g, "$1") : text;
}

/** A JSON-safe deep copy: bigint becomes a decimal string (used for inventory snapshots). */
export function toPlainJson<T>(value: T): T {
  return JSON.parse(JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v))) as T;
}
