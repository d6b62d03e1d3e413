/**
 * Two stacks, one pair of networks: the root service-chain stack twice (own prefix, aggregate,
 * image and policy sequence each), brought up at the same time through the real engine. Both
 * policies must end attached to both networks with their own sequences (attachment is a
 * `ref-update` ADD, never a PUT of the whole network, which would drop the other stack's ref), and
 * destroying one stack must leave the other's attachments in place and its state without drift.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Stack } from "@pulumi/pulumi/automation";
import { startLab, type Lab } from "../lab/control-plane";
import { importTestImage, removeTestImages } from "../support/images";
import { chainStack, labNetworks, NetworkIds, rootStackConfig } from "./harness";

const STACKS = [
  { name: "conc-a", prefix: "dwca", image: "dw-conc-img:a", sequence: { major: 1, minor: 0 } },
  { name: "conc-b", prefix: "dwcb", image: "dw-conc-img:b", sequence: { major: 2, minor: 5 } },
];

describe("two stacks attaching chain policies to the same networks at the same time", () => {
  let lab: Lab;
  let nets: NetworkIds;
  let stateDir: string;
  const stacks: Stack[] = [];
  const onOutput = () => undefined;

  /** The policy refs (uuid → sequence) a network carries. */
  function policyRefs(vn: string): Record<string, unknown> {
    const obj = lab.inventory().contrail["virtual-network"]!.find((v: any) => v.uuid === vn) as any;
    return Object.fromEntries(((obj?.network_policy_refs ?? []) as any[]).map((r) => [r.uuid, r.attr?.sequence]));
  }

  async function policyUuid(stack: Stack): Promise<string> {
    return (await stack.outputs()).policyUuid.value as string;
  }

  beforeAll(async () => {
    lab = await startLab({ svcMonitorDelayMs: 20 });
    lab.setGlanceContainerFormats(["bare", "docker"]);
    nets = await labNetworks(lab.env(), "dw-conc");
    stateDir = fs.mkdtempSync(path.join(os.tmpdir(), "dw-conc-state-"));
    for (const s of STACKS) {
      importTestImage(s.image);
      stacks.push(
        await chainStack({
          stackName: s.name,
          stateDir,
          env: lab.env(),
          config: rootStackConfig(nets, { "dockwall:namePrefix": s.prefix, "dockwall:imageRef": s.image, "dockwall:aggregateName": `${s.prefix}-docker`, "dockwall:policySequence": s.sequence }),
        }),
      );
    }
  }, 120_000);

  afterAll(async () => {
    for (const st of stacks) {
      await st.destroy({ onOutput }).catch(() => undefined);
      await st.workspace.removeStack(st.name, { force: true }).catch(() => undefined);
    }
    await lab?.stop();
    removeTestImages(STACKS.map((s) => s.image));
    if (stateDir) fs.rmSync(stateDir, { recursive: true, force: true });
  }, 300_000);

  it("both ups succeed, both policies end attached to both networks with their own sequences; destroying one leaves the other in place", async () => {
    // Slow every attachment down a little, so the two stacks' ref-updates overlap.
    lab.faults.add({ service: "contrail", method: "POST", path: "^/ref-update$", kind: "latency", delayMs: 1000, times: 4 });
    const results = await Promise.all(stacks.map((st) => st.up({ onOutput })));
    lab.faults.clear();
    for (const r of results) expect(r.summary.result).toBe("succeeded");
    const [a, b] = [await policyUuid(stacks[0]), await policyUuid(stacks[1])];
    expect(a).not.toBe(b);
    for (const vn of [nets.left, nets.right]) {
      expect(policyRefs(vn)).toEqual({ [a]: STACKS[0].sequence, [b]: STACKS[1].sequence });
    }
    // Each stack sees its own world unchanged.
    for (const st of stacks) await st.preview({ expectNoChanges: true, onOutput });

    const ds = await stacks[0].destroy({ onOutput });
    expect(ds.summary.result).toBe("succeeded");
    await lab.whenIdle();
    for (const vn of [nets.left, nets.right]) expect(policyRefs(vn)).toEqual({ [b]: STACKS[1].sequence });
    const rf = await stacks[1].refresh({ onOutput });
    expect(Object.keys(rf.summary.resourceChanges ?? {})).toEqual(["same"]);
    await stacks[1].preview({ expectNoChanges: true, onOutput });
    const inv = lab.inventory();
    expect(inv.nova.aggregates.map((x) => x.name)).toEqual(["dwcb-docker"]);
    expect((inv.contrail["service-instance"] ?? []).map((x: any) => (x.fq_name as string[]).at(-1))).toEqual(["dwcb-instance"]);
    expect((inv.contrail["network-policy"] ?? []).map((x: any) => x.uuid)).toEqual([b]);

    await stacks[1].destroy({ onOutput });
    await lab.whenIdle();
    for (const vn of [nets.left, nets.right]) expect(policyRefs(vn)).toEqual({});
    const end = lab.inventory();
    expect([end.nova.aggregates.length, end.nova.servers.length, end.glance.images.length, (end.contrail["service-instance"] ?? []).length, (end.contrail["service-template"] ?? []).length]).toEqual([0, 0, 0, 0, 0]);
  }, 600_000);
});
