import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serviceTemplateProvider as p } from "../../provider/resources/serviceTemplate";
import { ContrailClient } from "../../provider/clients/contrail";
import type { ConnectionArgs } from "../../provider/config";
import { checked, Lab, labWithConnection, sessionOf } from "./helpers";

let lab: Lab;
let connection: ConnectionArgs;
let contrail: ContrailClient;

beforeAll(async () => {
  ({ lab, connection } = await labWithConnection());
  contrail = new ContrailClient(sessionOf(connection));
});
afterAll(async () => lab?.stop());

describe("ServiceTemplate against the lab", () => {
  it("creates a 2.x v1 template, reads it back, diffs as no-op, and deletes it (twice is fine)", async () => {
    const inputs = await checked(p, { connection, name: "fw-tmpl", imageName: "dockwall:abc123" });
    const { id, outs } = await p.create(inputs);
    expect(id).toBe(inputs.uuid);
    expect(outs.fqName).toEqual(["default-domain", "fw-tmpl"]);

    const st = await contrail.read("service-template", id);
    const props: any = st!.service_template_properties;
    expect(st!.fq_name).toEqual(["default-domain", "fw-tmpl"]);
    expect(props.image_name).toBe("dockwall:abc123");
    expect(props.ordered_interfaces).toBe(true);
    expect(props.availability_zone_enable).toBe(true);
    expect(props).not.toHaveProperty("version");
    expect(props.interface_type.map((t: any) => t.service_interface_type)).toEqual(["left", "right", "management"]);

    const read = await p.read!(id, outs);
    expect(read.id).toBe(id);
    expect(read.props.imageName).toBe("dockwall:abc123");
    expect((await p.diff!(id, read.props, inputs)).changes).toBe(false);

    const d = await p.diff!(id, outs, { ...inputs, imageName: "dockwall:def456" });
    expect(d.replaces).toEqual(["imageName"]);
    expect(d.deleteBeforeReplace).toBe(true);

    await p.delete!(id, outs);
    expect(await contrail.read("service-template", id)).toBeUndefined();
    await p.delete!(id, outs); // 404 is done
    expect((await p.read!(id, outs)).id).toBeFalsy();
  });

  it("sends version 1 for Tungsten Fabric", async () => {
    const inputs = await checked(p, { connection, name: "fw-tf", imageName: "dockwall:abc123", contrailRelease: "tf" });
    const { id, outs } = await p.create(inputs);
    const st = await contrail.read("service-template", id);
    expect((st!.service_template_properties as any).version).toBe(1);
    await p.delete!(id, outs);
  });

  it("refuses bad input in check, before any request", async () => {
    lab.counters.reset();
    const r = await p.check!({}, { connection, name: "bad:name", imageName: "x:1", serviceMode: "bridge" });
    expect(r.failures!.map((f) => f.property).sort()).toEqual(["name", "serviceMode"]);
    expect(r.failures!.find((f) => f.property === "serviceMode")!.reason).toMatch(/transparent.*in-network.*in-network-nat/);
    expect(lab.counters.total()).toBe(0);
  });

  it("reports a name taken by another object with Contrail's 409", async () => {
    const a = await checked(p, { connection, name: "dup", imageName: "x:1" });
    const created = await p.create(a);
    const b = await checked(p, { connection, name: "dup", imageName: "x:1" });
    await expect(p.create(b)).rejects.toThrow(/409.*already exists with uuid/);
    await p.delete!(created.id, created.outs);
  });

  it("recovers from injected 503s by retrying", async () => {
    const inputs = await checked(p, { connection, name: "retry", imageName: "x:1" });
    lab.faults.add({ service: "contrail", method: "POST", path: "^/service-templates$", kind: "status", status: 503, times: 2 });
    const { id, outs } = await p.create(inputs);
    expect(await contrail.read("service-template", id)).toBeDefined();
    await p.delete!(id, outs);
    lab.faults.clear();
  });

  it("adopts its own object when a create's answer was lost and the create is retried", async () => {
    const inputs = await checked(p, { connection: { ...connection, retries: 0 }, name: "lost", imageName: "x:1" });
    lab.faults.add({ service: "contrail", method: "POST", path: "^/service-templates$", kind: "drop-after-act", times: 1 });
    await expect(p.create(inputs)).rejects.toThrow(/no answer|ECONNRESET/);
    lab.faults.clear();
    const again = await p.create(inputs); // same checked inputs → same uuid → 409 → adopt
    expect(again.id).toBe(inputs.uuid);
    const all = await contrail.list("service-template");
    expect(all.filter((t) => t.fq_name[1] === "lost")).toHaveLength(1);
    await p.delete!(again.id, again.outs);
  });

});
