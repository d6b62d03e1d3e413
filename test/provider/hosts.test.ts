/**
 * DockerAggregate's host preparation over SSH against the lab's hosts (containers with sshd and
 * real config files that decide what the lab's Glance and Nova do): the seed's steps, idempotent,
 * with pinned host keys, sudo, bounded retries, drift on refresh and restore on delete.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dockerAggregateProvider as p, hostDrift } from "../../provider/resources/dockerAggregate";
import { iniGet } from "../../provider/host/ini";
import type { SshConnection } from "../../provider/host";
import type { ConnectionArgs } from "../../provider/config";
import { startLabHosts, type LabHost, type LabHosts } from "../lab/hosts";
import { checked, created, Lab, labWithConnection, sessionOf } from "./helpers";

let lab: Lab;
let hosts: LabHosts;
let connection: ConnectionArgs;
let original: { nova: string; glance: string };

function ssh(h: LabHost, over: Partial<SshConnection> = {}): SshConnection {
  return { host: h.host, port: h.port, user: "root", privateKey: hosts.privateKey, hostKey: h.hostKey, attempts: 2, timeoutMs: 5000, ...over };
}

async function glanceAcceptsDocker(): Promise<boolean> {
  try {
    const r = await sessionOf(connection).request("glance", { call: "probe", method: "POST", path: "/v2/images", expect: [201], json: { name: `probe-${Date.now()}`, container_format: "docker", disk_format: "raw" } });
    await sessionOf(connection).request("glance", { call: "cleanup", method: "DELETE", path: `/v2/images/${r.json().id}`, expect: [204] });
    return true;
  } catch (e) {
    if ((e as { status?: number }).status === 400) return false;
    throw e;
  }
}

beforeAll(async () => {
  ({ lab, connection } = await labWithConnection());
  hosts = await startLabHosts(lab);
  original = { nova: await hosts.readFile(hosts.compute, "/etc/nova/nova-compute.conf"), glance: await hosts.readFile(hosts.controller, "/etc/glance/glance-api.conf") };
}, 600_000);

afterAll(async () => {
  await hosts?.stop();
  await lab?.stop();
}, 120_000);

describe("DockerAggregate prepares its hosts over SSH", () => {
  it("without the host steps, Glance refuses docker images as the real one does", async () => {
    expect(await glanceAcceptsDocker()).toBe(false);
  });

  it("a wrong host key is refused with a clear message, and nothing is changed", async () => {
    const wrong = hosts.controller.hostKey; // the other host's key
    const inputs = await checked(p, { connection, name: "docker", hosts: [hosts.compute.name], hostAccess: { [hosts.compute.name]: ssh(hosts.compute, { hostKey: wrong }) } });
    await expect(p.create(inputs)).rejects.toThrow(/host key \(SHA256:[^)]+\) is not the pinned hostKey.*nothing was changed/);
    expect(await hosts.readFile(hosts.compute, "/etc/nova/nova-compute.conf")).toBe(original.nova);
    expect(await hosts.restarts(hosts.compute, "nova-compute")).toBe(0);
    expect((await new (await import("../../provider/clients/nova")).NovaClient(sessionOf(connection)).listAggregates()).length).toBe(0);
  });

  it("an unreachable host fails after a bounded number of attempts with a clear message", async () => {
    await hosts.setReachable(hosts.compute, false);
    try {
      const inputs = await checked(p, { connection, name: "docker", hosts: [hosts.compute.name], hostAccess: { [hosts.compute.name]: ssh(hosts.compute, { attempts: 2 }) } });
      const t0 = Date.now();
      await expect(p.create(inputs)).rejects.toThrow(/cannot reach root@127\.0\.0\.1:\d+ over SSH after 2 attempt\(s\)/);
      expect(Date.now() - t0).toBeLessThan(30_000);
    } finally {
      await hosts.setReachable(hosts.compute, true);
    }
  }, 60_000);

  it("reaches a host through a jump host (ssh -J), checking both host keys, and only reads when nothing is to change", async () => {
    const { inspectComputeHost } = await import("../../provider/host");
    const viaJump = ssh(hosts.compute, { host: hosts.compute.bridgeIp, port: 22, jumpHost: ssh(hosts.controller) });
    const state = await inspectComputeHost(hosts.compute.name, viaJump, { computeDriver: "x", vifDriver: "y", replaceConfig: false, configPath: "/etc/nova/nova-compute.conf" });
    expect(state).toMatchObject({ computeDriver: "libvirt.LibvirtDriver", novaInDockerGroup: false, dockerVersion: "20.10.24+dfsg1" });
    // A wrong key for the jump host is refused too.
    const badJump = ssh(hosts.compute, { host: hosts.compute.bridgeIp, port: 22, jumpHost: ssh(hosts.controller, { hostKey: hosts.compute.hostKey }) });
    await expect(inspectComputeHost(hosts.compute.name, badJump, { computeDriver: "x", vifDriver: "y", replaceConfig: false, configPath: "/etc/nova/nova-compute.conf" })).rejects.toThrow(/jump host.*not the pinned hostKey/);
    expect(await hosts.restarts(hosts.compute, "nova-compute")).toBe(0);
  }, 60_000);

  let made: { id: string; outs: any };

  it("a first create edits the files, restarts each service once, and only then joins the host to the aggregate; Glance accepts docker", async () => {
    const inputs = await checked(p, {
      connection,
      name: "docker",
      hosts: [hosts.compute.name],
      hostAccess: { [hosts.compute.name]: ssh(hosts.compute, { user: hosts.sudoUser }) }, // non-root, with sudo
      glanceHost: ssh(hosts.controller),
      restoreOnDelete: true,
    });
    const t0 = Date.now();
    made = await created(p, inputs);
    console.log(`[hosts] host preparation + aggregate: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const nova = await hosts.readFile(hosts.compute, "/etc/nova/nova-compute.conf");
    expect(iniGet(nova, "DEFAULT", "compute_driver")).toBe("novadocker.virt.docker.DockerDriver");
    expect(iniGet(nova, "docker", "vif_driver")).toBe("novadocker.virt.docker.opencontrail.OpenContrailVIFDriver");
    // The file's other settings and comments are still there.
    for (const line of original.nova.split("\n").filter((l) => l.startsWith("#") || (l.includes("=") && !l.startsWith("compute_driver")))) expect(nova).toContain(line);
    expect(iniGet(await hosts.readFile(hosts.controller, "/etc/glance/glance-api.conf"), "image_format", "container_formats")).toMatch(/(^|,)docker$/);
    expect(await hosts.restarts(hosts.compute, "nova-compute")).toBe(1);
    expect(await hosts.restarts(hosts.controller, "glance-api")).toBe(1);
    expect(made.outs.hostReports[hosts.compute.name]).toMatchObject({ computeDriver: "novadocker.virt.docker.DockerDriver", novaInDockerGroup: true, restarted: ["nova-compute"] });
    expect(made.outs.hostReports[hosts.compute.name].dockerVersion).toMatch(/^\d+\.\d+/);
    expect(made.outs.hostReports[hosts.compute.name].originals["/etc/nova/nova-compute.conf"]).toBe(original.nova);
    expect(await glanceAcceptsDocker()).toBe(true);
    expect(made.outs.hosts).toEqual([hosts.compute.name]);
  }, 120_000);

  it("a second run changes nothing and restarts nothing", async () => {
    const inputs = await checked(p, { ...made.outs, hostReports: undefined, glanceReport: undefined, aggregateId: undefined, uuid: undefined });
    const d = await p.diff!(made.id, made.outs, inputs);
    expect(d.changes).toBe(false);
    const r = await p.update!(made.id, made.outs, inputs);
    expect(r.outs.hostReports[hosts.compute.name].changed).toEqual([]);
    expect(r.outs.glanceReport.changed).toEqual([]);
    expect(await hosts.restarts(hosts.compute, "nova-compute")).toBe(1);
    expect(await hosts.restarts(hosts.controller, "glance-api")).toBe(1);
  }, 60_000);

  it("refresh after a hand edit on the host shows the drift, and the next update repairs it", async () => {
    const edited = (await hosts.readFile(hosts.compute, "/etc/nova/nova-compute.conf")).replace("novadocker.virt.docker.DockerDriver", "libvirt.LibvirtDriver");
    await hosts.writeFile(hosts.compute, "/etc/nova/nova-compute.conf", edited);
    const read = await p.read!(made.id, made.outs);
    expect(read.props.hostReports[hosts.compute.name].computeDriver).toBe("libvirt.LibvirtDriver");
    const inputs = await checked(p, { ...made.outs, hostReports: undefined, glanceReport: undefined, aggregateId: undefined, uuid: undefined });
    expect(hostDrift(read.props, inputs)).toEqual([`hostReports.${hosts.compute.name}`]);
    expect((await p.diff!(made.id, read.props, inputs)).changes).toBe(true);
    const fixed = await p.update!(made.id, read.props, inputs);
    expect(fixed.outs.hostReports[hosts.compute.name]).toMatchObject({ computeDriver: "novadocker.virt.docker.DockerDriver", restarted: ["nova-compute"] });
    expect(await hosts.restarts(hosts.compute, "nova-compute")).toBe(2);
    made = { id: made.id, outs: fixed.outs };
  }, 60_000);

  it("delete with restoreOnDelete puts the original files back and restarts the services", async () => {
    await p.delete!(made.id, made.outs);
    expect(await hosts.readFile(hosts.compute, "/etc/nova/nova-compute.conf")).toBe(original.nova);
    expect(await hosts.readFile(hosts.controller, "/etc/glance/glance-api.conf")).toBe(original.glance);
    expect(await glanceAcceptsDocker()).toBe(false);
    expect(JSON.stringify(lab.inventory().nova.aggregates)).toBe("[]");
  }, 60_000);
});
