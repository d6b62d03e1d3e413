import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SpawnRequest } from "../contracts";
import { startLab, type Lab } from "./index";
import { call, image, network, RecordingDataPlane, token } from "./test-helpers";

let lab: Lab;
let t: string;
const dp = new RecordingDataPlane();
const nets: Record<string, string> = {};
let project: string;
let stFq: string[];

const c = (path: string, opts: { method?: string; json?: unknown } = {}) =>
  call(`${lab.urls.contrail}${path}`, { method: opts.method ?? (opts.json === undefined ? "GET" : "POST"), json: opts.json, token: t });

const vnName = (role: string) => `default-domain:${project}:${role}`;

async function createSi(name: string, props: Record<string, unknown>): Promise<string> {
  const res = await c("/service-instances", {
    json: {
      "service-instance": {
        parent_type: "project",
        fq_name: ["default-domain", project, name],
        service_template_refs: [{ to: stFq }],
        service_instance_properties: {
          left_virtual_network: vnName("left"),
          right_virtual_network: vnName("right"),
          management_virtual_network: vnName("mgmt"),
          interface_list: [{ virtual_network: vnName("left") }, { virtual_network: vnName("right") }, { virtual_network: vnName("mgmt") }],
          availability_zone: "docker",
          ...props,
        },
      },
    },
  });
  expect(res.status).toBe(200);
  return res.json()["service-instance"].uuid;
}

const servers = async () => (await call(`${lab.urls.nova}/v2.1/servers/detail`, { token: t })).json().servers as Array<Record<string, any>>;
const si = async (uuid: string) => (await c(`/service-instance/${uuid}`)).json()["service-instance"];

beforeAll(async () => {
  lab = await startLab({ dataPlane: dp, svcMonitorDelayMs: 20 });
  t = await token(lab);
  project = lab.admin.projectName;
  lab.setGlanceContainerFormats(["bare", "docker"]);
  nets.left = await network(lab, t, "left", "10.0.0.0/24");
  nets.right = await network(lab, t, "right", "10.0.1.0/24");
  nets.mgmt = await network(lab, t, "mgmt", "172.16.0.0/24");
  await image(lab, t, "dockwall:abc123", Buffer.from("tar"));
  const agg = await call(`${lab.urls.nova}/v2.1/os-aggregates`, { token: t, json: { aggregate: { name: "docker", availability_zone: "docker" } } });
  await call(`${lab.urls.nova}/v2.1/os-aggregates/${agg.json().aggregate.id}/action`, { token: t, json: { add_host: { host: "dw-compute-1" } } });
  const st = await c("/service-templates", {
    json: {
      "service-template": {
        parent_type: "domain",
        fq_name: ["default-domain", "fw-tmpl"],
        service_template_properties: {
          service_mode: "in-network",
          service_type: "firewall",
          image_name: "dockwall:abc123",
          flavor: "m1.small",
          ordered_interfaces: true,
          availability_zone_enable: true,
          service_virtualization_type: "virtual-machine",
          interface_type: [{ service_interface_type: "left" }, { service_interface_type: "right" }, { service_interface_type: "management" }],
        },
      },
    },
  });
  stFq = st.json()["service-template"].fq_name;
});
afterAll(() => lab.stop());

describe("svc-monitor", () => {
  it("launches no VM for an SI without scale_out", async () => {
    const uuid = await createSi("no-scale", {});
    await lab.whenIdle();
    expect(await servers()).toEqual([]);
    expect((await si(uuid)).virtual_machine_back_refs).toBeUndefined();
    expect((await c(`/service-instance/${uuid}`, { method: "DELETE" })).status).toBe(200);
  });

  it("launches max_instances VMs with ports in template order, then scales and tears down", async () => {
    const uuid = await createSi("fw-si", { scale_out: { max_instances: 1, auto_scale: false } });
    // Asynchronous: nothing has happened when the API answered.
    expect(await servers()).toEqual([]);
    await lab.whenIdle();

    const [server] = await servers();
    expect(server).toMatchObject({ name: "fw-si_001", status: "ACTIVE", "OS-EXT-AZ:availability_zone": "docker", "OS-EXT-SRV-ATTR:host": "dw-compute-1" });
    const spawn = dp.spawned.find((s) => s.serverId === server.id) as SpawnRequest;
    expect(spawn.imageName).toBe("dockwall:abc123");
    expect(spawn.networks.map((n) => n.id)).toEqual([nets.left, nets.right, nets.mgmt]);

    const back = (await si(uuid)).virtual_machine_back_refs;
    expect(back.map((b: { uuid: string }) => b.uuid)).toEqual([server.id]);
    const vm = (await c(`/virtual-machine/${server.id}`)).json()["virtual-machine"];
    expect(vm.fq_name).toEqual([server.id]);
    const vmis = vm.virtual_machine_interface_back_refs.map((b: { to: string[] }) => b.to[b.to.length - 1]).sort();
    expect(vmis).toEqual([
      `default-domain__${project}__fw-si__1__left__1`,
      `default-domain__${project}__fw-si__1__management__3`,
      `default-domain__${project}__fw-si__1__right__2`,
    ]);
    const leftVmi = (await c(`/virtual-machine-interface/${spawn.ports[0].id}`)).json()["virtual-machine-interface"];
    expect(leftVmi.virtual_machine_interface_properties).toEqual({ service_interface_type: "left" });
    expect(leftVmi.instance_ip_back_refs).toHaveLength(1);

    // Scale out, then back in: the highest index goes.
    await c(`/service-instance/${uuid}`, {
      method: "PUT",
      json: { "service-instance": { service_instance_properties: { ...(await si(uuid)).service_instance_properties, scale_out: { max_instances: 2 } } } },
    });
    await lab.whenIdle();
    expect((await servers()).map((s) => s.name).sort()).toEqual(["fw-si_001", "fw-si_002"]);
    await c(`/service-instance/${uuid}`, {
      method: "PUT",
      json: { "service-instance": { service_instance_properties: { ...(await si(uuid)).service_instance_properties, scale_out: { max_instances: 1 } } } },
    });
    await lab.whenIdle();
    expect((await servers()).map((s) => s.name)).toEqual(["fw-si_001"]);

    // Deleting the SI is not blocked by its VM (a derived link); svc-monitor cleans up afterwards.
    const ports = spawn.ports.map((p) => p.id);
    expect((await c(`/service-instance/${uuid}`, { method: "DELETE" })).status).toBe(200);
    await lab.whenIdle();
    expect(await servers()).toEqual([]);
    expect(dp.destroyed).toContain(server.id);
    expect((await c(`/virtual-machine/${server.id}`)).status).toBe(404);
    for (const p of ports) expect((await call(`${lab.urls.neutron}/v2.0/ports/${p}`, { token: t })).status).toBe(404);
    // With the SI gone the template can go too... but it is still used below.
  });

  it("keeps an SI pending until its virtual network exists", async () => {
    const uuid = await c("/service-instances", {
      json: {
        "service-instance": {
          parent_type: "project",
          fq_name: ["default-domain", project, "waiting"],
          service_template_refs: [{ to: stFq }],
          service_instance_properties: {
            interface_list: [{ virtual_network: vnName("left") }, { virtual_network: vnName("later") }, { virtual_network: vnName("mgmt") }],
            scale_out: { max_instances: 1 },
          },
        },
      },
    }).then((r) => r.json()["service-instance"].uuid);
    await lab.whenIdle();
    expect(await servers()).toEqual([]);
    expect(lab.logs().some((l) => l.includes(`virtual network ${vnName("later")} not found`))).toBe(true);
    await network(lab, t, "later", "10.0.2.0/24");
    await lab.whenIdle();
    expect((await servers()).map((s) => s.name)).toEqual(["waiting_001"]);
    await c(`/service-instance/${uuid}`, { method: "DELETE" });
    await lab.whenIdle();
    expect(await servers()).toEqual([]);
  });

  it("logs and launches nothing when the image is missing", async () => {
    const st = await c("/service-templates", {
      json: {
        "service-template": {
          parent_type: "domain",
          fq_name: ["default-domain", "no-image"],
          service_template_properties: { image_name: "ghost:1", interface_type: [{ service_interface_type: "left" }] },
        },
      },
    });
    const res = await c("/service-instances", {
      json: {
        "service-instance": {
          parent_type: "project",
          fq_name: ["default-domain", project, "ghostly"],
          service_template_refs: [{ to: st.json()["service-template"].fq_name }],
          service_instance_properties: { interface_list: [{ virtual_network: vnName("left") }], scale_out: { max_instances: 1 } },
        },
      },
    });
    await lab.whenIdle();
    expect(await servers()).toEqual([]);
    expect(lab.logs().some((l) => l.includes("Image not found ghost:1"))).toBe(true);
    await c(`/service-instance/${res.json()["service-instance"].uuid}`, { method: "DELETE" });
  });
});

describe("schema transformer", () => {
  let siUuid: string;
  let policyUuid: string;
  const attach = (vn: string, attr: unknown, operation = "ADD") =>
    c("/ref-update", { json: { type: "virtual-network", uuid: vn, "ref-type": "network-policy", "ref-uuid": policyUuid, operation, attr } });
  const seq = { sequence: { major: 0, minor: 0 }, timer: null };

  beforeAll(async () => {
    siUuid = await createSi("chain-si", { scale_out: { max_instances: 1 } });
    await lab.whenIdle();
    const res = await c("/network-policys", {
      json: {
        "network-policy": {
          parent_type: "project",
          fq_name: ["default-domain", project, "chain-pol"],
          network_policy_entries: {
            policy_rule: [
              {
                direction: "<>",
                protocol: "any",
                src_addresses: [{ virtual_network: vnName("left") }],
                dst_addresses: [{ virtual_network: vnName("right") }],
                src_ports: [{ start_port: -1, end_port: -1 }],
                dst_ports: [{ start_port: -1, end_port: -1 }],
                action_list: { simple_action: "pass", apply_service: [`default-domain:${project}:chain-si`] },
              },
            ],
          },
        },
      },
    });
    policyUuid = res.json()["network-policy"].uuid;
    await lab.whenIdle();
  });

  it("builds no chain while one attachment lacks a sequence", async () => {
    const before = dp.chainUpdates.length;
    await attach(nets.left, seq);
    await attach(nets.right, { timer: null });
    await lab.whenIdle();
    expect(dp.chainUpdates.length).toBe(before);
  });

  it("hands the data plane the chain once the policy is attached to both networks with a sequence", async () => {
    await attach(nets.right, seq);
    await lab.whenIdle();
    const latest = dp.chainUpdates[dp.chainUpdates.length - 1];
    const [server] = (await servers()).filter((s) => s.name === "chain-si_001");
    const spawn = dp.spawned.find((s) => s.serverId === server.id) as SpawnRequest;
    expect(latest).toEqual([
      {
        policyUuid,
        ruleIndex: 0,
        leftNetworkId: nets.left,
        rightNetworkId: nets.right,
        direction: "<>",
        protocol: "any",
        hops: [{ serviceInstanceFqName: ["default-domain", project, "chain-si"], serverId: server.id, leftIp: spawn.ports[0].ipAddress, rightIp: spawn.ports[1].ipAddress }],
      },
    ]);
  });

  it("does not repeat an unchanged chain list, and sends [] after detaching", async () => {
    const count = dp.chainUpdates.length;
    await attach(nets.right, seq);
    await lab.whenIdle();
    expect(dp.chainUpdates.length).toBe(count);
    await attach(nets.left, null, "DELETE");
    await lab.whenIdle();
    expect(dp.chainUpdates.length).toBe(count + 1);
    expect(dp.chainUpdates[dp.chainUpdates.length - 1]).toEqual([]);
    await c(`/service-instance/${siUuid}`, { method: "DELETE" });
    await lab.whenIdle();
  });
});
