/**
 * The dockwall image's own behaviour on the real kernel, one short-lived container per case
 * (dummy interfaces instead of plugged veths, no DHCP server):
 *  - the DHCP exit hook through Debian's real dhclient-script, per reason (§6.5);
 *  - dockwall-init's role discovery (ifindex order, DOCKWALL_ROLES), its bounded wait, and its
 *    kernel-settings check (fixes when it can, says so clearly when it cannot).
 *
 * Needs Docker (preflight fails the file otherwise). Containers are labelled dockwall.lab,
 * named dw-img-…, and removed (--rm / force) by this file.
 */
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import * as crypto from "crypto";
import Dockerode from "dockerode";
import { preflight, LAB_LABEL } from "./index";
import { buildContext, buildImage, imageTag } from "../../../provider/image/build";
import { run, sleep, waitFor } from "./sys";

const runId = `img-${Date.now().toString(36)}-${crypto.randomBytes(2).toString("hex")}`;
const started: string[] = [];
const hostVeths: string[] = [];
let tag = "";

function name(): string {
  const n = `dw-img-${crypto.randomBytes(4).toString("hex")}`;
  started.push(n);
  return n;
}

/** Run a bash script in a fresh container of the image (no network, NET_ADMIN), return stdout. */
async function script(body: string, extraArgs: string[] = []): Promise<string> {
  const setup = [
    "set -u",
    // left, right (listed in rt_tables like dockwall-init writes them), management.
    // (veth pairs: this kernel may lack the dummy driver; the p* peers stay in the container)
    "for i in nsaaaaaaaa nsbbbbbbbb nscccccccc nsaaaa; do ip link add $i type veth peer name p$i; ip link set p$i up; ip link set $i up; done",
    "printf '2\\tnsaaaaaaaa\\n3\\tnsbbbbbbbb\\n' >> /etc/iproute2/rt_tables",
    "mkdir -p /run/dockwall",
    // prints only a failure: "dhclient-script exit N"
    "dhcp() { env \"$@\" /sbin/dhclient-script >/dev/null 2>&1; rc=$?; [ $rc = 0 ] || echo \"dhclient-script exit $rc\"; }",
    "show() { echo \"== $1\"; shift; \"$@\" | sed 's/ *$//'; }",
  ].join("\n");
  const r = await run(
    [
      "docker", "run", "--rm", "--name", name(), "--label", `${LAB_LABEL}=${runId}`,
      "--network", "none", "--cap-add", "NET_ADMIN", ...extraArgs,
      "--entrypoint", "/bin/bash", tag, "-c", `${setup}\n${body}`,
    ],
    { allowFail: true, timeoutMs: 60_000 },
  );
  if (r.code !== 0) throw new Error(`container script failed (${r.code}):\n${r.stderr}\n${r.stdout}`);
  return r.stdout;
}

/** Sections "== name" of a script's output. */
function sections(out: string): Record<string, string[]> {
  const res: Record<string, string[]> = {};
  let cur = "_";
  for (const line of out.split("\n")) {
    const m = /^== (.*)$/.exec(line);
    if (/ dhclient-hook\[/.test(line)) {
      // the hook's own log (to PID 1's output, here the test script)
      (res.hooklog ??= []).push(line);
    } else if (m) {
      cur = m[1];
      res[cur] = [];
    } else if (line.trim()) {
      (res[cur] ??= []).push(line.replace(/\s+/g, " ").trim());
    }
  }
  return res;
}

beforeAll(async () => {
  await preflight();
  const ctx = buildContext([]);
  tag = imageTag(ctx);
  await buildImage(new Dockerode(), ctx, tag);
}, 900_000);

// File level: after both describes (a failed test may leave its container behind).
afterAll(async () => {
  for (const n of started) await run(["docker", "rm", "-f", n], { allowFail: true });
  // Host ends die with their container's namespace; delete any that did not.
  for (const v of hostVeths) await run(["ip", "link", "del", v], { allowFail: true });
  const left = await run(["docker", "ps", "-aq", "--filter", `label=${LAB_LABEL}=${runId}`]);
  expect(left.stdout.trim()).toBe("");
}, 60_000);

const L = "nsaaaaaaaa";
const LEFT_BOUND = `reason=BOUND interface=${L} new_ip_address=10.0.0.40 new_subnet_mask=255.255.255.192 new_network_number=10.0.0.0 new_broadcast_address=10.0.0.63 'new_routers=10.0.0.1 10.0.0.2' new_dhcp_lease_time=3600`;

describe("dockwall image: DHCP exit hook through the real dhclient-script", () => {
  it("BOUND on left: first router, prefix from the mask, routes in the interface's table, none in main", async () => {
    const s = sections(
      await script(`dhcp ${LEFT_BOUND}\nshow main ip route show\nshow table ip route show table ${L}\nshow lease cat /run/dockwall/lease.${L}`),
    );
    expect(s._ ?? []).toEqual([]);
    expect(s.main).toEqual([`10.0.0.0/26 dev ${L} proto kernel scope link src 10.0.0.40`]);
    expect(s.table).toEqual([`default via 10.0.0.1 dev ${L}`, `10.0.0.0/26 dev ${L} scope link src 10.0.0.40`]);
    expect(s.lease).toEqual(["BOUND 10.0.0.40"]);
    expect(s.hooklog.join("\n")).toMatch(/removed 2 default route\(s\) via nsaaaaaaaa from table main/);
  }, 60_000);

  it("REBOOT, RENEW and REBIND repeat BOUND without duplicates; an address change flushes the table first", async () => {
    const out = await script(
      [
        `dhcp ${LEFT_BOUND}`,
        `dhcp ${LEFT_BOUND.replace("BOUND", "REBOOT")}`,
        `dhcp ${LEFT_BOUND.replace("BOUND", "RENEW")} old_ip_address=10.0.0.40`,
        `dhcp ${LEFT_BOUND.replace("BOUND", "REBIND")} old_ip_address=10.0.0.40`,
        `show same ip route show table ${L}`,
        // The server hands out another address: dhclient-script swaps it, the hook rebuilds the table.
        `dhcp ${LEFT_BOUND.replace("BOUND", "RENEW").replace("new_ip_address=10.0.0.40", "new_ip_address=10.0.0.41")} old_ip_address=10.0.0.40`,
        `show changed ip route show table ${L}`,
        `show main ip route show`,
      ].join("\n"),
    );
    const s = sections(out);
    expect(s._ ?? []).toEqual([]);
    expect(s.same).toEqual([`default via 10.0.0.1 dev ${L}`, `10.0.0.0/26 dev ${L} scope link src 10.0.0.40`]);
    expect(s.changed).toEqual([`default via 10.0.0.1 dev ${L}`, `10.0.0.0/26 dev ${L} scope link src 10.0.0.41`]);
    expect(s.main).toEqual([`10.0.0.0/26 dev ${L} proto kernel scope link src 10.0.0.41`]);
  }, 60_000);

  it("EXPIRE, FAIL, RELEASE and STOP flush the left/right table; PREINIT does nothing", async () => {
    const out = await script(
      [
        `dhcp reason=PREINIT interface=${L}`,
        `show preinit ip route show table ${L}`,
        ...["EXPIRE", "FAIL", "RELEASE", "STOP"].flatMap((r) => [
          `dhcp ${LEFT_BOUND}`,
          `dhcp reason=${r} interface=${L} old_ip_address=10.0.0.40 old_subnet_mask=255.255.255.192`,
          `show ${r} ip route show table ${L}`,
          `echo lease=$(cat /run/dockwall/lease.${L} 2>/dev/null || echo none)`,
        ]),
      ].join("\n"),
    );
    const s = sections(out);
    expect(s.preinit ?? []).toEqual([]);
    for (const r of ["EXPIRE", "FAIL", "RELEASE", "STOP"]) {
      // what follows each header: nothing from the table, then the lease marker
      const next = s[r];
      expect(next).toEqual(["lease=none"]);
    }
  }, 60_000);

  it("the interface name must match an rt_tables entry exactly (a prefix of a left name is management)", async () => {
    const s = sections(
      await script(
        [
          `dhcp reason=BOUND interface=nsaaaa new_ip_address=172.16.0.36 new_subnet_mask=255.255.255.0 new_network_number=172.16.0.0 new_routers=172.16.0.1`,
          "show main ip route show",
        ].join("\n"),
      ),
    );
    expect(s.main).toEqual(["default via 172.16.0.1 dev nsaaaa", "172.16.0.0/24 dev nsaaaa proto kernel scope link src 172.16.0.36"]);
  }, 60_000);

  it("management with two routers keeps exactly one main default, via the first; only management writes resolv.conf (in place)", async () => {
    const s = sections(
      await script(
        [
          "before=$(stat -c %i /etc/resolv.conf)",
          `dhcp ${LEFT_BOUND} new_domain_name_servers=10.0.0.1`,
          "show afterleft grep nameserver /etc/resolv.conf",
          `dhcp reason=BOUND interface=nscccccccc new_ip_address=172.16.0.36 new_subnet_mask=255.255.255.0 new_network_number=172.16.0.0 'new_routers=172.16.0.1 172.16.0.254' new_domain_name_servers=172.16.0.1 new_domain_name=lab.example`,
          "show main ip route show",
          "show resolv grep -v '^#' /etc/resolv.conf",
          'echo "== inode"; [ "$(stat -c %i /etc/resolv.conf)" = "$before" ] && echo same || echo replaced',
          "show mounted sh -c 'grep -c \" /etc/resolv.conf \" /proc/self/mountinfo'",
        ].join("\n"),
      ),
    );
    expect(s.afterleft).not.toContain("nameserver 10.0.0.1");
    expect(s.main).toEqual([
      "default via 172.16.0.1 dev nscccccccc",
      `10.0.0.0/26 dev ${L} proto kernel scope link src 10.0.0.40`,
      "172.16.0.0/24 dev nscccccccc proto kernel scope link src 172.16.0.36",
    ]);
    expect(s.resolv).toEqual(["domain lab.example", "search lab.example", "nameserver 172.16.0.1"]);
    expect(s.inode).toEqual(["same"]);
    expect(s.mounted).toEqual(["1"]); // still Docker's bind mount, never unmounted
  }, 60_000);

  it("option 121 on left goes into the left table (never main) and the table still gets its default", async () => {
    const s = sections(
      await script(
        [
          `dhcp ${LEFT_BOUND} 'new_rfc3442_classless_static_routes=24 198 51 100 10 0 0 1'`,
          "show main ip route show",
          `show table ip route show table ${L}`,
        ].join("\n"),
      ),
    );
    expect(s.main).toEqual([`10.0.0.0/26 dev ${L} proto kernel scope link src 10.0.0.40`]);
    expect(s.table).toEqual([
      `default via 10.0.0.1 dev ${L}`,
      `10.0.0.0/26 dev ${L} scope link src 10.0.0.40`,
      `198.51.100.0/24 via 10.0.0.1 dev ${L}`,
    ]);
  }, 60_000);

  it("TIMEOUT: a re-used lease is handled like BOUND; a failed one is left alone", async () => {
    const s = sections(
      await script(
        [
          "mkdir -p /tmp/fake && printf '#!/bin/sh\\nexit 0\\n' > /tmp/fake/ping && chmod +x /tmp/fake/ping",
          `dhcp PATH=/tmp/fake:$PATH ${LEFT_BOUND.replace("BOUND", "TIMEOUT")}`,
          "show ok-main ip route show",
          `show ok-table ip route show table ${L}`,
          "ip addr flush dev nsbbbbbbbb",
          // the router does not answer (real ping, no such host): dhclient-script gives up
          'echo "== failed"',
          `dhcp reason=TIMEOUT interface=nsbbbbbbbb new_ip_address=10.0.1.40 new_subnet_mask=255.255.255.0 new_network_number=10.0.1.0 new_routers=10.0.1.1`,
          "show failed-table ip route show table nsbbbbbbbb",
        ].join("\n"),
      ),
    );
    expect(s["ok-main"]).toEqual([`10.0.0.0/26 dev ${L} proto kernel scope link src 10.0.0.40`]);
    expect(s["ok-table"]).toEqual([`default via 10.0.0.1 dev ${L}`, `10.0.0.0/26 dev ${L} scope link src 10.0.0.40`]);
    expect(s.failed).toEqual(["dhclient-script exit 2"]);
    expect(s["failed-table"]).toEqual([]);
  }, 60_000);
});

describe("dockwall image: dockwall-init", () => {
  /**
   * Start the image normally, then plug veths in order like the VIF driver does: created in the
   * host namespace (host ends dw-t<hex>, recorded for cleanup), container end moved in by pid.
   */
  async function boot(ifaces: string[], env: string[] = [], extra: string[] = []): Promise<string> {
    const n = name();
    await run([
      "docker", "run", "-d", "--name", n, "--label", `${LAB_LABEL}=${runId}`, "--network", "none",
      "--cap-add", "NET_ADMIN", "-e", "DOCKWALL_DHCP_WAIT=1", ...env.flatMap((e) => ["-e", e]), ...extra, tag,
    ]);
    const pid = (await run(["docker", "inspect", "-f", "{{.State.Pid}}", n])).stdout.trim();
    await sleep(300);
    for (const i of ifaces) {
      const hostEnd = `dw-t${crypto.randomBytes(4).toString("hex")}`;
      hostVeths.push(hostEnd);
      await run(["ip", "link", "add", hostEnd, "type", "veth", "peer", "name", i]);
      await run(["ip", "link", "set", i, "netns", pid]);
    }
    return n;
  }
  const logs = async (n: string): Promise<string> => {
    const r = await run(["docker", "logs", n], { allowFail: true });
    return r.stdout + r.stderr;
  };
  /** The container's log once it matches `re` (the init logs its kernel-settings verdict after the roles). */
  const waitLog = (n: string, re: RegExp): Promise<string> =>
    waitFor(`${n} log ${re}`, async () => {
      const l = await logs(n);
      return re.test(l) ? l : null;
    }, 30_000);
  const readyRoles = (n: string): Promise<string> =>
    waitFor(`${n} roles`, async () => {
      const r = await run(["docker", "exec", n, "cat", "/run/dockwall/roles"], { allowFail: true });
      return r.code === 0 ? r.stdout.trim() : null;
    }, 30_000);

  it("maps roles by attach (ifindex) order, not by name, and writes tables and rules before DHCP", async () => {
    const n = await boot(["nszzzzzzzz", "nsaaaaaaaa", "nsmmmmmmmm"]);
    expect(await readyRoles(n)).toBe("left=nszzzzzzzz right=nsaaaaaaaa mgmt=nsmmmmmmmm");
    const rules = await run(["docker", "exec", n, "ip", "rule", "show"]);
    expect(rules.stdout).toContain("32765:\tfrom all iif nszzzzzzzz lookup nsaaaaaaaa");
    expect(rules.stdout).toContain("32764:\tfrom all iif nsaaaaaaaa lookup nszzzzzzzz");
    const log = await logs(n);
    expect(log.indexOf("rt_tables: 2 nszzzzzzzz, 3 nsaaaaaaaa")).toBeLessThan(log.indexOf("dhclient[nszzzzzzzz]"));
    await run(["docker", "rm", "-f", n]);
  }, 60_000);

  it("DOCKWALL_ROLES overrides the attach order", async () => {
    const n = await boot(["nsxxxxxxxx", "nsyyyyyyyy", "nswwwwwwww"], ["DOCKWALL_ROLES=left=nsyyyyyyyy,right=nswwwwwwww,mgmt=nsxxxxxxxx"]);
    expect(await readyRoles(n)).toBe("left=nsyyyyyyyy right=nswwwwwwww mgmt=nsxxxxxxxx");
    await run(["docker", "rm", "-f", n]);
  }, 60_000);

  it("gives up after the bounded wait with a clear message when left and right never appear", async () => {
    const n = await boot(["nsonlyone0"], ["DOCKWALL_IFACE_TIMEOUT=2"]);
    const state = await waitFor(`${n} exited`, async () => {
      const r = await run(["docker", "inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", n]);
      return r.stdout.startsWith("exited") ? r.stdout.trim() : null;
    }, 30_000);
    expect(state).toBe("exited 1");
    const log = await logs(n);
    expect(log).toMatch(/interface wait timed out after 2s with 1 of 3/);
    expect(log).toMatch(/FATAL: no left\/right interface \(left=nsonlyone0 right=none\)/);
    await run(["docker", "rm", "-f", n]);
  }, 60_000);

  it("kernel settings: wrong values it cannot fix (read-only /proc/sys) are logged as errors with the fix", async () => {
    // Docker may set namespaced sysctls at create time; the container itself cannot change them.
    const n = await boot(["nsaaaaaaaa", "nsbbbbbbbb", "nscccccccc"], [], [
      "--sysctl", "net.ipv4.conf.all.rp_filter=1",
      "--sysctl", "net.ipv4.conf.default.forwarding=0",
    ]);
    await readyRoles(n);
    const log = await waitLog(n, /kernel setting\(s\) wrong|kernel settings ok/);
    expect(log).toMatch(/ERROR: sysctl net\.ipv4\.conf\.all\.rp_filter=1 and it cannot be set to 2: \/proc\/sys is read-only/);
    expect(log).toMatch(/ERROR: sysctl net\.ipv4\.conf\.nsaaaaaaaa\.forwarding=0 and it cannot be set to 1/);
    expect(log).toMatch(/fix: start the container with --sysctl/);
    expect(log).toMatch(/ERROR: \d+ kernel setting\(s\) wrong and not fixable from inside/);
    await run(["docker", "rm", "-f", n]);
  }, 60_000);

  it("kernel settings: fixed when /proc/sys is writable", async () => {
    // systempaths=unconfined: Docker leaves /proc/sys writable (no --privileged needed).
    const n = await boot(["nsaaaaaaaa", "nsbbbbbbbb", "nscccccccc"], [], [
      "--security-opt", "systempaths=unconfined",
      "--sysctl", "net.ipv4.conf.all.rp_filter=1",
    ]);
    await readyRoles(n);
    const log = await waitLog(n, /kernel setting\(s\) wrong|kernel settings ok/);
    expect(log).toMatch(/sysctl net\.ipv4\.conf\.all\.rp_filter: 1 -> 2/);
    expect(log).toMatch(/kernel settings ok/);
    const r = await run(["docker", "exec", n, "cat", "/proc/sys/net/ipv4/conf/all/rp_filter", "/proc/sys/net/ipv4/conf/nsaaaaaaaa/rp_filter"]);
    expect(r.stdout.split("\n").filter(Boolean)).toEqual(["2", "2"]);
    await run(["docker", "rm", "-f", n]);
  }, 60_000);
});
