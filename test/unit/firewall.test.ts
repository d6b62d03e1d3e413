/**
 * The dockwall image's pure parts: the firewall renderer and validator, and the build context
 * (files, digest, tar) — no Docker needed (buildImage runs against a fake engine here; the real
 * engine is exercised by test/lab/data-plane).
 */
import { describe, it, expect } from "vitest";
import * as fs from "fs";
import * as path from "path";
import { PassThrough } from "stream";
import fc from "fast-check";
import {
  renderFirewall,
  validateFirewallRules,
  parseCidr,
  FirewallValidationError,
  FirewallRule,
  ParsedCidr,
} from "../../provider/image/firewall";
import {
  buildContext,
  buildImage,
  contextTar,
  imageTag,
  IMAGE_FILES,
  FIREWALL_FILE,
  DockerLike,
} from "../../provider/image/build";

const IMAGE_DIR = path.join(__dirname, "..", "..", "provider", "image");

/** The rule lines of a rendered ruleset (inside the forward chain, after the policy line). */
function ruleLines(text: string): string[] {
  return text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("#") && /(accept|drop|reject)/.test(l) && !l.startsWith("type filter") && !l.startsWith("ct state"));
}

describe("renderFirewall", () => {
  it("with no rules forwards everything (like the original) and replaces its table atomically", () => {
    const out = renderFirewall([]);
    expect(out).toContain("table inet dockwall\ndelete table inet dockwall\n");
    expect(out).toContain("type filter hook forward priority filter; policy accept;");
    expect(out).toContain('ct state established,related accept comment "replies of accepted flows"');
    expect(ruleLines(out)).toEqual([]);
    expect(out.endsWith("}\n")).toBe(true);
  });

  it("the checked-in provider/image/firewall.nft (used by a plain `docker build`) is the default rendering", () => {
    expect(fs.readFileSync(path.join(IMAGE_DIR, "firewall.nft"), "utf8")).toBe(renderFirewall([]));
  });

  it("renders each kind of match, in order, with counters and comments", () => {
    const rules: FirewallRule[] = [
      { action: "drop", protocol: "tcp", ports: [8080], comment: "no alt http" },
      { action: "accept", protocol: "udp", ports: [53, 123] },
      { action: "reject", protocol: "tcp", ports: { from: 6000, to: 6010 } },
      { action: "drop", ports: [5060] },
      { action: "accept", protocol: "icmp", source: "10.0.5.0/24" },
      { action: "reject", source: "198.51.100.0/24", destination: "203.0.113.8" },
      { action: "drop", protocol: "icmp", destination: "2001:db8::/32" },
      { action: "accept", protocol: "any" },
      { action: "drop", protocol: "icmp" },
    ];
    expect(ruleLines(renderFirewall(rules))).toEqual([
      'meta l4proto tcp tcp dport 8080 counter drop comment "no alt http"',
      "meta l4proto udp udp dport { 53, 123 } counter accept",
      "meta l4proto tcp tcp dport 6000-6010 counter reject with tcp reset",
      "meta l4proto { tcp, udp } th dport 5060 counter drop",
      "ip saddr 10.0.5.0/24 meta l4proto 1 counter accept",
      "ip saddr 198.51.100.0/24 ip daddr 203.0.113.8 counter reject",
      "ip6 daddr 2001:db8::/32 meta l4proto 58 counter drop",
      "counter accept",
      "meta l4proto { 1, 58 } counter drop",
    ]);
  });

  it("marks each rule with its property path, and counts them in the header", () => {
    const out = renderFirewall([{ action: "drop" }, { action: "accept" }]);
    expect(out).toContain("# 2 rule(s); unmatched forwarded traffic: accept.");
    expect(out.indexOf("# firewallRules[0]")).toBeLessThan(out.indexOf("# firewallRules[1]"));
  });

  it("canonicalises networks (a single-port range collapses, a bare address is a host)", () => {
    const out = renderFirewall([{ action: "drop", protocol: "tcp", ports: { from: 22, to: 22 }, destination: "2001:DB8:0:0:0:0:0:1" }]);
    expect(ruleLines(out)).toEqual(["ip6 daddr 2001:db8::1 meta l4proto tcp tcp dport 22 counter drop"]);
  });

  it("honours the options: default policy drop, no established shortcut, table name", () => {
    const out = renderFirewall([{ action: "accept", protocol: "tcp", ports: [443] }], {
      defaultPolicy: "drop",
      allowEstablished: false,
      tableName: "fw_1",
    });
    expect(out).toContain("table inet fw_1\ndelete table inet fw_1\n");
    expect(out).toContain("policy drop;");
    expect(out).not.toContain("ct state");
  });

  it("is deterministic", () => {
    const rules: FirewallRule[] = [{ action: "drop", protocol: "udp", ports: [1, 65535], source: "0.0.0.0/0" }];
    expect(renderFirewall(rules)).toBe(renderFirewall(JSON.parse(JSON.stringify(rules))));
  });

  it("refuses invalid rules and options with every problem listed", () => {
    let err: unknown;
    try {
      renderFirewall([{ action: "allow" as never, ports: [0] }], { tableName: "1bad", defaultPolicy: "reject" as never });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(FirewallValidationError);
    const issues = (err as FirewallValidationError).issues.map((i) => i.property);
    expect(issues).toEqual(["firewallRules[0].action", "firewallRules[0].ports[0]", "tableName", "defaultPolicy"]);
    expect((err as Error).message).toMatch(/firewallRules\[0\]\.action: must be one of "accept", "drop", "reject", got "allow"/);
  });
});

describe("validateFirewallRules", () => {
  const one = (rule: unknown) => validateFirewallRules([rule]);

  it("accepts valid rules and no rules at all", () => {
    expect(validateFirewallRules(undefined)).toEqual([]);
    expect(validateFirewallRules([])).toEqual([]);
    expect(
      validateFirewallRules([
        { action: "accept" },
        { action: "drop", protocol: "tcp", ports: [1, 65535], source: "10.0.0.0/8", destination: "192.0.2.1", comment: "ok: fine-1_2" },
        { action: "reject", protocol: "udp", ports: { from: 1000, to: 2000 } },
        { action: "drop", protocol: "any", ports: [80], source: "::/0", destination: "2001:db8::/48" },
      ]),
    ).toEqual([]);
  });

  it("names the property and what is allowed", () => {
    expect(validateFirewallRules("nope")).toEqual([{ property: "firewallRules", reason: 'must be a list of rules, got "nope"' }]);
    expect(one(42)[0]).toMatchObject({ property: "firewallRules[0]" });
    expect(one({ action: "accept", port: 80 })).toEqual([
      { property: "firewallRules[0].port", reason: "unknown property; allowed: action, protocol, ports, source, destination, comment" },
    ]);
    expect(one({})).toEqual([{ property: "firewallRules[0].action", reason: 'must be one of "accept", "drop", "reject", got nothing' }]);
    expect(one({ action: "drop", protocol: "sctp" })).toEqual([
      { property: "firewallRules[0].protocol", reason: 'must be one of "tcp", "udp", "icmp", "any", got "sctp"' },
    ]);
  });

  it("checks ports: integers 1..65535, non-empty, no duplicates, ranges ordered, not for icmp", () => {
    const issues = validateFirewallRules([
      { action: "drop", protocol: "tcp", ports: [0, 65536, 1.5, "80", 443, 443] },
      { action: "drop", protocol: "tcp", ports: [] },
      { action: "drop", protocol: "udp", ports: { from: 2000, to: 1000 } },
      { action: "drop", protocol: "udp", ports: { from: 1, upto: 2 } },
      { action: "drop", protocol: "icmp", ports: [1] },
      { action: "drop", ports: 80 },
    ]);
    expect(issues).toEqual([
      { property: "firewallRules[0].ports[0]", reason: "must be an integer port from 1 to 65535, got 0" },
      { property: "firewallRules[0].ports[1]", reason: "must be an integer port from 1 to 65535, got 65536" },
      { property: "firewallRules[0].ports[2]", reason: "must be an integer port from 1 to 65535, got 1.5" },
      { property: "firewallRules[0].ports[3]", reason: 'must be an integer port from 1 to 65535, got "80"' },
      { property: "firewallRules[0].ports[5]", reason: "port 443 is listed twice" },
      { property: "firewallRules[1].ports", reason: "must list at least one port (leave it out to match all ports)" },
      { property: "firewallRules[2].ports", reason: "range is empty: from (2000) is greater than to (1000)" },
      { property: "firewallRules[3].ports.upto", reason: 'unknown property; a port range has "from" and "to"' },
      { property: "firewallRules[3].ports.to", reason: "must be an integer port from 1 to 65535, got nothing" },
      { property: "firewallRules[4].ports", reason: 'ports only apply to "tcp", "udp" or "any"; protocol is "icmp"' },
      { property: "firewallRules[5].ports", reason: "must be a list of ports (e.g. [80, 443]) or a range {from: 1000, to: 2000}, got 80" },
    ]);
  });

  it("checks that source and destination are networks (no host bits), of one family", () => {
    const issues = validateFirewallRules([
      { action: "drop", source: "10.0.0.1/24" },
      { action: "drop", destination: "10.0.0.0/33" },
      { action: "drop", source: "10.0.0.256" },
      { action: "drop", source: "2001:db8::1/32" },
      { action: "drop", source: "10.0.0.0/8", destination: "2001:db8::/32" },
      { action: "drop", source: 167772160 },
      { action: "drop", source: "1:2:3:4:5:6:7:8:9" },
    ]);
    expect(issues).toEqual([
      { property: "firewallRules[0].source", reason: '"10.0.0.1/24" is not a network address: host bits are set (did you mean 10.0.0.0/24?)' },
      { property: "firewallRules[1].destination", reason: '"10.0.0.0/33" has an invalid prefix length: must be 0..32 for IPv4' },
      { property: "firewallRules[2].source", reason: '"10.0.0.256" is not an IPv4 or IPv6 network in CIDR notation (e.g. 10.0.5.0/24 or 2001:db8::/32)' },
      { property: "firewallRules[3].source", reason: '"2001:db8::1/32" is not a network address: host bits are set (did you mean 2001:db8::/32?)' },
      { property: "firewallRules[4].destination", reason: "is IPv6 but source is IPv4; a rule matches one address family" },
      { property: "firewallRules[5].source", reason: "must be a network in CIDR notation (e.g. 10.0.5.0/24), got 167772160" },
      { property: "firewallRules[6].source", reason: '"1:2:3:4:5:6:7:8:9" is not an IPv4 or IPv6 network in CIDR notation (e.g. 10.0.5.0/24 or 2001:db8::/32)' },
    ]);
  });

  it("keeps comments safe to embed in the ruleset", () => {
    expect(validateFirewallRules([
      { action: "drop", comment: 'say "hi"' },
      { action: "drop", comment: "back\\slash" },
      { action: "drop", comment: "line\nbreak" },
      { action: "drop", comment: "x".repeat(129) },
      { action: "drop", comment: 7 },
    ]).map((i) => `${i.property}: ${i.reason}`)).toEqual([
      "firewallRules[0].comment: only printable ASCII without double quotes or backslashes is allowed",
      "firewallRules[1].comment: only printable ASCII without double quotes or backslashes is allowed",
      "firewallRules[2].comment: only printable ASCII without double quotes or backslashes is allowed",
      "firewallRules[3].comment: at most 128 characters, got 129",
      "firewallRules[4].comment: must be a string, got 7",
    ]);
  });

  it("uses the caller's property path", () => {
    expect(validateFirewallRules([{ action: "x" }], "args.firewall")[0].property).toBe("args.firewall[0].action");
  });
});

describe("parseCidr", () => {
  it("canonicalises IPv4 and IPv6 networks", () => {
    expect((parseCidr("10.0.5.0/24") as ParsedCidr).text).toBe("10.0.5.0/24");
    expect((parseCidr("192.0.2.7") as ParsedCidr).text).toBe("192.0.2.7");
    expect((parseCidr("0.0.0.0/0") as ParsedCidr).text).toBe("0.0.0.0/0");
    expect((parseCidr("2001:0db8:0000:0000::/64") as ParsedCidr).text).toBe("2001:db8::/64");
    expect((parseCidr("::ffff:192.0.2.1") as ParsedCidr).text).toBe("::ffff:c000:201");
    expect(typeof parseCidr("010.0.0.0/8")).toBe("string"); // no octal-looking octets
  });

  it("round-trips every IPv4 network (property)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.integer({ min: 0, max: 32 }), (n, prefix) => {
        const size = 2 ** (32 - prefix);
        const net = Math.floor(n / size) * size;
        const text = [24, 16, 8, 0].map((s) => Math.floor(net / 2 ** s) % 256).join(".") + `/${prefix}`;
        const p = parseCidr(text) as ParsedCidr;
        expect(typeof p).toBe("object");
        expect(p.prefix).toBe(prefix);
        expect(prefix === 32 ? `${p.text}/32` : p.text).toBe(text);
        // and a host address inside it (if any) is refused with the right suggestion
        if (prefix < 32 && n !== net) {
          expect(parseCidr([24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join(".") + `/${prefix}`)).toContain(`did you mean ${text}?`);
        }
      }),
    );
  });
});

describe("build context", () => {
  it("holds the image files and the rendered firewall", () => {
    const rules: FirewallRule[] = [{ action: "drop", protocol: "tcp", ports: [8080] }];
    const ctx = buildContext(rules, { imageDir: IMAGE_DIR });
    expect([...ctx.files.keys()].sort()).toEqual([...IMAGE_FILES.map((f) => f.path), FIREWALL_FILE].sort());
    expect(ctx.files.get(FIREWALL_FILE)).toBe(renderFirewall(rules));
    expect(String(ctx.files.get("Dockerfile"))).toMatch(/^ARG BASE_IMAGE=debian:bookworm-slim$/m);
    expect(imageTag(ctx)).toBe(`dockwall:${ctx.digest.slice(0, 12)}`);
    expect(imageTag(ctx, "registry.example/fw")).toMatch(/^registry\.example\/fw:[0-9a-f]{12}$/);
  });

  it("has a stable digest that changes with the rules, the files and the build arguments", () => {
    const a = buildContext([], { imageDir: IMAGE_DIR });
    expect(buildContext([], { imageDir: IMAGE_DIR }).digest).toBe(a.digest);
    expect(buildContext([], {}).digest).toBe(a.digest); // default folder = provider/image
    expect(a.digest).toMatch(/^[0-9a-f]{64}$/);
    expect(buildContext([{ action: "drop" }], { imageDir: IMAGE_DIR }).digest).not.toBe(a.digest);
    expect(buildContext([], { imageDir: IMAGE_DIR, firewall: { defaultPolicy: "drop" } }).digest).not.toBe(a.digest);
    expect(buildContext([], { imageDir: IMAGE_DIR, buildArgs: { BASE_IMAGE: "debian:bookworm" } }).digest).not.toBe(a.digest);
  });

  it("refuses invalid rules before anything is built", () => {
    expect(() => buildContext([{ action: "drop", ports: [70000] }], { imageDir: IMAGE_DIR })).toThrow(/firewallRules\[0\]\.ports\[0\]/);
  });

  it("packs a valid, reproducible ustar archive", () => {
    const ctx = buildContext([], { imageDir: IMAGE_DIR });
    const tar = contextTar(ctx);
    expect(contextTar(buildContext([], { imageDir: IMAGE_DIR })).equals(tar)).toBe(true);
    expect(tar.length % 512).toBe(0);
    const seen: Record<string, { mode: number; data: string }> = {};
    let off = 0;
    while (off + 512 <= tar.length) {
      const h = tar.subarray(off, off + 512);
      if (h.every((b) => b === 0)) break;
      const nameEnd = h.indexOf(0);
      const name = h.subarray(0, nameEnd > 0 && nameEnd < 100 ? nameEnd : 100).toString();
      const size = parseInt(h.subarray(124, 136).toString().replace(/\0.*$/, ""), 8);
      const mode = parseInt(h.subarray(100, 108).toString().replace(/\0.*$/, ""), 8);
      const chk = parseInt(h.subarray(148, 156).toString().replace(/[\0 ].*$/, ""), 8);
      const copy = Buffer.from(h);
      copy.fill(0x20, 148, 156);
      expect(copy.reduce((s, b) => s + b, 0)).toBe(chk);
      expect(h.subarray(257, 263).toString()).toBe("ustar\0");
      seen[name] = { mode, data: tar.subarray(off + 512, off + 512 + size).toString() };
      off += 512 + Math.ceil(size / 512) * 512;
    }
    expect(Object.keys(seen).sort()).toEqual([...ctx.files.keys()].sort());
    expect(seen["dockwall-init"].mode).toBe(0o755);
    expect(seen["Dockerfile"].mode).toBe(0o644);
    expect(seen[FIREWALL_FILE].data).toBe(ctx.files.get(FIREWALL_FILE));
  });

  it("requires third-party modules inside functions only (it is serialized into dynamic providers)", () => {
    const src = fs.readFileSync(path.join(IMAGE_DIR, "build.ts"), "utf8") + fs.readFileSync(path.join(IMAGE_DIR, "firewall.ts"), "utf8");
    const topLevel = src.split("\n").filter((l) => /^(import|const|let|var)\b.*(require\(|from ")/.test(l) && !/^import type\b/.test(l));
    expect(topLevel.filter((l) => !/from "\.\/firewall"/.test(l))).toEqual([]);
  });
});

describe("buildImage (fake engine)", () => {
  function fakeDocker(lines: object[], id = "sha256:" + "a".repeat(64)) {
    const calls: { options?: Record<string, unknown>; tarBytes: number }[] = [];
    const docker: DockerLike = {
      async buildImage(file, options) {
        let n = 0;
        for await (const c of file as AsyncIterable<Buffer>) n += c.length;
        calls.push({ options, tarBytes: n });
        const out = new PassThrough();
        // split one message across chunks to exercise the line reassembly
        const text = lines.map((l) => JSON.stringify(l)).join("\r\n") + "\r\n";
        setImmediate(() => {
          out.write(text.slice(0, 7));
          out.end(text.slice(7));
        });
        return out;
      },
      getImage: () => ({ inspect: async () => ({ Id: id }) }),
    };
    return { docker, calls };
  }

  it("sends the context with the tag and BASE_IMAGE, streams progress, returns the image id", async () => {
    const ctx = buildContext([], { imageDir: IMAGE_DIR, buildArgs: { WITH_SSH: "0" } });
    const { docker, calls } = fakeDocker([
      { stream: "Step 1/2 : FROM x\n" },
      { aux: { ID: "sha256:" + "a".repeat(64) } },
      { stream: "Successfully built aaaaaaaaaaaa\n" },
    ]);
    const progress: string[] = [];
    const id = await buildImage(docker, ctx, imageTag(ctx), "debian:bookworm-slim", { onProgress: (l) => progress.push(l) });
    expect(id).toBe("sha256:" + "a".repeat(64));
    expect(calls[0].options).toMatchObject({
      t: imageTag(ctx),
      buildargs: { WITH_SSH: "0", BASE_IMAGE: "debian:bookworm-slim" },
      networkmode: "host",
      labels: { "dockwall.digest": ctx.digest },
    });
    expect(calls[0].tarBytes).toBe(contextTar(ctx).length);
    expect(progress).toEqual(["Step 1/2 : FROM x", "Successfully built aaaaaaaaaaaa"]);
  });

  it("fails with the builder's own message and the last output", async () => {
    const ctx = buildContext([], { imageDir: IMAGE_DIR });
    const { docker } = fakeDocker([
      { stream: "Step 4/14 : RUN apt-get update\n" },
      { errorDetail: { message: "The command '/bin/sh -c apt-get update' returned a non-zero code: 100" }, error: "x" },
    ]);
    await expect(buildImage(docker, ctx, "dockwall:t")).rejects.toThrow(
      /docker build of dockwall:t failed: The command '\/bin\/sh -c apt-get update' returned a non-zero code: 100\n--- last build output ---\nStep 4\/14/,
    );
  });

  it("refuses a tag that points elsewhere than what was built", async () => {
    const ctx = buildContext([], { imageDir: IMAGE_DIR });
    const { docker } = fakeDocker([{ aux: { ID: "sha256:" + "b".repeat(64) } }]);
    await expect(buildImage(docker, ctx, "dockwall:t")).rejects.toThrow(/built sha256:b+ but the tag points to sha256:a+/);
  });
});
