import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SpawnRequest } from "../contracts";
import { startLab, type Lab } from "./index";
import { call, eventually, image, network, RecordingDataPlane, token } from "./test-helpers";

let lab: Lab;
let t: string;
const dp = new RecordingDataPlane();

beforeAll(async () => {
  lab = await startLab({ dataPlane: dp, computeHosts: ["dw-compute-1", "dw-compute-2"] });
  t = await token(lab);
});
afterAll(() => lab.stop());

const agg = (path = "") => `${lab.urls.nova}/v2.1/os-aggregates${path}`;

async function createAggregate(name: string, zone?: string): Promise<number> {
  const res = await call(agg(), { token: t, json: { aggregate: { name, availability_zone: zone ?? null } } });
  expect(res.status).toBe(200);
  return res.json().aggregate.id;
}

const action = (id: number, body: unknown) => call(agg(`/${id}/action`), { token: t, json: body });

describe("os-aggregates", () => {
  it("creates with 200 and an integer id; the create body has no hosts or metadata", async () => {
    const res = await call(agg(), { token: t, json: { aggregate: { name: "shape", availability_zone: "shape-az" } } });
    expect(res.status).toBe(200);
    const body = res.json().aggregate;
    expect(Number.isInteger(body.id)).toBe(true);
    expect(body.availability_zone).toBe("shape-az");
    expect(body).not.toHaveProperty("hosts");
    expect(body).not.toHaveProperty("metadata");
    const shown = await call(agg(`/${body.id}`), { token: t });
    expect(shown.json().aggregate).toMatchObject({ hosts: [], metadata: { availability_zone: "shape-az" } });
    expect((await call(agg(`/${body.id}`), { method: "DELETE", token: t })).status).toBe(200);
  });

  it("answers 409 conflictingRequest for a duplicate name", async () => {
    const id = await createAggregate("dup");
    const res = await call(agg(), { token: t, json: { aggregate: { name: "dup" } } });
    expect(res.status).toBe(409);
    expect(res.json()).toEqual({ conflictingRequest: { code: 409, message: "Aggregate dup already exists." } });
    await call(agg(`/${id}`), { method: "DELETE", token: t });
  });

  it("refuses a non-integer id with 400 and an unknown id with 404", async () => {
    expect((await call(agg("/abc"), { token: t })).status).toBe(400);
    const missing = await call(agg("/9999"), { token: t });
    expect(missing.status).toBe(404);
    expect(missing.json().itemNotFound.message).toBe("Aggregate 9999 could not be found.");
  });

  it("keeps a host in one availability zone only (409 on add_host)", async () => {
    const a = await createAggregate("az-a", "zone-a");
    const b = await createAggregate("az-b", "zone-b");
    const plain = await createAggregate("no-az");
    expect((await action(a, { add_host: { host: "dw-compute-2" } })).status).toBe(200);
    const conflict = await action(b, { add_host: { host: "dw-compute-2" } });
    expect(conflict.status).toBe(409);
    expect(conflict.json().conflictingRequest.message).toBe(
      `Cannot add host to aggregate ${b}. Reason: One or more hosts already in availability zone(s) ['zone-a'].`,
    );
    // An aggregate without an AZ may share the host.
    expect((await action(plain, { add_host: { host: "dw-compute-2" } })).status).toBe(200);
    // The same host twice in one aggregate.
    const again = await action(a, { add_host: { host: "dw-compute-2" } });
    expect(again.status).toBe(409);
    expect(again.json().conflictingRequest.message).toBe(`Aggregate ${a} already has host dw-compute-2.`);
    // os-services shows the host's zone.
    const services = await call(`${lab.urls.nova}/v2.1/os-services?binary=nova-compute&host=dw-compute-2`, { token: t });
    expect(services.json().services).toHaveLength(1);
    expect(services.json().services[0]).toMatchObject({ host: "dw-compute-2", zone: "zone-a", state: "up", status: "enabled" });
    // set_metadata moving the AZ of a conflicting aggregate is a 400.
    const meta = await action(plain, { set_metadata: { metadata: { availability_zone: "zone-c" } } });
    expect(meta.status).toBe(400);
    expect(meta.json().badRequest.message).toContain("One or more hosts already in availability zone(s) ['zone-a']");
    for (const id of [a, plain]) await action(id, { remove_host: { host: "dw-compute-2" } });
    for (const id of [a, b, plain]) await call(agg(`/${id}`), { method: "DELETE", token: t });
  });

  it("needs an empty aggregate to delete (400) and 404s removing a host it does not have", async () => {
    const id = await createAggregate("busy", "busy-az");
    expect((await action(id, { add_host: { host: "dw-compute-1" } })).status).toBe(200);
    const del = await call(agg(`/${id}`), { method: "DELETE", token: t });
    expect(del.status).toBe(400);
    expect(del.json().badRequest.message).toContain("Host aggregate is not empty");
    const unknown = await action(id, { remove_host: { host: "nope" } });
    expect(unknown.status).toBe(404);
    expect(unknown.json().itemNotFound.message).toBe(`Cannot remove host nope in aggregate ${id}`);
    const addUnknown = await action(id, { add_host: { host: "nope" } });
    expect(addUnknown.status).toBe(404);
    expect(addUnknown.json().itemNotFound.message).toBe("Compute host nope could not be found.");
    expect((await action(id, { remove_host: { host: "dw-compute-1" } })).status).toBe(200);
    expect((await call(agg(`/${id}`), { method: "DELETE", token: t })).status).toBe(200);
  });

  it("merges set_metadata and deletes keys set to null", async () => {
    const id = await createAggregate("meta");
    await action(id, { set_metadata: { metadata: { a: "1", b: "2" } } });
    const res = await action(id, { set_metadata: { metadata: { a: null, c: "3" } } });
    expect(res.json().aggregate.metadata).toEqual({ b: "2", c: "3" });
    await call(agg(`/${id}`), { method: "DELETE", token: t });
  });

  it("is admin-only (403 forbidden for a member)", async () => {
    const res = await call(agg(), { token: await token(lab, "member") });
    expect(res.status).toBe(403);
    expect(res.json().forbidden.message).toContain("os_compute_api:os-aggregates:index");
  });
});

describe("microversions", () => {
  it("echoes the requested version and adds uuid from 2.41", async () => {
    const res = await call(agg(), { token: t, headers: { "OpenStack-API-Version": "compute 2.41" } });
    expect(res.headers.get("openstack-api-version")).toBe("compute 2.41");
    expect(res.headers.get("x-openstack-nova-api-version")).toBe("2.41");
    const id = await createAggregate("mv");
    const old = await call(agg(`/${id}`), { token: t });
    expect(old.json().aggregate.uuid).toBeUndefined();
    const modern = await call(agg(`/${id}`), { token: t, headers: { "X-OpenStack-Nova-API-Version": "2.41" } });
    expect(modern.json().aggregate.uuid).toMatch(/^[0-9a-f-]{36}$/);
    await call(agg(`/${id}`), { method: "DELETE", token: t });
  });

  it("answers 406 out of range and 400 for a malformed version", async () => {
    expect((await call(agg(), { token: t, headers: { "OpenStack-API-Version": "compute 2.999" } })).status).toBe(406);
    expect((await call(agg(), { token: t, headers: { "OpenStack-API-Version": "compute two" } })).status).toBe(400);
  });
});

describe("hypervisors and flavors", () => {
  it("reports nova-docker hosts as hypervisor_type docker, others as QEMU", async () => {
    lab.setComputeDriverEnabled("dw-compute-2", false, "not a docker host");
    const res = await call(`${lab.urls.nova}/v2.1/os-hypervisors/detail`, { token: t });
    const types = Object.fromEntries(res.json().hypervisors.map((h: { hypervisor_hostname: string; hypervisor_type: string }) => [h.hypervisor_hostname, h.hypervisor_type]));
    expect(types).toEqual({ "dw-compute-1": "docker", "dw-compute-2": "QEMU" });
    lab.setComputeDriverEnabled("dw-compute-2", true);
  });

  it("lists flavors", async () => {
    const res = await call(`${lab.urls.nova}/v2.1/flavors/detail`, { token: t });
    expect(res.json().flavors.map((f: { name: string }) => f.name)).toContain("m1.small");
  });
});

describe("servers", () => {
  let net: string;
  let dockerImage: string;
  let bareImage: string;

  beforeAll(async () => {
    lab.setGlanceContainerFormats(["bare", "docker"]);
    net = await network(lab, t, "srv-net", "192.0.2.0/24");
    dockerImage = await image(lab, t, "busybox:lab", Buffer.from("tarball"));
    bareImage = await image(lab, t, "plain", Buffer.from("disk"), "bare");
  });

  async function boot(body: Record<string, unknown>) {
    return call(`${lab.urls.nova}/v2.1/servers`, { token: t, json: { server: { flavorRef: "2", ...body } } });
  }

  async function settled(id: string) {
    return eventually(async () => {
      const s = (await call(`${lab.urls.nova}/v2.1/servers/${id}`, { token: t })).json().server;
      return s.status === "BUILD" ? undefined : s;
    });
  }

  it("boots through the data plane (BUILD → ACTIVE) with its port, and DELETE destroys it", async () => {
    const port = (await call(`${lab.urls.neutron}/v2.0/ports`, { token: t, json: { port: { network_id: net } } })).json().port;
    const res = await boot({ name: "vm1", imageRef: dockerImage, networks: [{ port: port.id }], availability_zone: "nova:dw-compute-1" });
    expect(res.status).toBe(202);
    const id = res.json().server.id;
    const server = await settled(id);
    expect(server.status).toBe("ACTIVE");
    expect(server["OS-EXT-SRV-ATTR:host"]).toBe("dw-compute-1");
    expect(server.addresses["srv-net"][0]).toMatchObject({ addr: port.fixed_ips[0].ip_address, "OS-EXT-IPS-MAC:mac_addr": port.mac_address });
    const spawn = dp.spawned.find((s) => s.serverId === id) as SpawnRequest;
    expect(spawn).toMatchObject({ serverName: "vm1", host: "dw-compute-1", imageName: "busybox:lab" });
    expect(spawn.ports.map((p) => p.id)).toEqual([port.id]);
    expect(spawn.ports[0].deviceId).toBe(id);
    expect(spawn.networks[0]).toMatchObject({ id: net, cidr: "192.0.2.0/24", gatewayIp: "192.0.2.1" });
    const bound = (await call(`${lab.urls.neutron}/v2.0/ports/${port.id}`, { token: t })).json().port;
    expect(bound).toMatchObject({ device_id: id, device_owner: "compute:nova", status: "ACTIVE" });

    expect((await call(`${lab.urls.nova}/v2.1/servers/${id}`, { method: "DELETE", token: t })).status).toBe(204);
    await eventually(async () => ((await call(`${lab.urls.nova}/v2.1/servers/${id}`, { token: t })).status === 404 ? true : undefined));
    expect(dp.destroyed).toContain(id);
    const released = (await call(`${lab.urls.neutron}/v2.0/ports/${port.id}`, { token: t })).json().port;
    expect(released.device_id).toBe("");
  });

  it("puts the server in ERROR with the driver's message when spawn throws", async () => {
    dp.failNextSpawn = "docker load failed: boom";
    const res = await boot({ name: "vm-fail", imageRef: dockerImage, networks: [{ uuid: net }] });
    const server = await settled(res.json().server.id);
    expect(server.status).toBe("ERROR");
    expect(server.fault.message).toBe("docker load failed: boom");
    await call(`${lab.urls.nova}/v2.1/servers/${server.id}`, { method: "DELETE", token: t });
  });

  it("refuses a non-docker image on a nova-docker host, and any boot on a host that is not one", async () => {
    const bare = await settled((await boot({ name: "vm-bare", imageRef: bareImage })).json().server.id);
    expect(bare.status).toBe("ERROR");
    expect(bare.fault.message).toBe("Image container format not supported");
    lab.setComputeDriverEnabled("dw-compute-1", false, "compute_driver is libvirt.LibvirtDriver");
    const res = await boot({ name: "vm-off", imageRef: dockerImage, availability_zone: "nova:dw-compute-1" });
    const off = await settled(res.json().server.id);
    expect(off.fault.message).toBe("compute_driver is libvirt.LibvirtDriver");
    lab.setComputeDriverEnabled("dw-compute-1", true);
  });

  it("validates the request: unknown image 400, unknown zone 400, port in use 409", async () => {
    expect((await boot({ name: "x", imageRef: "00000000-0000-0000-0000-000000000000" })).status).toBe(400);
    const zone = await boot({ name: "x", imageRef: dockerImage, availability_zone: "nowhere" });
    expect(zone.status).toBe(400);
    expect(zone.json().badRequest.message).toBe("The requested availability zone is not available");
    const port = (await call(`${lab.urls.neutron}/v2.0/ports`, { token: t, json: { port: { network_id: net, device_id: "someone" } } })).json().port;
    const inUse = await boot({ name: "x", imageRef: dockerImage, networks: [{ port: port.id }] });
    expect(inUse.status).toBe(409);
    expect(inUse.json().conflictingRequest.message).toBe(`Port ${port.id} is still in use.`);
  });
});
