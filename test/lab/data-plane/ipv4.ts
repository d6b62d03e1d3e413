/** Small IPv4 helpers for the lab (the lab's networks are single IPv4 subnets). */

export function ipToInt(ip: string): number {
  const parts = ip.split(".");
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) {
    throw new Error(`not an IPv4 address: ${ip}`);
  }
  return parts.reduce((acc, p) => acc * 256 + Number(p), 0);
}

export function intToIp(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join(".");
}

export interface Cidr4 {
  network: string;
  prefix: number;
  netmask: string;
  /** "a.b.c.d/n" */
  text: string;
  first: string;
  last: string;
}

export function parseCidr4(cidr: string): Cidr4 {
  const m = /^(\d+\.\d+\.\d+\.\d+)\/(\d{1,2})$/.exec(cidr.trim());
  if (!m || Number(m[2]) > 32) throw new Error(`not an IPv4 CIDR: ${cidr}`);
  const prefix = Number(m[2]);
  const size = 2 ** (32 - prefix);
  const net = Math.floor(ipToInt(m[1]) / size) * size;
  const netmask = intToIp(prefix === 0 ? 0 : 2 ** 32 - size);
  return {
    network: intToIp(net),
    prefix,
    netmask,
    text: `${intToIp(net)}/${prefix}`,
    first: intToIp(prefix >= 31 ? net : net + 1),
    last: intToIp(prefix >= 31 ? net + size - 1 : net + size - 2),
  };
}

export function inCidr(ip: string, cidr: string): boolean {
  const c = parseCidr4(cidr);
  const size = 2 ** (32 - c.prefix);
  const n = ipToInt(ip);
  const net = ipToInt(c.network);
  return n >= net && n < net + size;
}

/** 8 hex digits of an IPv4 address (compact, unique names). */
export function ipHex(ip: string): string {
  return ipToInt(ip).toString(16).padStart(8, "0");
}
