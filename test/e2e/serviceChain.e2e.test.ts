/**
 * The real Pulumi engine (built by test/support/engine.sh) driving the root service-chain stack
 * (Pulumi.yaml at the repository root, a program directory) against the lab with its real data
 * plane, through the Automation API with a file:// backend.
 *
 * The stack makes its own networks and subnets with @pulumi/openstack, through the
 * pulumi-resource-openstack plugin engine.sh installs, against the lab's Keystone and Neutron;
 * examples/reuse-component does the same beside it. (Stacks on existing network ids are covered by
 * the concurrency and fault tests.)
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Stack } from "@pulumi/pulumi/automation";
import { startLab, type Lab } from "../lab/control-plane";
import { LabDataPlane, preflight, vethNames, LAB_LABEL } from "../lab/data-plane";
import { netnsList, run, waitFor } from "../lab/data-plane/sys";
import { chainStack, DEFAULT_CIDRS, engineEnvironment, NetworkIds, repoRoot, Role, sessionFromEnv } from "./harness";
import { cachedEngine } from "../support/engine";
import { summarize } from "../../examples/ci-preview/summarize";

const BLOCK_8080 = [{ action: "drop", protocol: "tcp", ports: [8080], comment: "e2e: block 8080" }];
const BLOCK_8081 = [{ action: "drop", protocol: "tcp", ports: [8081], comment: "e2e: block 8081" }];
const BLOCK_8082 = [{ action: "drop", protocol: "tcp", ports: [8082], comment: "e2e: block 8082" }];

describe("pulumi up / preview / refresh / destroy of the service-chain stack against the lab", () => {
  let lab: Lab;
  let dp: LabDataPlane;
  let env: Record<string, string>;
  let nets: NetworkIds;
  let stack: Stack;
  let stateDir: string;
  let srcNs = "";
  let dstNs = "";
  const images = new Set<string>();
  const log: string[] = [];
  const onOutput = (s: string) => log.push(s);

  async function outputs(): Promise<Record<string, any>> {
    const o = await stack.outputs();
    return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, v.value]));
  }

  async function serverId(): Promise<string> {
    const ids = (await outputs()).serviceVmIds as string[];
    expect(ids).toHaveLength(1);
    return ids[0];
  }

  async function tcp(port: number): Promise<boolean> {
    const l = await dp.tcpListener(dstNs, "203.0.113.8", port);
    try {
      return (await dp.tcpConnect(srcNs, "203.0.113.8", port, 1500)).ok;
    } finally {
      await l.stop();
    }
  }

  async function waitTraffic(): Promise<void> {
    await lab.whenIdle();
    try {
      await waitFor("ping through the chain", async () => (await dp.ping(srcNs, "203.0.113.8", 2)) || undefined, 60_000, 500);
    } catch (e) {
      const sid = (await outputs()).serviceVmIds?.[0];
      const addr = sid ? (await dp.exec(sid, ["ip", "-br", "addr"]).catch((x) => ({ stdout: String(x) }))).stdout : "no server";
      const pol = lab.inventory().contrail["network-policy"];
      throw new Error(
        `${(e as Error).message}\nleft gateway routes: ${JSON.stringify(await dp.chainRoutes(nets.left))}\nright gateway routes: ${JSON.stringify(await dp.chainRoutes(nets.right))}\n` +
          `container ${sid}:\n${addr}\npolicies: ${JSON.stringify(pol)}\nlab log:\n${lab.logs().slice(-30).join("\n")}`,
      );
    }
  }

  beforeAll(async () => {
    await preflight();
    dp = new LabDataPlane({ log: (m) => console.log(`[lab] ${m}`) });
    lab = await startLab({ dataPlane: dp, svcMonitorDelayMs: 50 });
    // Stand-in for the hosts issue: the lab's Glance accepts docker (the controller step).
    lab.setGlanceContainerFormats(["bare", "docker"]);
    env = lab.env();
    stateDir = fs.mkdtempSync(path.join(os.tmpdir(), "dw-e2e-state-"));
    stack = await chainStack({ stackName: "e2e", stateDir, env, config: { "dockwall:namePrefix": "dw-e2e", "dockwall:firewallRules": BLOCK_8080 } });
  }, 600_000);

  afterAll(async () => {
    try {
      await stack?.destroy({ onOutput }).catch(() => undefined);
      await stack?.workspace.removeStack("e2e").catch(() => undefined); // and its Pulumi.e2e.yaml
    } finally {
      await lab?.stop();
      await dp?.cleanup();
      for (const i of images) await run(["docker", "rmi", "-f", i], { allowFail: true });
      if (stateDir) fs.rmSync(stateDir, { recursive: true, force: true });
      console.log(`[e2e] engine output (last 40 lines):\n${log.join("").split("\n").slice(-40).join("\n")}`);
    }
  }, 600_000);

  it("up creates the networks and the chain, and traffic flows through the container; the firewall drops TCP 8080", async () => {
    const up = await stack.up({ onOutput });
    expect(up.summary.result).toBe("succeeded");
    expect(up.summary.resourceChanges?.create).toBe(13); // stack, component, 3 networks, 3 subnets, 5 resources
    const o = await outputs();
    nets = o.networkIds;
    // The networks and subnets @pulumi/openstack made, as the lab's Neutron has them.
    const s = sessionFromEnv(env);
    for (const [role, cidr] of Object.entries(DEFAULT_CIDRS) as [Role, string][]) {
      const net = (await s.request("neutron", { call: "get network", method: "GET", path: `/v2.0/networks/${nets[role]}` })).json().network;
      expect(net).toMatchObject({ name: `dw-e2e-${role}`, admin_state_up: true, status: "ACTIVE" });
      const subnets = (await s.request("neutron", { call: "list subnets", method: "GET", path: `/v2.0/subnets?network_id=${nets[role]}` })).json().subnets;
      expect(subnets).toMatchObject([{ name: `dw-e2e-${role}-subnet`, cidr, ip_version: 4, enable_dhcp: true }]);
    }
    srcNs = (await dp.addRemoteHost(nets.left, "198.51.100.0/24", "198.51.100.11")).ns;
    dstNs = (await dp.addRemoteHost(nets.right, "203.0.113.0/24", "203.0.113.8")).ns;
    images.add(o.imageName);
    expect(o.imageName).toMatch(/^dockwall:[0-9a-f]{12}$/);
    expect(o.instanceFqName).toEqual(["default-domain", "admin", "dw-e2e-instance"]);
    await waitTraffic();
    expect(await tcp(8081)).toBe(true);
    expect(await tcp(8080)).toBe(false);
  }, 900_000);

  it("the exported state and the engine's output carry no plaintext password, application-credential secret or key", async () => {
    const state = JSON.stringify(await stack.exportStack());
    const secrets = [lab.admin.password, lab.member.password, lab.admin.applicationCredential.secret].filter((x) => x && x.length >= 8);
    expect(secrets.length).toBeGreaterThan(0);
    for (const secret of secrets) {
      expect(state.includes(secret)).toBe(false);
      expect(log.join("").includes(secret)).toBe(false);
    }
    expect(state).not.toMatch(/-----BEGIN (OPENSSH|RSA|EC) PRIVATE KEY-----\n/);
  });

  it("an immediate preview --expect-no-changes passes and makes no API request; refresh finds no drift", async () => {
    lab.counters.reset();
    const pv = await stack.preview({ expectNoChanges: true, onOutput });
    expect(pv.changeSummary).toEqual({ same: 13 });
    expect(lab.counters.total()).toBe(0);
    const rf = await stack.refresh({ onOutput });
    expect(rf.summary.resourceChanges).toEqual({ same: 13 });
  }, 300_000);

  it("a firewall rule change shows in preview which resources are replaced, up applies it, and traffic obeys the new rule", async () => {
    await stack.setConfig("dockwall:firewallRules", { value: JSON.stringify(BLOCK_8081) });
    const pv = await stack.preview({ diff: true, onOutput });
    // New content → new image → new image name → new template → new instance; the policy follows the instance.
    console.log(`[e2e] preview after the rule change: ${JSON.stringify(pv.changeSummary)}`);
    expect(pv.stdout).toMatch(/\+-pulumi-nodejs:dynamic\/dockwall:DockwallImage: \(replace\)/);
    expect(pv.stdout).toMatch(/\+-pulumi-nodejs:dynamic\/dockwall:ServiceTemplate: \(replace\)/);
    expect(pv.stdout).toMatch(/~ imageRef +: "dockwall:[0-9a-f]{12}" => "dockwall:[0-9a-f]{12}"/);
    expect(pv.stdout).toMatch(/~ \[0\]: 8080 => 8081/);
    expect(pv.stdout).not.toMatch(/DockerAggregate: \((replace|update)\)/);
    const up = await stack.up({ onOutput });
    expect(up.summary.result).toBe("succeeded");
    images.add((await outputs()).imageName);
    await waitTraffic();
    expect(await tcp(8080)).toBe(true);
    expect(await tcp(8081)).toBe(false);
  }, 900_000);

  it("a policy deleted behind the stack's back is found by refresh and repaired by up", async () => {
    const { policyUuid } = await outputs();
    const s = sessionFromEnv(env);
    for (const vn of [nets.left, nets.right]) {
      await s.request("contrail", { call: "detach", method: "POST", path: "/ref-update", json: { operation: "DELETE", type: "virtual-network", uuid: vn, "ref-type": "network-policy", "ref-uuid": policyUuid } });
    }
    await s.request("contrail", { call: "delete policy", method: "DELETE", path: `/network-policy/${policyUuid}` });
    await lab.whenIdle();
    expect(await dp.ping(srcNs, "203.0.113.8", 2, 1)).toBe(false);
    const rf = await stack.refresh({ onOutput });
    expect(rf.summary.resourceChanges?.delete).toBe(1);
    const up = await stack.up({ onOutput });
    expect(up.summary.resourceChanges?.create).toBe(1);
    await waitTraffic();
  }, 600_000);

  it("CI: `pulumi preview --diff` and `--json` show a pending rule change; examples/ci-preview summarizes it and gates on replacements", async () => {
    await stack.setConfig("dockwall:firewallRules", { value: JSON.stringify(BLOCK_8082) });
    try {
      const bin = path.join(cachedEngine().binDir, "pulumi");
      const cliEnv = { ...process.env, ...env, ...engineEnvironment(stateDir, "dockwall-lab") };
      const opts = { cwd: repoRoot(), env: cliEnv, encoding: "utf8" as const, maxBuffer: 64 << 20 };
      const diff = spawnSync(bin, ["preview", "--diff", "--stack", "e2e", "--non-interactive"], opts);
      expect(diff.status, diff.stderr).toBe(0);
      expect(diff.stdout).toMatch(/~ \[0\]: 8081 => 8082/);
      const json = spawnSync(bin, ["preview", "--json", "--stack", "e2e", "--non-interactive"], opts);
      expect(json.status, json.stderr).toBe(0);
      const s = summarize(JSON.parse(json.stdout));
      console.log(`[e2e] ci-preview summary: ${JSON.stringify(s)}`);
      const image = s.changes.find((c) => c.type === "pulumi-nodejs:dynamic/dockwall:DockwallImage")!;
      expect(image.op).toMatch(/replace/);
      expect(image.properties).toEqual(expect.arrayContaining(["contentId", "imageRef"]));
      expect(s.replacements).toBeGreaterThanOrEqual(3);
      expect(s.changes.find((c) => c.type.endsWith("DockerAggregate"))).toBeUndefined();
      // The summarizer as CI runs it: exit 3 with --fail-on-replace.
      const file = path.join(stateDir, "preview.json");
      fs.writeFileSync(file, json.stdout);
      const gate = spawnSync(process.execPath, [path.join(repoRoot(), "lib", "examples", "ci-preview", "summarize.js"), file, "--fail-on-replace"], { encoding: "utf8" });
      expect(gate.status).toBe(3);
      expect(gate.stdout).toMatch(/replacement\(s\)/);
    } finally {
      await stack.setConfig("dockwall:firewallRules", { value: JSON.stringify(BLOCK_8081) });
    }
    await stack.preview({ expectNoChanges: true, onOutput });
  }, 300_000);

  it("examples/reuse-component deploys as a second stack beside the first; destroying it leaves the first chain working", async () => {
    // As written: its own networks through @pulumi/openstack (web and uplink in the program, management in the component).
    const reuse = await chainStack({ workDir: path.join(repoRoot(), "examples", "reuse-component"), stackName: "reuse", stateDir, env, config: { "dockwall:namePrefix": "dw-reuse" } });
    try {
      const up = await reuse.up({ onOutput });
      expect(up.summary.result).toBe("succeeded");
      const ro = Object.fromEntries(Object.entries(await reuse.outputs()).map(([k, v]) => [k, v.value]));
      images.add(ro.imageName);
      const rnets = ro.networkIds as NetworkIds;
      expect(ro.imageName).not.toBe((await outputs()).imageName);
      const a = await dp.addRemoteHost(rnets.left, "192.0.2.0/25", "192.0.2.10");
      const b = await dp.addRemoteHost(rnets.right, "192.0.2.128/25", "192.0.2.200");
      await lab.whenIdle();
      await waitFor("ping through the second chain", async () => (await dp.ping(a.ns, "192.0.2.200", 2)) || undefined, 60_000, 500);
      const web = await dp.tcpListener(b.ns, "192.0.2.200", 443);
      const other = await dp.tcpListener(b.ns, "192.0.2.200", 8443);
      try {
        expect((await dp.tcpConnect(a.ns, "192.0.2.200", 443)).ok).toBe(true);
        expect((await dp.tcpConnect(a.ns, "192.0.2.200", 8443, 1500)).ok).toBe(false); // default drop
      } finally {
        await web.stop();
        await other.stop();
      }
      // The first stack did not notice.
      await stack.preview({ expectNoChanges: true, onOutput });
    } finally {
      await reuse.destroy({ onOutput });
      await reuse.workspace.removeStack("reuse");
    }
    await waitTraffic();
    expect(await tcp(8080)).toBe(true);
    expect(await tcp(8081)).toBe(false);
  }, 900_000);

  it("destroy leaves the lab with no objects, containers, namespaces or images of the stack", async () => {
    const sid = await serverId();
    const ds = await stack.destroy({ onOutput });
    expect(ds.summary.result).toBe("succeeded");
    await lab.whenIdle();
    const inv = lab.inventory();
    for (const t of ["service-instance", "service-template", "network-policy", "virtual-machine"]) expect(inv.contrail[t] ?? []).toEqual([]);
    expect(inv.nova.servers).toEqual([]);
    expect(inv.nova.aggregates).toEqual([]);
    expect(inv.glance.images).toEqual([]);
    // The stacks' networks and subnets went with them (through @pulumi/openstack), and no port is left.
    expect(inv.neutron.networks).toEqual([]);
    expect(inv.neutron.subnets).toEqual([]);
    expect(inv.neutron.ports).toEqual([]);
    const ps = await run(["docker", "ps", "-a", "-q", "--filter", `label=${LAB_LABEL}`, "--filter", `label=dockwall.server=${sid}`]);
    expect(ps.stdout.trim()).toBe("");
    const recorded = dp.recorded();
    await dp.cleanup();
    const ns = await netnsList();
    for (const n of recorded.namespaces) expect(ns).not.toContain(n);
    for (const i of images) expect((await run(["docker", "image", "inspect", i], { allowFail: true })).code).not.toBe(0);
    void vethNames;
  }, 600_000);
});
