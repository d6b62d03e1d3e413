/** IPv4 address arithmetic for Neutron's IPAM. */

export interface Cidr {
  /** Network address as an unsigned 32-bit integer. */
  network: number;
  prefixLength: number;
}

export interface IpRange {
  start: number;
  end: number;
}

/** Parses a dotted quad; null if it is not one. */
export function parseIp(s: unknown): number | null {
  if (typeof s !== "string") return null;
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return null;
  const parts = m.slice(1).map(Number);
  if (parts.some((p, i) => p > 255 || (m[i + 1].length > 1 && m[i + 1].startsWith("0")))) return null;
  return ((parts[0] << 24) >>> 0) + (parts[1] << 16) + (parts[2] << 8) + parts[3];
}

export function formatIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

function mask(prefixLength: number): number {
  return prefixLength === 0 ? 0 : (0xffffffff << (32 - prefixLength)) >>> 0;
}

/**
 * Parses `a.b.c.d/n`. Returns the cidr, or `{ error }` with Neutron's validator reason
 * (`'x' is not a valid IP subnet`, `'x' isn't a recommended CIDR, use 'y' instead`).
 */
export function parseCidr(s: unknown): Cidr | { error: string } {
  const text = typeof s === "string" ? s : String(s);
  const m = /^([^/\s]+)\/(\d{1,2})$/.exec(text);
  const ip = m ? parseIp(m[1]) : null;
  const prefixLength = m ? Number(m[2]) : NaN;
  if (!m || ip === null || prefixLength > 32) return { error: `'${text}' is not a valid IP subnet` };
  const network = (ip & mask(prefixLength)) >>> 0;
  if (network !== ip) {
    return { error: `'${text}' isn't a recommended CIDR, use '${formatIp(network)}/${prefixLength}' instead` };
  }
  return { network, prefixLength };
}

export function formatCidr(c: Cidr): string {
  return `${formatIp(c.network)}/${c.prefixLength}`;
}

export function broadcast(c: Cidr): number {
  return (c.network | (~mask(c.prefixLength) >>> 0)) >>> 0;
}

export function contains(c: Cidr, ip: number): boolean {
  return ((ip & mask(c.prefixLength)) >>> 0) === c.network;
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  return contains(a, b.network) || contains(b, a.network);
}

/** The usable host range: network+1 .. broadcast-1 (the whole range for /31 and /32). */
export function hostRange(c: Cidr): IpRange {
  if (c.prefixLength >= 31) return { start: c.network, end: broadcast(c) };
  return { start: c.network + 1, end: broadcast(c) - 1 };
}

/** Neutron's default pools: the host range minus the gateway address. */
export function defaultPools(c: Cidr, gateway: number | null): IpRange[] {
  const r = hostRange(c);
  if (gateway === null || gateway < r.start || gateway > r.end) return [r];
  const pools: IpRange[] = [];
  if (gateway > r.start) pools.push({ start: r.start, end: gateway - 1 });
  if (gateway < r.end) pools.push({ start: gateway + 1, end: r.end });
  return pools;
}

export function rangesOverlap(a: IpRange, b: IpRange): boolean {
  return a.start <= b.end && b.start <= a.end;
}
