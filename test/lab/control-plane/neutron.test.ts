import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLab, type Lab } from "./index";
import { call, RecordingDataPlane, token } from "./test-helpers";

let lab: Lab;
let t: string;
const dp = new RecordingDataPlane();

beforeAll(async () => {
  lab = await startLab({ dataPlane: dp });
  t = await token(lab);
});
afterAll(() => lab.stop());

const n = (path: string) => `${lab.urls.neutron}/v2.0${path}`;
const contrail = (path: string, json?: unknown) => call(`${lab.urls.contrail}${path}`, { token: t, json });

describe("networks", () => {
  it("mirrors a network as a Contrail virtual-network with the same uuid and [domain, project, name]", async () => {
    const res = await call(n("/networks"), { token: t, json: { network: { name: "left", admin_state_up: true, shared: false } } });
    expect(res.status).toBe(201);
    const net = res.json().network;
    expect(net).toMatchObject({
      name: "left",
      status: "ACTIVE",
      tenant_id: lab.admin.projectId,
      project_id: lab.admin.projectId,
      mtu: 1500,
      port_security_enabled: true,
      tags: [],
      revision_number: 1,
      "contrail:fq_name": ["default-domain", "admin", "left"],
    });
    const fq = await contrail("/id-to-fqname", { uuid: net.id });
    expect(fq.status).toBe(200);
    expect(fq.json()).toEqual({ fq_name: ["default-domain", "admin", "left"], type: "virtual-network" });
    // The project was synced from Keystone with the dashed id.
    const vn = (await contrail(`/virtual-network/${net.id}`)).json()["virtual-network"];
    expect(vn.parent_uuid.replace(/-/g, "")).toBe(lab.admin.projectId);
    expect(dp.calls).toContain(`networkChanged ${net.id}`);
  });

  it("appends -<uuid> to the VN name when the name is taken in the project", async () => {
    const a = (await call(n("/networks"), { token: t, json: { network: { name: "twin" } } })).json().network;
    const b = (await call(n("/networks"), { token: t, json: { network: { name: "twin" } } })).json().network;
    expect(a["contrail:fq_name"]).toEqual(["default-domain", "admin", "twin"]);
    expect(b["contrail:fq_name"]).toEqual(["default-domain", "admin", `twin-${b.id}`]);
  });

  it("refuses unknown attributes and bad values with Neutron's error body", async () => {
    const unknown = await call(n("/networks"), { token: t, json: { network: { name: "x", colour: "blue" } } });
    expect(unknown.status).toBe(400);
    expect(unknown.json()).toEqual({ NeutronError: { type: "HTTPBadRequest", message: "Unrecognized attribute(s) 'colour'", detail: "" } });
    const bad = await call(n("/networks"), { token: t, json: { network: { admin_state_up: "maybe" } } });
    expect(bad.status).toBe(400);
    const missing = await call(n("/networks/00000000-0000-0000-0000-000000000000"), { token: t });
    expect(missing.status).toBe(404);
    expect(missing.json().NeutronError).toMatchObject({ type: "NetworkNotFound", message: "Network 00000000-0000-0000-0000-000000000000 could not be found." });
  });

  it("updates in place and bumps revision_number; tags replace through /tags", async () => {
    const net = (await call(n("/networks"), { token: t, json: { network: { name: "upd" } } })).json().network;
    const res = await call(n(`/networks/${net.id}`), { method: "PUT", token: t, json: { network: { name: "upd2", description: "d" } } });
    expect(res.json().network).toMatchObject({ name: "upd2", description: "d", revision_number: 2 });
    expect((await contrail(`/virtual-network/${net.id}`)).json()["virtual-network"].display_name).toBe("upd2");
    const tags = await call(n(`/networks/${net.id}/tags`), { method: "PUT", token: t, json: { tags: ["a", "b"] } });
    expect(tags.json()).toEqual({ tags: ["a", "b"] });
    const filtered = await call(n(`/networks?tags=a&name=upd2`), { token: t });
    expect(filtered.json().networks.map((x: { id: string }) => x.id)).toEqual([net.id]);
    const readOnly = await call(n(`/networks/${net.id}`), { method: "PUT", token: t, json: { network: { tenant_id: "x" } } });
    expect(readOnly.status).toBe(400);
  });
});

describe("subnets and ports", () => {
  let netId: string;
  let subnetId: string;

  beforeAll(async () => {
    netId = (await call(n("/networks"), { token: t, json: { network: { name: "ipam" } } })).json().network.id;
  });

  it("validates the cidr and defaults gateway .1 and the pool", async () => {
    const bad = await call(n("/subnets"), { token: t, json: { subnet: { network_id: netId, cidr: "10.9.0.1/24", ip_version: 4 } } });
    expect(bad.status).toBe(400);
    expect(bad.json().NeutronError.message).toBe("Invalid input for cidr. Reason: '10.9.0.1/24' isn't a recommended CIDR, use '10.9.0.0/24' instead.");
    const res = await call(n("/subnets"), { token: t, json: { subnet: { network_id: netId, cidr: "10.9.0.0/29", ip_version: 4, name: "s" } } });
    expect(res.status).toBe(201);
    const subnet = res.json().subnet;
    subnetId = subnet.id;
    expect(subnet).toMatchObject({
      gateway_ip: "10.9.0.1",
      allocation_pools: [{ start: "10.9.0.2", end: "10.9.0.6" }],
      enable_dhcp: true,
      ip_version: 4,
      dns_nameservers: [],
      host_routes: [],
      ipv6_address_mode: null,
      subnetpool_id: null,
    });
    const overlap = await call(n("/subnets"), { token: t, json: { subnet: { network_id: netId, cidr: "10.9.0.0/28", ip_version: 4 } } });
    expect(overlap.status).toBe(400);
    expect(overlap.json().NeutronError.type).toBe("InvalidInput");
    expect(dp.networks.get(netId)).toMatchObject({ cidr: "10.9.0.0/29", gatewayIp: "10.9.0.1", enableDhcp: true });
    // The VN carries the subnet in its ipam ref.
    const vn = (await contrail(`/virtual-network/${netId}`)).json()["virtual-network"];
    expect(vn.network_ipam_refs[0].to).toEqual(["default-domain", "default-project", "default-network-ipam"]);
    expect(vn.network_ipam_refs[0].attr.ipam_subnets[0]).toMatchObject({ subnet: { ip_prefix: "10.9.0.0", ip_prefix_len: 29 }, default_gateway: "10.9.0.1" });
  });

  it("allocates the lowest free address with an fa:16:3e MAC, mirrored as VMI + instance-ip", async () => {
    const a = (await call(n("/ports"), { token: t, json: { port: { network_id: netId, name: "pa" } } })).json().port;
    const b = (await call(n("/ports"), { token: t, json: { port: { network_id: netId, device_id: "dev-1", device_owner: "x" } } })).json().port;
    expect(a.fixed_ips).toEqual([{ subnet_id: subnetId, ip_address: "10.9.0.2" }]);
    expect(b.fixed_ips[0].ip_address).toBe("10.9.0.3");
    expect(a.mac_address).toMatch(/^fa:16:3e(:[0-9a-f]{2}){3}$/);
    expect(a.mac_address).not.toBe(b.mac_address);
    expect(b).toMatchObject({ device_id: "dev-1", device_owner: "x" });
    expect(dp.ports.find((p) => p.id === a.id)).toMatchObject({ ipAddress: "10.9.0.2", macAddress: a.mac_address, networkId: netId });

    const vmi = (await contrail(`/virtual-machine-interface/${a.id}`)).json()["virtual-machine-interface"];
    expect(vmi.virtual_machine_interface_mac_addresses).toEqual({ mac_address: [a.mac_address] });
    expect(vmi.virtual_network_refs[0].uuid).toBe(netId);
    const iips = (await contrail(`/instance-ips?back_ref_id=${a.id}&detail=true`)).json()["instance-ips"];
    expect(iips.map((i: { "instance-ip": { instance_ip_address: string } }) => i["instance-ip"].instance_ip_address)).toEqual(["10.9.0.2"]);

    const fixed = await call(n("/ports"), { token: t, json: { port: { network_id: netId, fixed_ips: [{ ip_address: "10.9.0.2" }] } } });
    expect(fixed.status).toBe(409);
    const byIp = await call(n("/ports?fixed_ips=ip_address=10.9.0.3"), { token: t });
    expect(byIp.json().ports.map((p: { id: string }) => p.id)).toEqual([b.id]);
  });

  it("runs out of addresses with 409 IpAddressGenerationFailure", async () => {
    await call(n("/ports"), { token: t, json: { port: { network_id: netId } } });
    await call(n("/ports"), { token: t, json: { port: { network_id: netId } } });
    await call(n("/ports"), { token: t, json: { port: { network_id: netId } } });
    const full = await call(n("/ports"), { token: t, json: { port: { network_id: netId } } });
    expect(full.status).toBe(409);
    expect(full.json().NeutronError.type).toBe("IpAddressGenerationFailure");
  });

  it("refuses to delete a network with ports (409 NetworkInUse) or a subnet with allocations", async () => {
    const del = await call(n(`/networks/${netId}`), { method: "DELETE", token: t });
    expect(del.status).toBe(409);
    expect(del.json().NeutronError).toMatchObject({
      type: "NetworkInUse",
      message: `Unable to complete operation on network ${netId}. There are one or more ports still in use on the network.`,
    });
    expect((await call(n(`/subnets/${subnetId}`), { method: "DELETE", token: t })).status).toBe(409);
    // The VN cannot go either: its VMIs refer to it.
    expect((await contrail(`/virtual-network/${netId}`)).status).toBe(200);
  });

  it("deletes ports, then the network, and the VN goes with it", async () => {
    const ports = (await call(n(`/ports?network_id=${netId}`), { token: t })).json().ports;
    for (const p of ports) expect((await call(n(`/ports/${p.id}`), { method: "DELETE", token: t })).status).toBe(204);
    expect(dp.calls).toContain(`portDeleted ${ports[0].id}`);
    expect((await contrail(`/virtual-machine-interface/${ports[0].id}`)).status).toBe(404);
    expect((await call(n(`/networks/${netId}`), { method: "DELETE", token: t })).status).toBe(204);
    expect((await contrail(`/virtual-network/${netId}`)).status).toBe(404);
    expect((await call(n(`/subnets/${subnetId}`), { token: t })).status).toBe(404);
    expect(dp.calls[dp.calls.length - 1]).toBe(`networkDeleted ${netId}`);
  });
});

describe("visibility", () => {
  it("hides another project's network from a member and lists extensions", async () => {
    const net = (await call(n("/networks"), { token: t, json: { network: { name: "admins-only" } } })).json().network;
    const member = await token(lab, "member");
    expect((await call(n(`/networks/${net.id}`), { token: member })).status).toBe(404);
    const own = await call(n("/networks"), { token: member, json: { network: { name: "mine" } } });
    expect(own.status).toBe(201);
    expect(own.json().network["contrail:fq_name"]).toEqual(["default-domain", "demo", "mine"]);
    const sharing = await call(n("/networks"), { token: member, json: { network: { name: "shared", shared: true } } });
    expect(sharing.status).toBe(403);
    expect(sharing.json().NeutronError.type).toBe("PolicyNotAuthorized");
    const ext = await call(n("/extensions"), { token: member });
    expect(ext.json().extensions.map((e: { alias: string }) => e.alias)).toContain("net-mtu");
  });
});
