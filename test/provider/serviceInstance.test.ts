import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serviceTemplateProvider as tp } from "../../provider/resources/serviceTemplate";
import { serviceInstanceProvider as p } from "../../provider/resources/serviceInstance";
import { ContrailClient } from "../../provider/clients/contrail";
import { NovaClient } from "../../provider/clients/nova";
import type { ConnectionArgs } from "../../provider/config";
import { checked, created, makeDockerAggregate, Lab, labWithConnection, makeGlanceImage, makeNetworks, requests, sessionOf } from "./helpers";

let lab: Lab;
let connection: ConnectionArgs;
let contrail: ContrailClient;
let nova: NovaClient;
let nets: { left: string; right: string; management: string };
let template: { id: string; outs: any };

beforeAll(async () => {
  ({ lab, connection } = await labWithConnection());
  lab.setGlanceContainerFormats(["ami", "ari", "aki", "bare", "ovf", "ova", "docker"]);
  contrail = new ContrailClient(sessionOf(connection));
  await makeDockerAggregate(connection);
  nova = new NovaClient(sessionOf(connection));
  nets = await makeNetworks(lab, connection, "si");
  await makeGlanceImage(connection, "dockwall:si-test");
  template = await created(tp, await checked(tp, { connection, name: "si-tmpl", imageName: "dockwall:si-test" }));
});
afterAll(async () => lab?.stop());

const base = () => ({ connection, serviceTemplate: template.id, leftNetwork: nets.left, rightNetwork: nets.right, managementNetwork: nets.management, waitTimeoutSeconds: 20 });

describe("ServiceInstance against the lab", () => {
  it("creates the instance with interface_list in template order, waits for the ACTIVE service VM, scales in place, and deletes waiting for the VM to go", async () => {
    const inputs = await checked(p, { ...base(), name: "fw-si" });
    const { id, outs } = await p.create(inputs);
    expect(outs.virtualMachineIds).toHaveLength(1);
    const server = await nova.getServer(outs.virtualMachineIds[0]);
    expect(server!.status).toBe("ACTIVE");

    const si = await contrail.read("service-instance", id);
    const props: any = si!.service_instance_properties;
    const left = (await contrail.idToFqname(nets.left))!.fqName.join(":");
    const right = (await contrail.idToFqname(nets.right))!.fqName.join(":");
    const mgmt = (await contrail.idToFqname(nets.management))!.fqName.join(":");
    expect(props.interface_list.map((x: any) => x.virtual_network)).toEqual([left, right, mgmt]);
    expect(props.left_virtual_network).toBe(left);
    expect(props.right_virtual_network).toBe(right);
    expect(props.management_virtual_network).toBe(mgmt);
    expect(props.scale_out).toEqual({ max_instances: 1, auto_scale: false });
    expect(props.availability_zone).toBe("docker");
    expect((si!.service_template_refs as any[])[0].to).toEqual(["default-domain", "si-tmpl"]);

    // The template cannot go while the instance refers to it (Contrail 409).
    await expect(tp.delete!(template.id, template.outs)).rejects.toThrow(/409/);

    const read = await p.read!(id, outs);
    expect((await p.diff!(id, read.props, inputs)).changes).toBe(false);

    const scaled = { ...inputs, maxInstances: 2 };
    const d = await p.diff!(id, outs, scaled);
    expect(d).toMatchObject({ changes: true, replaces: [] });
    const up = await p.update!(id, outs, scaled);
    expect(up.outs.virtualMachineIds).toHaveLength(2);

    expect((await p.diff!(id, outs, { ...inputs, rightNetwork: nets.management, managementNetwork: nets.right })).replaces!.sort()).toEqual(["managementNetwork", "rightNetwork"]);

    await p.delete!(id, up.outs);
    expect(await contrail.read("service-instance", id)).toBeUndefined();
    for (const vm of up.outs.virtualMachineIds) {
      expect(await nova.getServer(vm)).toBeUndefined();
      expect(await contrail.read("virtual-machine", vm)).toBeUndefined();
    }
    await p.delete!(id, up.outs); // already gone: done
  });

  it("follows a template whose interfaces are ordered management, left, right", async () => {
    const t = await created(tp, await checked(tp, { connection, name: "mlr", imageName: "dockwall:si-test", interfaces: ["management", "left", "right"] }));
    const inputs = await checked(p, { ...base(), serviceTemplate: "default-domain:mlr", name: "mlr-si" });
    const { id, outs } = await p.create(inputs);
    const mgmt = (await contrail.idToFqname(nets.management))!.fqName.join(":");
    expect(outs.interfaceList[0]).toBe(mgmt);
    await p.delete!(id, outs);
    await tp.delete!(t.id, t.outs);
  });

  it("names the property when a network does not exist, and creates nothing", async () => {
    lab.counters.reset();
    const inputs = await checked(p, { ...base(), name: "nonet", leftNetwork: "11111111-2222-3333-4444-555555555555" });
    await expect(p.create(inputs)).rejects.toThrow(/leftNetwork: no Contrail object has uuid 11111111/);
    expect(requests(lab, /^contrail POST \/service-instances/)).toBe(0);
  });

  it("fails with Nova's fault message when the VM goes to ERROR, and removes the instance again", async () => {
    lab.setComputeDriverEnabled!("dw-compute-1", false, "Image container format not supported");
    try {
      const inputs = await checked(p, { ...base(), name: "broken" });
      await expect(p.create(inputs)).rejects.toThrow(/ERROR: .*container format not supported/);
      expect(await contrail.fqnameToId("service-instance", ["default-domain", lab.admin.projectName, "broken"])).toBeUndefined();
    } finally {
      lab.setComputeDriverEnabled!("dw-compute-1", true);
    }
  });

  it("times out with a clear message when svc-monitor launches nothing (image missing)", async () => {
    const t = await created(tp, await checked(tp, { connection, name: "noimg", imageName: "dockwall:missing" }));
    const inputs = await checked(p, { ...base(), serviceTemplate: t.id, name: "noimg-si", waitTimeoutSeconds: 2 });
    await expect(p.create(inputs)).rejects.toThrow(/timed out after 2 s waiting for the service VM/);
    expect(await contrail.read("service-instance", inputs.uuid)).toBeUndefined();
    await tp.delete!(t.id, t.outs);
  });

  it("refuses bad input in check", async () => {
    const r = await p.check!({}, { ...base(), name: "x", leftNetwork: "not-a-net", maxInstances: 0, availabilityZone: "a:b:c" });
    expect(r.failures!.map((f) => f.property).sort()).toEqual(["availabilityZone", "leftNetwork", "maxInstances"]);
  });
});
