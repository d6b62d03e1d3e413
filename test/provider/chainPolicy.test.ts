import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serviceTemplateProvider as tp } from "../../provider/resources/serviceTemplate";
import { serviceInstanceProvider as sip } from "../../provider/resources/serviceInstance";
import { chainPolicyProvider as p } from "../../provider/resources/chainPolicy";
import { ContrailClient } from "../../provider/clients/contrail";
import type { ConnectionArgs } from "../../provider/config";
import { checked, created, makeDockerAggregate, Lab, labWithConnection, makeGlanceImage, makeNetworks, sessionOf } from "./helpers";

let lab: Lab;
let connection: ConnectionArgs;
let contrail: ContrailClient;
let nets: { left: string; right: string; management: string };
let si: { id: string; outs: any };
let tmpl: { id: string; outs: any };

beforeAll(async () => {
  ({ lab, connection } = await labWithConnection());
  lab.setGlanceContainerFormats(["bare", "docker"]);
  contrail = new ContrailClient(sessionOf(connection));
  await makeDockerAggregate(connection);
  nets = await makeNetworks(lab, connection, "pol");
  await makeGlanceImage(connection, "dockwall:pol");
  tmpl = await created(tp, await checked(tp, { connection, name: "pol-tmpl", imageName: "dockwall:pol" }));
  si = await created(sip, await checked(sip, { connection, name: "pol-si", serviceTemplate: tmpl.id, leftNetwork: nets.left, rightNetwork: nets.right, managementNetwork: nets.management, waitTimeoutSeconds: 20 }));
});
afterAll(async () => lab?.stop());

async function policyRefs(vn: string): Promise<any[]> {
  return ((await contrail.read("virtual-network", vn))!.network_policy_refs as any[]) ?? [];
}

describe("ChainPolicy against the lab", () => {
  it("creates the policy with apply_service, attaches it to both networks with a sequence, updates rules in place, repairs a detach, and deletes after detaching", async () => {
    const inputs = await checked(p, { connection, name: "chain-pol", leftNetwork: nets.left, rightNetwork: nets.right, services: [si.id] });
    const { id, outs } = await p.create(inputs);
    const pol = await contrail.read("network-policy", id);
    const rules: any[] = (pol!.network_policy_entries as any).policy_rule;
    expect(rules).toHaveLength(1);
    expect(rules[0].direction).toBe("<>");
    expect(rules[0].action_list.apply_service).toEqual([si.outs.fqName.join(":")]);
    expect(rules[0].src_addresses[0].virtual_network).toBe(outs.leftFqName);
    expect(rules[0].dst_addresses[0].virtual_network).toBe(outs.rightFqName);
    expect(rules[0].rule_uuid).toBeTruthy(); // filled in by the server
    expect(outs.ruleUuids).toEqual([rules[0].rule_uuid]);
    for (const vn of [nets.left, nets.right]) {
      const ref = (await policyRefs(vn)).find((r) => r.uuid === id);
      expect(ref?.attr?.sequence).toEqual({ major: 0, minor: 0 });
    }
    expect(outs.attachedTo.sort()).toEqual([nets.left, nets.right].sort());

    // Refresh then diff: no change (rule_uuid ignored).
    const read = await p.read!(id, outs);
    expect((await p.diff!(id, read.props, inputs)).changes).toBe(false);

    // Rules are updated in place.
    const newer = { ...inputs, rules: [{ direction: "<>", protocol: "tcp", srcPorts: [{ start: -1, end: -1 }], dstPorts: [{ start: 443, end: 443 }] }] };
    const d = await p.diff!(id, outs, newer);
    expect(d).toMatchObject({ changes: true, replaces: [] });
    const up = await p.update!(id, outs, newer);
    const after = ((await contrail.read("network-policy", id))!.network_policy_entries as any).policy_rule;
    expect(after[0].protocol).toBe("tcp");
    expect(after[0].dst_ports).toEqual([{ start_port: 443, end_port: 443 }]);

    // Detached behind the stack's back: refresh shows it, diff wants an update, update re-attaches.
    await contrail.refUpdate({ type: "virtual-network", uuid: nets.right, refType: "network-policy", refUuid: id, operation: "DELETE" });
    const drifted = await p.read!(id, up.outs);
    expect(drifted.props.attachedTo).toEqual([nets.left]);
    expect((await p.diff!(id, drifted.props, newer)).changes).toBe(true);
    await p.update!(id, drifted.props, newer);
    expect((await policyRefs(nets.right)).some((r) => r.uuid === id)).toBe(true);

    // Contrail refuses to delete an attached policy; the provider detaches first.
    await expect(contrail.delete("network-policy", id)).rejects.toThrow(/409.*Back-References/);
    await p.delete!(id, up.outs);
    expect(await contrail.read("network-policy", id)).toBeUndefined();
    expect((await policyRefs(nets.left)).some((r) => r.uuid === id)).toBe(false);
    await p.delete!(id, up.outs); // gone: done
  });

  it("leaves another policy's attachment on the same network in place", async () => {
    const a = await p.create(await checked(p, { connection, name: "pol-a", leftNetwork: nets.left, rightNetwork: nets.right, services: [si.id], sequence: { major: 1, minor: 0 } }));
    const b = await p.create(await checked(p, { connection, name: "pol-b", leftNetwork: nets.left, rightNetwork: nets.right, services: [si.outs.fqName.join(":")], sequence: { major: 2, minor: 0 } }));
    await p.delete!(a.id, a.outs);
    const refs = await policyRefs(nets.left);
    expect(refs.map((r) => r.uuid)).toEqual([b.id]);
    expect(refs[0].attr.sequence).toEqual({ major: 2, minor: 0 });
    await p.delete!(b.id, b.outs);
  });

  it("concurrency: four policies attached to the same networks at the same time all end attached with their own sequences; deleting two leaves the others", async () => {
    const seq = [3, 4, 5, 6];
    const made = await Promise.all(
      seq.map(async (major) => p.create(await checked(p, { connection, name: `pol-par-${major}`, leftNetwork: nets.left, rightNetwork: nets.right, services: [si.id], sequence: { major, minor: 1 } }))),
    );
    for (const vn of [nets.left, nets.right]) {
      const refs = (await policyRefs(vn)).filter((r) => made.some((m) => m.id === r.uuid));
      expect(refs).toHaveLength(4);
      for (const m of made) expect(refs.find((r) => r.uuid === m.id)!.attr.sequence).toEqual({ major: m.outs.sequence.major, minor: 1 });
    }
    await Promise.all(made.slice(0, 2).map((m) => p.delete!(m.id, m.outs)));
    for (const vn of [nets.left, nets.right]) {
      const refs = (await policyRefs(vn)).filter((r) => made.some((m) => m.id === r.uuid));
      expect(refs.map((r) => r.attr.sequence.major).sort()).toEqual([5, 6]);
    }
    await Promise.all(made.slice(2).map((m) => p.delete!(m.id, m.outs)));
    expect((await policyRefs(nets.left)).filter((r) => made.some((m) => m.id === r.uuid))).toEqual([]);
  });

  it("refuses bad rules in check, naming the property", async () => {
    const r = await p.check!({}, {
      connection, name: "bad", leftNetwork: nets.left, rightNetwork: nets.left, services: [],
      rules: [{ protocol: "gre" }, { protocol: "tcp", dstPorts: [{ start: 10, end: 70000 }] }],
    });
    const props = r.failures!.map((f) => f.property).sort();
    expect(props).toEqual(["rightNetwork", "rules[0].protocol", "rules[1].dstPorts[0].end", "services"]);
  });

  it("names the service when it does not exist, and leaves nothing behind", async () => {
    const inputs = await checked(p, { connection, name: "ghost", leftNetwork: nets.left, rightNetwork: nets.right, services: ["default-domain:admin:nope"] });
    await expect(p.create(inputs)).rejects.toThrow(/services\[0\]: no service-instance named default-domain:admin:nope/);
    expect(await contrail.read("network-policy", inputs.uuid)).toBeUndefined();
  });
});
