/**
 * The seed's demonstration on the real kernel, with the lab's data plane alone (no control plane):
 * three networks (left 10.0.0.0/24, right 10.0.1.0/24, mgmt 172.16.0.0/24), the dockwall image
 * built from provider/image (firewall: drop TCP 8080), booted like nova-docker boots it, a host
 * behind the left gateway (198.51.100.11, not on any attached network) and one behind the right
 * gateway (203.0.113.8, standing in for the seed's 8.8.8.8).
 *
 * Needs root, Docker and network namespaces. Missing pieces FAIL the tests (preflight), they never
 * skip. Everything created is removed by the lab's own record; the last test checks that.
 */
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import type { ChainSpec, LabNetwork, LabPort, SpawnRequest } from "../contracts";
import { LabDataPlane, preflight, vethNames, LAB_LABEL } from "./index";
import { buildContext, buildImage, imageTag } from "../../../provider/image/build";
import { run, netnsList, waitFor } from "./sys";

const timings: Record<string, number> = {};
const t0 = Date.now();
async function timed<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const s = Date.now();
  try {
    return await fn();
  } finally {
    timings[name] = (timings[name] ?? 0) + (Date.now() - s);
  }
}

function uuid(): string {
  return crypto.randomUUID();
}

function mac(): string {
  const b = crypto.randomBytes(5);
  return ["02", ...[...b].map((x) => x.toString(16).padStart(2, "0"))].join(":");
}

function net(name: string, cidr: string, gw: string): LabNetwork {
  return { id: uuid(), name, fqName: ["default-domain", "admin", name], cidr, gatewayIp: gw, enableDhcp: true };
}

function port(n: LabNetwork, ipAddress: string, deviceId = ""): LabPort {
  return { id: uuid(), networkId: n.id, macAddress: mac(), ipAddress, deviceId, deviceOwner: deviceId ? "compute:docker" : "" };
}

const norm = (s: string): string[] =>
  s
    .split("\n")
    .map((l) => l.replace(/\s+/g, " ").trim())
    .filter((l) => l);

describe("dockwall data plane: the seed's service chain on the real kernel", () => {
  const left = net("left", "10.0.0.0/24", "10.0.0.1");
  const right = net("right", "10.0.1.0/24", "10.0.1.1");
  const mgmt = net("mgmt", "172.16.0.0/24", "172.16.0.1");
  const serverId = uuid();
  const pL = port(left, "10.0.0.40", serverId);
  const pR = port(right, "10.0.1.40", serverId);
  const pM = port(mgmt, "172.16.0.36", serverId);
  const L = vethNames(pL.id).container;
  const R = vethNames(pR.id).container;
  const M = vethNames(pM.id).container;
  const chain: ChainSpec = {
    policyUuid: uuid(),
    ruleIndex: 0,
    leftNetworkId: left.id,
    rightNetworkId: right.id,
    direction: "<>",
    protocol: "any",
    hops: [{ serviceInstanceFqName: ["default-domain", "admin", "fw"], serverId, leftIp: pL.ipAddress, rightIp: pR.ipAddress }],
  };
  let dp: LabDataPlane;
  let tag = "";
  let imageFile = "";
  let srcNs = ""; // 198.51.100.11, behind the left gateway
  let dstNs = ""; // 203.0.113.8, behind the right gateway
  let vmNs = ""; // a test VM on the left network
  const pVm = port(left, "10.0.0.11");
  let cleanedUp = false;

  const sh = async (cmd: string): Promise<string> => {
    const r = await dp.exec(serverId, ["sh", "-c", cmd]);
    if (r.code !== 0) throw new Error(`in container: ${cmd}: exit ${r.code}\n${r.stderr}${r.stdout}`);
    return r.stdout;
  };

  const waitReady = (what: string): Promise<unknown> =>
    waitFor(what, async () => (await dp.exec(serverId, ["test", "-e", "/run/dockwall/ready"])).code === 0, 90_000, 250);

  /** §6.8: rules, main, both tables, exactly (no duplicates); returns the text for the log. */
  async function expectSeedPicture(label: string): Promise<string> {
    const rules = await sh("ip rule show");
    const main = await sh("ip route show");
    const tl = await sh(`ip route show table ${L}`);
    const tr = await sh(`ip route show table ${R}`);
    expect(norm(rules)).toEqual([
      "0: from all lookup local",
      `32764: from all iif ${R} lookup ${L}`,
      `32765: from all iif ${L} lookup ${R}`,
      "32766: from all lookup main",
      "32767: from all lookup default",
    ]);
    expect(norm(main)).toEqual([
      `default via 172.16.0.1 dev ${M}`,
      `10.0.0.0/24 dev ${L} proto kernel scope link src 10.0.0.40`,
      `10.0.1.0/24 dev ${R} proto kernel scope link src 10.0.1.40`,
      `172.16.0.0/24 dev ${M} proto kernel scope link src 172.16.0.36`,
    ]);
    expect(norm(tl)).toEqual([`default via 10.0.0.1 dev ${L}`, `10.0.0.0/24 dev ${L} scope link src 10.0.0.40`]);
    expect(norm(tr)).toEqual([`default via 10.0.1.1 dev ${R}`, `10.0.1.0/24 dev ${R} scope link src 10.0.1.40`]);
    const rt = norm(await sh("grep -v '^#' /etc/iproute2/rt_tables"));
    expect(rt.filter((l) => l === `2 ${L}`)).toHaveLength(1);
    expect(rt.filter((l) => l === `3 ${R}`)).toHaveLength(1);
    expect(rt.filter((l) => /^[23] /.test(l))).toHaveLength(2);
    return [
      `--- ${label} ---`,
      "# ip rule show",
      rules.trimEnd(),
      "# ip route show",
      main.trimEnd(),
      `# ip route show table ${L}`,
      tl.trimEnd(),
      `# ip route show table ${R}`,
      tr.trimEnd(),
    ].join("\n");
  }

  beforeAll(async () => {
    await timed("preflight (docker.sh, base-image.sh, checks)", () => preflight());
    dp = new LabDataPlane({ containerEnv: ["DOCKWALL_SSH=1"], log: (m) => console.log(`[lab] ${m}`) });
    const ctx = buildContext([{ action: "drop", protocol: "tcp", ports: [8080], comment: "lab: block 8080" }]);
    tag = imageTag(ctx);
    const id = await timed("image build", () => buildImage(dp.docker, ctx, tag));
    console.log(`[lab] built ${tag} = ${id}`);
    const info = await dp.docker.getImage(tag).inspect();
    console.log(`[lab] image size: ${(info.Size / 1e6).toFixed(1)} MB`);
    // The "Glance" copy: docker save, then drop the tag so that spawn has to `docker load` it
    // (noprune keeps the build cache).
    imageFile = path.join(dp.runDir, "glance-image.tar");
    await timed("docker save", async () => {
      const stream = await dp.docker.getImage(tag).get();
      await new Promise<void>((resolve, reject) => {
        const out = fs.createWriteStream(imageFile);
        stream.pipe(out);
        out.on("finish", () => resolve());
        stream.on("error", reject);
        out.on("error", reject);
      });
    });
    await dp.docker.getImage(tag).remove({ noprune: true });
    for (const n of [left, right, mgmt]) await dp.networkChanged(n);
    for (const [p, n] of [[pL, left], [pR, right], [pM, mgmt]] as const) await dp.portCreated(p, n);
  }, 900_000);

  afterAll(async () => {
    if (dp && !cleanedUp) await dp.cleanup();
    timings["total (file)"] = Date.now() - t0;
    console.log(
      "[lab] timings:\n" +
        Object.entries(timings)
          .map(([k, v]) => `  ${k}: ${(v / 1000).toFixed(1)} s`)
          .join("\n"),
    );
  }, 120_000);

  it("spawn loads the image, runs it like nova-docker and plugs the ports in template order", async () => {
    const req: SpawnRequest = {
      serverId,
      serverName: "fw_1",
      host: "computedocker",
      imageName: tag,
      imageId: uuid(),
      imageProperties: {},
      openImageData: () => fs.createReadStream(imageFile),
      ports: [pL, pR, pM],
      networks: [left, right, mgmt],
    };
    await timed("spawn (load + create + plug)", () => dp.spawn(req));
    await timed("boot to ready (3 DHCP leases)", () => waitReady("dockwall-init ready"));
    expect(dp.recorded().images).toContain(tag);

    const { containerId } = await dp.server(serverId);
    const info = await dp.docker.getContainer(containerId).inspect();
    expect(info.HostConfig.NetworkMode).toBe("none");
    expect(info.HostConfig.CapAdd).toEqual(["NET_ADMIN"]);
    expect(info.HostConfig.Privileged).toBe(false);
    expect(info.HostConfig.Sysctls ?? {}).toEqual({});
    expect(info.Config.Labels[LAB_LABEL]).toBe(dp.runId);

    // ns<port[:8]> names, port MACs, and ifindex order = plug order.
    const links = (await sh("ip -o link show")).split("\n").filter((l) => / ns[0-9a-f]{8}[@:]/.test(l));
    const parsed = links.map((l) => {
      const m = /^(\d+): (ns[0-9a-f]{8})@\S+ .* link\/ether ([0-9a-f:]{17})/.exec(l);
      if (!m) throw new Error(`unexpected ip link line: ${l}`);
      return { index: Number(m[1]), name: m[2], mac: m[3] };
    });
    parsed.sort((a, b) => a.index - b.index);
    expect(parsed.map((p) => p.name)).toEqual([L, R, M]);
    expect(parsed.map((p) => p.mac)).toEqual([pL.macAddress, pR.macAddress, pM.macAddress]);
    expect((await sh("cat /run/dockwall/roles")).trim()).toBe(`left=${L} right=${R} mgmt=${M}`);
    console.log(`[lab] container interfaces (ip -br addr):\n${await sh("ip -br addr")}`);
  }, 180_000);

  it("the container's rules and tables match the seed picture (§6.8), kernel settings and resolver are right", async () => {
    console.log(await expectSeedPicture("after boot"));
    for (const k of ["all", "default", L, R, M]) {
      expect((await sh(`cat /proc/sys/net/ipv4/conf/${k}/forwarding`)).trim()).toBe("1");
      expect(["0", "2"]).toContain((await sh(`cat /proc/sys/net/ipv4/conf/${k}/rp_filter`)).trim());
    }
    const log = await dp.logs(serverId);
    expect(log).toMatch(/kernel settings ok/);
    expect(log).toMatch(/firewall: loaded \/etc\/dockwall\/firewall.nft \(1 rule\(s\), accept otherwise\)/);
    // resolv.conf from the management lease only, written in place (no SYS_ADMIN).
    expect(norm(await sh("grep nameserver /etc/resolv.conf"))).toEqual(["nameserver 172.16.0.1"]);
    // sshd (DOCKWALL_SSH=1) listens on the management address only.
    await waitFor("sshd listening", async () => (await sh("ss -ltnH")).includes(":22"), 10_000);
    const listen = norm(await sh("ss -ltnH")).map((l) => l.split(" ")[3]);
    expect(listen).toEqual(["172.16.0.36:22"]);
  }, 60_000);

  it("without a chain the left and right networks are isolated", async () => {
    srcNs = (await dp.addRemoteHost(left.id, "198.51.100.0/24", "198.51.100.11")).ns;
    dstNs = (await dp.addRemoteHost(right.id, "203.0.113.0/24", "203.0.113.8")).ns;
    vmNs = (await dp.addTestHost(left, pVm)).ns; // a VM on the left network, 10.0.0.11
    expect(await dp.ping(vmNs, "10.0.0.40", 1)).toBe(true); // on-link: the container's left address
    expect(await dp.ping(srcNs, "10.0.0.11", 1)).toBe(true); // the host behind the left gateway reaches the left network
    expect(await dp.ping(srcNs, "203.0.113.8", 2, 1)).toBe(false);
    expect(await dp.ping(vmNs, "203.0.113.8", 2, 1)).toBe(false);
    expect(await dp.ping(srcNs, "10.0.1.40", 2, 1)).toBe(false);
    expect(await dp.chainRoutes(left.id)).toEqual([]);
    expect(await dp.chainRoutes(right.id)).toEqual([]);
  }, 60_000);

  it("with the chain, 198.51.100.11 reaches 203.0.113.8 through the container: tcpdump sees request and reply on left and right, no static route inside", async () => {
    await dp.chainsChanged([chain]);
    console.log(`[lab] left gateway namespace chain routes: ${JSON.stringify(await dp.chainRoutes(left.id))}`);
    console.log(`[lab] right gateway namespace chain routes: ${JSON.stringify(await dp.chainRoutes(right.id))}`);
    expect(await dp.chainRoutes(left.id)).toEqual(
      expect.arrayContaining([expect.stringMatching(/^203\.0\.113\.0\/24 via 10\.0\.0\.40 /), expect.stringMatching(/^10\.0\.1\.0\/24 via 10\.0\.0\.40 /)]),
    );
    expect(await dp.chainRoutes(right.id)).toEqual(
      expect.arrayContaining([expect.stringMatching(/^198\.51\.100\.0\/24 via 10\.0\.1\.40 /), expect.stringMatching(/^10\.0\.0\.0\/24 via 10\.0\.1\.40 /)]),
    );
    let ok = false;
    let rightLines: string[] = [];
    const leftLines = await timed("capture + ping", () =>
      dp.capture(serverId, L, "icmp", async () => {
        rightLines = await dp.capture(serverId, R, "icmp", async () => {
          ok = await dp.ping(srcNs, "203.0.113.8", 5);
        });
      }),
    );
    console.log(`[lab] # tcpdump -nS -i ${L} (left) inside the container\n${leftLines.join("\n")}`);
    console.log(`[lab] # tcpdump -nS -i ${R} (right) inside the container\n${rightLines.join("\n")}`);
    expect(ok).toBe(true);
    // A VM on the left network goes the same way (its gateway hands the packet back to the SI).
    expect(await dp.ping(vmNs, "203.0.113.8", 2)).toBe(true);
    for (const lines of [leftLines, rightLines]) {
      expect(lines.filter((l) => /IP 198\.51\.100\.11 > 203\.0\.113\.8: ICMP echo request/.test(l)).length).toBeGreaterThanOrEqual(5);
      expect(lines.filter((l) => /IP 203\.0\.113\.8 > 198\.51\.100\.11: ICMP echo reply/.test(l)).length).toBeGreaterThanOrEqual(5);
    }
    // Neither end is on an attached network, and the container got no route for them.
    const allRoutes = await sh(`ip route show table all | grep -v '^local\\|^broadcast\\|^multicast\\|^fe80\\|^ff00\\|^::1\\|^anycast' || true`);
    expect(allRoutes).not.toMatch(/198\.51\.100|203\.0\.113/);
    await expectSeedPicture("with the chain");
  }, 60_000);

  it("the firewall (baked into the image) drops TCP 8080 while TCP 8081 and ICMP pass", async () => {
    const l1 = await dp.tcpListener(dstNs, "203.0.113.8", 8080);
    const l2 = await dp.tcpListener(dstNs, "203.0.113.8", 8081);
    try {
      const pass = await dp.tcpConnect(srcNs, "203.0.113.8", 8081);
      const blocked = await dp.tcpConnect(srcNs, "203.0.113.8", 8080, 1500);
      console.log(`[lab] tcp 8081: ${pass.detail}; tcp 8080: ${blocked.detail}`);
      expect(pass.ok).toBe(true);
      expect(blocked.ok).toBe(false);
      expect(blocked.detail).toBe("TIMEOUT");
      expect(await dp.ping(srcNs, "203.0.113.8", 2)).toBe(true);
      const ruleset = await sh("nft list table inet dockwall");
      console.log(`[lab] # nft list table inet dockwall\n${ruleset}`);
      const m = /tcp dport 8080 counter packets (\d+) .* drop/.exec(ruleset);
      expect(m && Number(m[1])).toBeGreaterThan(0);
    } finally {
      await l1.stop();
      await l2.stop();
    }
  }, 60_000);

  it("a forced lease renewal (dhclient restarted: REBOOT exchange; BOUND/RENEW/REBIND through dhclient-script) leaves the same tables and rules", async () => {
    await timed("renewal", async () => {
      await sh("rm -f /run/dockwall/lease.*");
      await sh("dockwall-ctl renew");
      await waitFor(
        "REBOOT leases on all three interfaces",
        async () => {
          const r = await dp.exec(serverId, ["sh", "-c", "cat /run/dockwall/lease.* 2>/dev/null"]);
          return norm(r.stdout).filter((l) => l.startsWith("REBOOT ")).length === 3;
        },
        60_000,
      );
    });
    console.log(await expectSeedPicture("after dhclient restart (REBOOT)"));

    // The other reasons, through the real dhclient-script and hooks, with two routers in option 3
    // (the Contrail agent appends the gateway): dhclient-script puts both defaults into main
    // (metrics 1 and 2); the hook must remove them and use the first router only.
    const lease = (reason: string, ifc: string, ipAddr: string, netNum: string, routers: string): string =>
      `env reason=${reason} interface=${ifc} new_ip_address=${ipAddr} old_ip_address=${ipAddr} ` +
      `new_subnet_mask=255.255.255.0 new_network_number=${netNum} new_broadcast_address=${netNum.replace(/0$/, "255")} ` +
      `new_routers='${routers}' new_dhcp_lease_time=43200 /sbin/dhclient-script`;
    for (const reason of ["BOUND", "RENEW", "REBIND", "REBOOT"]) {
      await sh(lease(reason, L, "10.0.0.40", "10.0.0.0", "10.0.0.1 10.0.0.254"));
      await sh(lease(reason, R, "10.0.1.40", "10.0.1.0", "10.0.1.1 10.0.1.254"));
      await sh(lease(reason, M, "172.16.0.36", "172.16.0.0", "172.16.0.1 172.16.0.254"));
    }
    console.log(await expectSeedPicture("after BOUND/RENEW/REBIND/REBOOT via dhclient-script"));
    expect(await dp.ping(srcNs, "203.0.113.8", 3)).toBe(true);
  }, 120_000);

  it("after a container restart (new namespace, ports plugged again, REBOOT from the persisted lease) the state is the same and traffic flows", async () => {
    await timed("restart to ready", async () => {
      await dp.reboot(serverId);
      await waitReady("dockwall-init ready after restart");
    });
    expect((await sh(`cat /run/dockwall/lease.${L}`)).trim()).toBe("REBOOT 10.0.0.40");
    console.log(await expectSeedPicture("after docker restart"));
    expect(norm(await sh("nft list tables"))).toEqual(["table inet dockwall"]);
    expect(await dp.ping(srcNs, "203.0.113.8", 3)).toBe(true);
    const blocked = await dp.tcpConnect(srcNs, "203.0.113.8", 8080, 1000);
    expect(blocked.ok).toBe(false);
  }, 120_000);

  it("removing the chain removes the routes: isolated again", async () => {
    await dp.chainsChanged([]);
    expect(await dp.chainRoutes(left.id)).toEqual([]);
    expect(await dp.chainRoutes(right.id)).toEqual([]);
    expect(await dp.ping(srcNs, "203.0.113.8", 2, 1)).toBe(false);
  }, 30_000);

  it("destroy removes the container and its veths; an unknown server is already done", async () => {
    const { containerId } = await dp.server(serverId);
    await dp.destroy(serverId);
    await expect(dp.docker.getContainer(containerId).inspect()).rejects.toMatchObject({ statusCode: 404 });
    for (const p of [pL, pR, pM]) {
      const r = await run(["ip", "-o", "link", "show"], { allowFail: true });
      expect(r.stdout).not.toContain(vethNames(p.id).host);
    }
    await dp.destroy(uuid());
  }, 30_000);

  it("cleanup removes exactly what the lab recorded, and nothing it created remains", async () => {
    const before = dp.recorded();
    expect(before.namespaces.length).toBeGreaterThanOrEqual(5);
    const removed = await dp.cleanup();
    cleanedUp = true;
    console.log(`[lab] cleanup removed:\n  ${removed.join("\n  ")}`);
    const ns = await netnsList();
    for (const n of before.namespaces) expect(ns).not.toContain(n);
    const ps = await run(["docker", "ps", "-a", "-q", "--filter", `label=${LAB_LABEL}=${dp.runId}`]);
    expect(ps.stdout.trim()).toBe("");
    const links = (await run(["ip", "-o", "link", "show"])).stdout;
    for (const v of before.veths) expect(links).not.toContain(v.name);
    for (const p of before.processes) expect(fs.existsSync(`/proc/${p.pid}`) && fs.readFileSync(`/proc/${p.pid}/cmdline`, "utf8").includes(p.match)).toBe(false);
    expect(fs.existsSync(dp.runDir)).toBe(false);
  }, 60_000);
});
