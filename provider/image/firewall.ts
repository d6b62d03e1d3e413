/**
 * The dockwall firewall: the user's rules for traffic the VNF forwards between its left and right
 * interfaces, rendered as an nftables ruleset that is baked into the image at build time
 * (`/etc/dockwall/firewall.nft`, loaded by the image's init before any interface is configured).
 *
 * Pure functions only (no I/O, no third-party modules): this file is used by Pulumi dynamic
 * providers, by `check` (validation) and by the image build (rendering).
 *
 * Semantics
 * - Rules are evaluated in order; the first matching rule decides (`accept`, `drop`, or `reject`:
 *   TCP reset for TCP rules, ICMP "administratively prohibited"/port unreachable otherwise).
 * - Unmatched forwarded traffic gets the default policy: `accept` unless told otherwise. With no
 *   rules at all the VNF forwards everything, like the original dockwall (which had no filter).
 * - Replies of flows the firewall already let through (conntrack `established,related`) are accepted
 *   before the rules, so a rule describes the direction a connection is opened in.
 * - `ports` are destination ports. Without `protocol` (or with `"any"`) they match TCP and UDP.
 * - Only forwarded traffic is filtered (the `forward` hook). Traffic to the VNF itself (DHCP,
 *   management SSH) is not touched.
 */

export type FirewallAction = "accept" | "drop" | "reject";
export type FirewallProtocol = "tcp" | "udp" | "icmp" | "any";

export interface PortRange {
  from: number;
  to: number;
}

export interface FirewallRule {
  action: FirewallAction;
  /** Default "any". */
  protocol?: FirewallProtocol;
  /** Destination ports (TCP/UDP only): a non-empty list, or an inclusive range. */
  ports?: number[] | PortRange;
  /** Source network, CIDR (`10.0.5.0/24`, `2001:db8::/32`); a bare address means one host. */
  source?: string;
  /** Destination network, same form as `source`. */
  destination?: string;
  /** Free text kept in the ruleset (`nft list ruleset` shows it). Printable ASCII, no quotes. */
  comment?: string;
}

export interface RenderFirewallOptions {
  /** Verdict for forwarded traffic no rule matched. Default "accept" (the original's behaviour). */
  defaultPolicy?: "accept" | "drop";
  /** Accept replies of already accepted flows before the rules (default true). */
  allowEstablished?: boolean;
  /** nftables table name (default "dockwall"); letters, digits, `_`, `-`. */
  tableName?: string;
}

export interface ValidationIssue {
  /** Property path, e.g. `firewallRules[1].ports[0]`. */
  property: string;
  reason: string;
}

const ACTIONS: readonly FirewallAction[] = ["accept", "drop", "reject"];
const PROTOCOLS: readonly FirewallProtocol[] = ["tcp", "udp", "icmp", "any"];
const RULE_KEYS = ["action", "protocol", "ports", "source", "destination", "comment"];
const MAX_COMMENT = 128; // nftables' limit for comments
const MAX_PORTS = 256;

// ---------------------------------------------------------------------------------------------
// Addresses

/** A parsed network: family, the network address as a bigint, and the prefix length. */
export interface ParsedCidr {
  family: 4 | 6;
  address: bigint;
  prefix: number;
  /** Canonical text, e.g. `10.0.5.0/24`. */
  text: string;
}

function parseIPv4(s: string): bigint | null {
  const parts = s.split(".");
  if (parts.length !== 4) return null;
  let v = 0n;
  for (const p of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p)) return null;
    const n = Number(p);
    if (n > 255) return null;
    v = (v << 8n) | BigInt(n);
  }
  return v;
}

function parseIPv6(s: string): bigint | null {
  if (!/^[0-9a-fA-F:.]+$/.test(s)) return null;
  let head: string[];
  let tail: string[] = [];
  const dbl = s.indexOf("::");
  if (dbl >= 0) {
    if (s.indexOf("::", dbl + 1) >= 0) return null;
    const a = s.slice(0, dbl);
    const b = s.slice(dbl + 2);
    head = a === "" ? [] : a.split(":");
    tail = b === "" ? [] : b.split(":");
  } else {
    head = s.split(":");
  }
  const groups: number[] = [];
  const pushGroups = (list: string[], isLast: boolean): boolean => {
    for (let i = 0; i < list.length; i++) {
      const g = list[i];
      if (isLast && i === list.length - 1 && g.includes(".")) {
        const v4 = parseIPv4(g);
        if (v4 === null) return false;
        groups.push(Number(v4 >> 16n), Number(v4 & 0xffffn));
        continue;
      }
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return false;
      groups.push(parseInt(g, 16));
    }
    return true;
  };
  if (!pushGroups(head, dbl < 0)) return null;
  const headLen = groups.length;
  if (!pushGroups(tail, true)) return null;
  const tailGroups = groups.splice(headLen);
  if (dbl >= 0) {
    const missing = 8 - groups.length - tailGroups.length;
    if (missing < 1) return null;
    for (let i = 0; i < missing; i++) groups.push(0);
  }
  groups.push(...tailGroups);
  if (groups.length !== 8) return null;
  let v = 0n;
  for (const g of groups) v = (v << 16n) | BigInt(g);
  return v;
}

function formatIPv4(v: bigint): string {
  return [24n, 16n, 8n, 0n].map((sh) => String(Number((v >> sh) & 0xffn))).join(".");
}

function formatIPv6(v: bigint): string {
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((v >> BigInt(i * 16)) & 0xffffn));
  // Longest run of >= 2 zero groups becomes "::" (RFC 5952).
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(":");
  const left = hex.slice(0, bestStart).join(":");
  const right = hex.slice(bestStart + bestLen).join(":");
  return `${left}::${right}`;
}

/**
 * Parse a network in CIDR notation. A bare address is a host network (/32 or /128).
 * Returns an error text (what is wrong, and what is allowed) instead of throwing.
 */
export function parseCidr(input: string): ParsedCidr | string {
  const s = input.trim();
  const slash = s.indexOf("/");
  const addrText = slash >= 0 ? s.slice(0, slash) : s;
  const prefixText = slash >= 0 ? s.slice(slash + 1) : null;
  let family: 4 | 6;
  let address: bigint | null;
  if (addrText.includes(":")) {
    family = 6;
    address = parseIPv6(addrText);
  } else {
    family = 4;
    address = parseIPv4(addrText);
  }
  if (address === null) {
    return `"${input}" is not an IPv4 or IPv6 network in CIDR notation (e.g. 10.0.5.0/24 or 2001:db8::/32)`;
  }
  const bits = family === 4 ? 32 : 128;
  let prefix = bits;
  if (prefixText !== null) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(prefixText) || Number(prefixText) > bits) {
      return `"${input}" has an invalid prefix length: must be 0..${bits} for IPv${family}`;
    }
    prefix = Number(prefixText);
  }
  const hostBits = BigInt(bits - prefix);
  const network = (address >> hostBits) << hostBits;
  const fmt = family === 4 ? formatIPv4 : formatIPv6;
  if (network !== address) {
    return `"${input}" is not a network address: host bits are set (did you mean ${fmt(network)}/${prefix}?)`;
  }
  const text = prefix === bits ? fmt(network) : `${fmt(network)}/${prefix}`;
  return { family, address: network, prefix, text };
}

// ---------------------------------------------------------------------------------------------
// Validation

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function describe(v: unknown): string {
  if (v === undefined) return "nothing";
  if (v === null) return "null";
  if (typeof v === "string") return JSON.stringify(v);
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  if (Array.isArray(v)) return "a list";
  return `a ${typeof v}`;
}

function checkPort(v: unknown, property: string, issues: ValidationIssue[]): boolean {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1 || v > 65535) {
    issues.push({ property, reason: `must be an integer port from 1 to 65535, got ${describe(v)}` });
    return false;
  }
  return true;
}

/**
 * Check firewall rules before anything is built. Returns one issue per problem (empty = valid),
 * each naming the property path under `path` (default `firewallRules`) and what is allowed.
 */
export function validateFirewallRules(rules: unknown, path = "firewallRules"): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  if (rules === undefined || rules === null) return issues; // no rules: forward everything
  if (!Array.isArray(rules)) {
    issues.push({ property: path, reason: `must be a list of rules, got ${describe(rules)}` });
    return issues;
  }
  rules.forEach((rule: unknown, i: number) => {
    const at = `${path}[${i}]`;
    if (!isPlainObject(rule)) {
      issues.push({
        property: at,
        reason: `must be an object with "action" and optional "protocol", "ports", "source", "destination", "comment"; got ${describe(rule)}`,
      });
      return;
    }
    for (const key of Object.keys(rule)) {
      if (!RULE_KEYS.includes(key) && rule[key] !== undefined) {
        issues.push({ property: `${at}.${key}`, reason: `unknown property; allowed: ${RULE_KEYS.join(", ")}` });
      }
    }
    const action = rule.action;
    if (typeof action !== "string" || !(ACTIONS as readonly string[]).includes(action)) {
      issues.push({
        property: `${at}.action`,
        reason: `must be one of ${ACTIONS.map((a) => `"${a}"`).join(", ")}, got ${describe(action)}`,
      });
    }
    const protocol = rule.protocol;
    if (protocol !== undefined && (typeof protocol !== "string" || !(PROTOCOLS as readonly string[]).includes(protocol))) {
      issues.push({
        property: `${at}.protocol`,
        reason: `must be one of ${PROTOCOLS.map((p) => `"${p}"`).join(", ")}, got ${describe(protocol)}`,
      });
    }
    const ports = rule.ports;
    if (ports !== undefined) {
      if (protocol === "icmp") {
        issues.push({ property: `${at}.ports`, reason: `ports only apply to "tcp", "udp" or "any"; protocol is "icmp"` });
      }
      if (Array.isArray(ports)) {
        if (ports.length === 0) {
          issues.push({ property: `${at}.ports`, reason: "must list at least one port (leave it out to match all ports)" });
        } else if (ports.length > MAX_PORTS) {
          issues.push({ property: `${at}.ports`, reason: `at most ${MAX_PORTS} ports per rule (use a range {from, to}), got ${ports.length}` });
        }
        const seen = new Set<number>();
        ports.forEach((p: unknown, j: number) => {
          if (checkPort(p, `${at}.ports[${j}]`, issues)) {
            if (seen.has(p as number)) {
              issues.push({ property: `${at}.ports[${j}]`, reason: `port ${p} is listed twice` });
            }
            seen.add(p as number);
          }
        });
      } else if (isPlainObject(ports)) {
        for (const key of Object.keys(ports)) {
          if (key !== "from" && key !== "to") {
            issues.push({ property: `${at}.ports.${key}`, reason: `unknown property; a port range has "from" and "to"` });
          }
        }
        const okFrom = checkPort(ports.from, `${at}.ports.from`, issues);
        const okTo = checkPort(ports.to, `${at}.ports.to`, issues);
        if (okFrom && okTo && (ports.from as number) > (ports.to as number)) {
          issues.push({ property: `${at}.ports`, reason: `range is empty: from (${ports.from}) is greater than to (${ports.to})` });
        }
      } else {
        issues.push({
          property: `${at}.ports`,
          reason: `must be a list of ports (e.g. [80, 443]) or a range {from: 1000, to: 2000}, got ${describe(ports)}`,
        });
      }
    }
    const families: Record<string, number> = {};
    for (const key of ["source", "destination"] as const) {
      const v = rule[key];
      if (v === undefined) continue;
      if (typeof v !== "string") {
        issues.push({ property: `${at}.${key}`, reason: `must be a network in CIDR notation (e.g. 10.0.5.0/24), got ${describe(v)}` });
        continue;
      }
      const parsed = parseCidr(v);
      if (typeof parsed === "string") issues.push({ property: `${at}.${key}`, reason: parsed });
      else families[key] = parsed.family;
    }
    if (families.source !== undefined && families.destination !== undefined && families.source !== families.destination) {
      issues.push({
        property: `${at}.destination`,
        reason: `is IPv${families.destination} but source is IPv${families.source}; a rule matches one address family`,
      });
    }
    const comment = rule.comment;
    if (comment !== undefined) {
      if (typeof comment !== "string") {
        issues.push({ property: `${at}.comment`, reason: `must be a string, got ${describe(comment)}` });
      } else if (comment.length > MAX_COMMENT) {
        issues.push({ property: `${at}.comment`, reason: `at most ${MAX_COMMENT} characters, got ${comment.length}` });
      } else if (!/^[\x20-\x7e]*$/.test(comment) || /["\\]/.test(comment)) {
        issues.push({
          property: `${at}.comment`,
          reason: "only printable ASCII without double quotes or backslashes is allowed",
        });
      }
    }
  });
  return issues;
}

/** Thrown by `renderFirewall` for invalid input; `issues` has every problem. */
export class FirewallValidationError extends Error {
  constructor(public readonly issues: ValidationIssue[]) {
    const message = `invalid firewall rules:\n${issues.map((i) => `  ${i.property}: ${i.reason}`).join("\n")}`;
    super(message);
    this.message = message; // see ApiError: serialized providers lose what `super` sets
    this.name = "FirewallValidationError";
  }
}

// ---------------------------------------------------------------------------------------------
// Rendering

function portExpr(ports: number[] | PortRange): string {
  if (Array.isArray(ports)) {
    return ports.length === 1 ? String(ports[0]) : `{ ${ports.join(", ")} }`;
  }
  return ports.from === ports.to ? String(ports.from) : `${ports.from}-${ports.to}`;
}

function renderRule(rule: FirewallRule): string {
  const parts: string[] = [];
  const src = rule.source !== undefined ? (parseCidr(rule.source) as ParsedCidr) : undefined;
  const dst = rule.destination !== undefined ? (parseCidr(rule.destination) as ParsedCidr) : undefined;
  const family = src?.family ?? dst?.family;
  if (src) parts.push(`${src.family === 4 ? "ip" : "ip6"} saddr ${src.text}`);
  if (dst) parts.push(`${dst.family === 4 ? "ip" : "ip6"} daddr ${dst.text}`);
  const protocol = rule.protocol ?? "any";
  if (protocol === "tcp" || protocol === "udp") {
    parts.push(`meta l4proto ${protocol}`);
    if (rule.ports !== undefined) parts.push(`${protocol} dport ${portExpr(rule.ports)}`);
  } else if (protocol === "icmp") {
    // Protocol numbers (1 = icmp, 58 = ipv6-icmp): nft resolves names through /etc/protocols,
    // which a slim image without netbase does not have ("Could not resolve protocol name").
    parts.push(family === 4 ? "meta l4proto 1" : family === 6 ? "meta l4proto 58" : "meta l4proto { 1, 58 }");
  } else if (rule.ports !== undefined) {
    parts.push("meta l4proto { tcp, udp }", `th dport ${portExpr(rule.ports)}`);
  }
  parts.push("counter");
  if (rule.action === "reject") {
    parts.push(protocol === "tcp" ? "reject with tcp reset" : "reject");
  } else {
    parts.push(rule.action);
  }
  if (rule.comment !== undefined && rule.comment !== "") parts.push(`comment "${rule.comment}"`);
  return parts.join(" ");
}

/**
 * Render the nftables ruleset for forwarded traffic. Throws `FirewallValidationError` for rules
 * `validateFirewallRules` refuses. The output is deterministic (same input, same bytes) and safe to
 * load repeatedly with `nft -f`: it replaces the table atomically.
 */
export function renderFirewall(rules: FirewallRule[] = [], opts: RenderFirewallOptions = {}): string {
  const issues = validateFirewallRules(rules);
  const table = opts.tableName ?? "dockwall";
  if (!/^[A-Za-z][A-Za-z0-9_-]{0,31}$/.test(table)) {
    issues.push({ property: "tableName", reason: "must start with a letter and hold letters, digits, _ or - (max 32)" });
  }
  const policy = opts.defaultPolicy ?? "accept";
  if (policy !== "accept" && policy !== "drop") {
    issues.push({ property: "defaultPolicy", reason: `must be "accept" or "drop", got ${describe(policy)}` });
  }
  if (issues.length > 0) throw new FirewallValidationError(issues);

  const lines: string[] = [];
  lines.push("#!/usr/sbin/nft -f");
  lines.push("# dockwall: filter for traffic forwarded between the left and right interfaces.");
  lines.push("# Rendered by provider/image/firewall.ts (renderFirewall); do not edit by hand.");
  lines.push(`# ${rules.length} rule(s); unmatched forwarded traffic: ${policy}.`);
  lines.push("#");
  lines.push("# Loading it again replaces the table in one transaction (declare, delete, re-create),");
  lines.push("# so a restarted container never ends up with two copies.");
  lines.push(`table inet ${table}`);
  lines.push(`delete table inet ${table}`);
  lines.push("");
  lines.push(`table inet ${table} {`);
  lines.push("\tchain forward {");
  lines.push(`\t\ttype filter hook forward priority filter; policy ${policy};`);
  if (opts.allowEstablished ?? true) {
    lines.push('\t\tct state established,related accept comment "replies of accepted flows"');
  }
  rules.forEach((rule, i) => {
    lines.push(`\t\t# firewallRules[${i}]`);
    lines.push(`\t\t${renderRule(rule)}`);
  });
  lines.push("\t}");
  lines.push("}");
  return lines.join("\n") + "\n";
}
