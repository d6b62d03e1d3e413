/** Shared helpers for provider-against-lab tests. */
import { expect } from "vitest";
import type { ConnectionArgs } from "../../provider/config";
import { startLab, Lab, LabOptions } from "../lab/control-plane";
import { Session } from "../../provider/clients/keystone";
import { resolveConnection } from "../../provider/config";
import { NovaClient } from "../../provider/clients/nova";

export type { Lab };

export async function labWithConnection(opts: LabOptions = {}): Promise<{ lab: Lab; connection: ConnectionArgs }> {
  const lab = await startLab({ svcMonitorDelayMs: 50, ...opts });
  const connection: ConnectionArgs = {
    authUrl: `${lab.urls.keystone}/v3`,
    username: lab.admin.username,
    password: lab.admin.password,
    projectName: lab.admin.projectName,
    userDomainName: lab.admin.userDomainName,
    projectDomainName: lab.admin.projectDomainName,
    contrailApiUrl: lab.urls.contrail,
    retries: 3,
    timeoutMs: 5000,
  };
  return { lab, connection };
}

export function sessionOf(connection: ConnectionArgs): Session {
  return new Session(resolveConnection({ connection, env: {} }));
}

/** Run a provider's check and return its inputs, failing the test on any check failure. */
export async function checked<T = any>(provider: { check?: (o: any, n: any) => Promise<any> }, news: any, olds: any = {}): Promise<T> {
  const r = await provider.check!(olds, news);
  expect(r.failures ?? []).toEqual([]);
  return r.inputs as T;
}

/** Count of requests whose route key matches. */
export function requests(lab: Lab, pattern: RegExp): number {
  return Object.entries(lab.counters.byRoute())
    .filter(([k]) => pattern.test(k))
    .reduce((n, [, v]) => n + v, 0);
}

/** Create the three networks (with subnets) through the lab's Neutron, as the stock provider would. */
export async function makeNetworks(lab: Lab, connection: ConnectionArgs, prefix: string): Promise<{ left: string; right: string; management: string }> {
  const s = sessionOf(connection);
  const out: Record<string, string> = {};
  const cidrs: Record<string, string> = { left: "10.0.0.0/24", right: "10.0.1.0/24", management: "172.16.0.0/24" };
  for (const role of ["left", "right", "management"]) {
    const net = await s.request("neutron", { call: "create network", method: "POST", path: "/v2.0/networks", json: { network: { name: `${prefix}-${role}`, admin_state_up: true } } });
    const id = net.json().network.id;
    await s.request("neutron", { call: "create subnet", method: "POST", path: "/v2.0/subnets", json: { subnet: { network_id: id, cidr: cidrs[role], ip_version: 4, name: `${prefix}-${role}-subnet` } } });
    out[role] = id;
  }
  return out as { left: string; right: string; management: string };
}

/** Upload a small docker-format image straight through Glance v2 (for svc-monitor to find by name). */
export async function makeGlanceImage(connection: ConnectionArgs, name: string, data = Buffer.from("not really a tarball")): Promise<string> {
  const s = sessionOf(connection);
  const res = await s.request("glance", { call: "create image", method: "POST", path: "/v2/images", expect: [201], json: { name, container_format: "docker", disk_format: "raw", visibility: "public" } });
  const id = res.json().id;
  await s.request("glance", { call: "upload", method: "PUT", path: `/v2/images/${id}/file`, headers: { "content-type": "application/octet-stream" }, body: data, expect: [204] });
  return id;
}

/** Run a provider's create and return id and outputs (outs is always present for our providers). */
export async function created(provider: { create: (i: any) => Promise<{ id: string; outs?: any }> }, inputs: any): Promise<{ id: string; outs: any }> {
  const r = await provider.create(inputs);
  return { id: r.id, outs: r.outs ?? {} };
}

/** The seed's "docker" aggregate with the lab's compute host, so the "docker" availability zone exists. */
export async function makeDockerAggregate(connection: ConnectionArgs, host = "dw-compute-1"): Promise<number> {
  const nova = new NovaClient(sessionOf(connection));
  const agg = await nova.createAggregate("docker", "docker");
  await nova.addHost(agg.id, host);
  return agg.id;
}
