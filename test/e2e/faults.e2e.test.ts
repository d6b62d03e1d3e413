/**
 * Faults during every phase, through the real Pulumi engine: the root service-chain stack is
 * brought up, updated (a new image, so image, template and instance are replaced and the policy
 * follows) and destroyed while one API at a time answers 503, answers too late for the client's
 * timeout, or acts and then drops the connection. Every case must end either in success (the
 * client retried) or in a clear error naming the resource and the call; then the next run
 * (after `refresh`, as Pulumi needs after a failed operation) must converge with no duplicate
 * objects, and the final destroy must leave nothing behind in the lab's inventory.
 *
 * The case table is FAULT_CASES below; the results table is printed at the end of the run.
 * The data plane is the lab's null one (no containers): these cases are about the control plane.
 * Neutron is not in the table: no dockwall resource calls it (the networks come from the stock
 * OpenStack provider, or as existing ids; the Contrail resources address them by uuid). How that
 * provider behaves when Neutron fails is in the README ("When things go wrong").
 */
import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Stack } from "@pulumi/pulumi/automation";
import { startLab, type Lab } from "../lab/control-plane";
import type { FaultRule } from "../lab/control-plane/faults";
import type { ServiceName } from "../lab/control-plane/http/router";
import { importTestImage, removeTestImages } from "../support/images";
import { chainStack, engineEnvironment, labNetworks, NetworkIds, repoRoot, rootStackConfig } from "./harness";
import { cachedEngine } from "../support/engine";

type Kind = "503" | "down" | "timeout" | "drop-after-act";
type Phase = "up" | "update" | "destroy";

const APIS: ServiceName[] = ["keystone", "nova", "glance", "contrail"];
const KINDS: Kind[] = ["503", "down", "timeout", "drop-after-act"];
/** The last case: the program killed mid-up. */
const KILLED = "killed";
const PHASES: Phase[] = ["up", "update", "destroy"];
/** Every API × every fault kind; each case runs all three phases with the fault armed. */
export const FAULT_CASES = APIS.flatMap((api) => KINDS.map((kind) => ({ api, kind })));

/** The client's per-attempt timeout in these stacks, and the latency that exceeds it. */
const TIMEOUT_MS = 1500;
const LATENCY_MS = 2500;
const IMAGES = ["dw-fault-img:1", "dw-fault-img:2"];

/**
 * The fault for one phase: two 503s (retried away); 503 to every request of the phase (the API is
 * down: the phase fails); one answer later than the timeout; the first write acted on and its answer lost.
 */
export function faultFor(api: ServiceName, kind: Kind, phase: Phase): FaultRule {
  switch (kind) {
    case "503":
      return { service: api, kind: "status", status: 503, times: 2 };
    case "down":
      return { service: api, kind: "status", status: 503 };
    case "timeout":
      return { service: api, kind: "latency", delayMs: LATENCY_MS, times: 1 };
    case "drop-after-act":
      return { service: api, method: api === "keystone" || phase !== "destroy" ? "POST" : "DELETE", kind: "drop-after-act", times: 1 };
  }
}

interface Row {
  api: string;
  kind: Kind | typeof KILLED;
  phase: Phase;
  /** Requests the fault applied to (0: the phase made no such request). */
  fired: number;
  outcome: "ok" | "failed, then converged" | "did not converge";
  error?: string;
  duplicates: number;
  leaked: number;
}

/** The stack's objects in the lab, by kind (the networks are made outside the stack and not counted). */
function stackObjects(lab: Lab): Record<string, number> {
  const inv = lab.inventory();
  const live = (s: string) => !["deleted", "pending_delete", "killed"].includes(s);
  return {
    aggregates: inv.nova.aggregates.length,
    servers: inv.nova.servers.filter((s: any) => s.status !== "DELETED").length,
    images: inv.glance.images.filter((i: any) => live(i.status)).length,
    templates: (inv.contrail["service-template"] ?? []).length,
    instances: (inv.contrail["service-instance"] ?? []).length,
    policies: (inv.contrail["network-policy"] ?? []).length,
    vmPorts: inv.neutron.ports.filter((p: any) => String(p.device_owner ?? "").startsWith("compute")).length,
  };
}

/** One chain: one of each object, one server with its three ports. */
const ONE_CHAIN: Record<string, number> = { aggregates: 1, servers: 1, images: 1, templates: 1, instances: 1, policies: 1, vmPorts: 3 };
/** Nothing of a chain. */
const NO_CHAIN: Record<string, number> = Object.fromEntries(Object.keys(ONE_CHAIN).map((k) => [k, 0]));

/** The line of an engine error that says what failed (the diagnostic, not the progress output). */
function errorLine(e: unknown): string {
  const text = String((e as Error)?.message ?? e);
  const lines = text.split("\n").map((l) => l.trim());
  // The resource's own diagnostic; the provider process also prints the error at the stack level
  // ("pulumi:pulumi:Stack … ApiError: …"), before or after it depending on timing.
  return (
    lines.find((l) => /dockwall:\w+ \S+ .*error: /.test(l)) ??
    lines.find((l) => /error: .*(keystone|nova|glance|neutron|contrail)/i.test(l)) ??
    text.slice(0, 300)
  ).slice(0, 400);
}

describe("faults during up, update and destroy: every case converges and leaks nothing", () => {
  let lab: Lab;
  let nets: NetworkIds;
  let env: Record<string, string>;
  let stateDir: string;
  const rows: Row[] = [];
  const log: string[] = [];
  const onOutput = (s: string) => log.push(s);

  beforeAll(async () => {
    lab = await startLab({ svcMonitorDelayMs: 20 });
    lab.setGlanceContainerFormats(["bare", "docker"]);
    env = lab.env();
    nets = await labNetworks(env, "dw-fault");
    stateDir = fs.mkdtempSync(path.join(os.tmpdir(), "dw-fault-state-"));
    for (const ref of IMAGES) importTestImage(ref);
  }, 120_000);

  afterAll(async () => {
    const table = [
      "| api | fault | phase | requests hit | outcome | duplicates | leaked | error shown |",
      "|---|---|---|--:|---|--:|--:|---|",
      ...rows.map((r) => `| ${r.api} | ${r.kind} | ${r.phase} | ${r.fired} | ${r.outcome} | ${r.duplicates} | ${r.leaked} | ${(r.error ?? "").replace(/\|/g, "/")} |`),
    ];
    const cases = new Set(rows.map((r) => `${r.api}/${r.kind}`)).size;
    const converged = rows.filter((r) => r.outcome !== "did not converge").length;
    console.log(
      `[faults] ${cases} cases, ${rows.length} faulted phases, ${converged} converged, ${rows.filter((r) => r.fired > 0).length} with the fault hit, ` +
        `${rows.reduce((n, r) => n + r.leaked, 0)} objects leaked, ${rows.reduce((n, r) => n + r.duplicates, 0)} duplicates\n${table.join("\n")}`,
    );
    await lab?.stop();
    removeTestImages(IMAGES);
    if (stateDir) fs.rmSync(stateDir, { recursive: true, force: true });
  }, 120_000);

  async function runPhase(stack: Stack, phase: Phase): Promise<void> {
    if (phase === "destroy") {
      const r = await stack.destroy({ onOutput });
      expect(r.summary.result).toBe("succeeded");
    } else {
      const r = await stack.up({ onOutput });
      expect(r.summary.result).toBe("succeeded");
    }
  }

  /** After a case, whatever happened: nothing of it may stay in the lab for the next case. */
  async function scrub(stack: Stack | undefined): Promise<void> {
    lab.faults.clear();
    if (!stack) return;
    await stack.refresh({ onOutput }).catch(() => undefined);
    await stack.destroy({ onOutput }).catch(() => undefined);
    await stack.workspace.removeStack(stack.name, { force: true }).catch(() => undefined);
  }

  FAULT_CASES.forEach(({ api, kind }, n) => {
    it(`${api} ${kind}: up, update and destroy converge with no duplicates and nothing leaked`, async () => {
      let stack: Stack | undefined;
      try {
        expect(stackObjects(lab)).toEqual(NO_CHAIN);
        stack = await chainStack({
          stackName: `fault-${n}`,
          stateDir,
          env,
          config: rootStackConfig(nets, { "dockwall:namePrefix": `dwf${n}`, "dockwall:imageRef": IMAGES[0], "dockwall:timeoutMs": String(TIMEOUT_MS), "dockwall:retries": "2" }),
        });
        for (const phase of PHASES) {
          if (phase === "update") await stack.setConfig("dockwall:imageRef", { value: IMAGES[1] });
          const id = lab.faults.add(faultFor(api, kind, phase));
          const row: Row = { api, kind, phase, fired: 0, outcome: "ok", duplicates: 0, leaked: 0 };
          rows.push(row);
          let failure: unknown;
          try {
            await runPhase(stack, phase);
          } catch (e) {
            failure = e;
          }
          row.fired = lab.faults.fired(id);
          lab.faults.clear();
          // An API that is down for the whole phase cannot be retried away.
          if (kind === "down" && row.fired > 0) expect(failure, `${api} down during ${phase}`).toBeDefined();
          await lab.whenIdle();
          if (failure !== undefined) {
            row.error = errorLine(failure);
            row.outcome = "did not converge";
            // A clear error: it names the resource, the API and the call that failed.
            expect(row.error).toMatch(/dockwall:(DockerAggregate|DockwallImage|ServiceTemplate|ServiceInstance|ChainPolicy) dwf\d+-\w+ /);
            expect(row.error).toMatch(new RegExp(`error: .*${api}: \\S.* failed`, "i"));
            await stack.refresh({ onOutput });
            await runPhase(stack, phase);
            await lab.whenIdle();
            row.outcome = "failed, then converged";
          }
          const objects = stackObjects(lab);
          if (phase === "destroy") {
            row.leaked = Object.values(objects).reduce((a, b) => a + b, 0);
            expect(objects, "destroy leaves nothing").toEqual(NO_CHAIN);
          } else {
            row.duplicates = Object.entries(objects).reduce((a, [k, v]) => a + Math.max(0, v - ONE_CHAIN[k]), 0);
            expect(objects, `after ${phase}: one chain, no duplicates, no orphans`).toEqual(ONE_CHAIN);
            // The state matches the lab: nothing left to do.
            await stack.preview({ expectNoChanges: true, onOutput });
            const img = lab.inventory().glance.images.find((i: any) => i.status === "active");
            expect(img?.name).toBe(phase === "up" ? IMAGES[0] : IMAGES[1]);
          }
        }
      } finally {
        await scrub(stack);
      }
    }, 600_000);
  });

  it("the program killed mid-up (instance created, policy created but not attached): refresh clears the pending create and the next up adopts the policy it made", async () => {
    let stack: Stack | undefined;
    try {
      stack = await chainStack({ stackName: "fault-kill", stateDir, env, config: rootStackConfig(nets, { "dockwall:namePrefix": "dwfk", "dockwall:imageRef": IMAGES[0] }) });
      // Hold the policy's attachment (ref-update) long enough to kill everything in between.
      const hold = lab.faults.add({ service: "contrail", method: "POST", path: "^/ref-update$", kind: "latency", delayMs: 10_000, times: 1 });
      const bin = path.join(cachedEngine().binDir, "pulumi");
      const child = spawn(bin, ["up", "--yes", "--non-interactive", "--skip-preview", "--stack", "fault-kill"], {
        cwd: repoRoot(),
        env: { ...process.env, ...env, ...engineEnvironment(stateDir, "dockwall-lab") },
        detached: true, // its own process group: the CLI, the language host, the program and the provider
        stdio: ["ignore", "pipe", "pipe"],
      });
      let out = "";
      child.stdout!.on("data", (d) => (out += d));
      child.stderr!.on("data", (d) => (out += d));
      const exited = new Promise<number | null>((r) => child.on("exit", (code, signal) => r(signal ? null : code)));
      const deadline = Date.now() + 240_000;
      while (lab.faults.fired(hold) === 0) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`the up never reached the policy attachment:\n${out.slice(-3000)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      process.kill(-child.pid!, "SIGKILL");
      expect(await exited).toBeNull();
      lab.faults.clear();
      await new Promise((r) => setTimeout(r, 10_500)); // the held request finishes (or is dropped) in the lab
      await lab.whenIdle();
      const before = stackObjects(lab);
      expect(before).toMatchObject({ aggregates: 1, images: 1, templates: 1, instances: 1, policies: 1 });
      const policy = lab.inventory().contrail["network-policy"]![0] as any;
      // What the user runs next (README "When things go wrong"): the killed run left its lock and a pending create.
      await stack.cancel().catch(() => undefined);
      await stack.refresh({ onOutput, clearPendingCreates: true });
      const up = await stack.up({ onOutput });
      expect(up.summary.result).toBe("succeeded");
      await lab.whenIdle();
      expect(stackObjects(lab)).toEqual(ONE_CHAIN);
      const after = lab.inventory().contrail["network-policy"]![0] as any;
      expect(after.uuid).toBe(policy.uuid); // adopted, not duplicated
      const attached = lab.inventory().contrail["virtual-network"]!.filter((vn: any) => (vn.network_policy_refs ?? []).some((r: any) => r.uuid === after.uuid));
      expect(attached.map((vn: any) => vn.uuid).sort()).toEqual([nets.left, nets.right].sort());
      await stack.preview({ expectNoChanges: true, onOutput });
      rows.push({ api: "program", kind: KILLED, phase: "up", fired: 1, outcome: "failed, then converged", error: "SIGKILL during the policy attachment", duplicates: 0, leaked: 0 });
      await stack.destroy({ onOutput });
      await lab.whenIdle();
      const left = stackObjects(lab);
      rows[rows.length - 1].leaked = Object.values(left).reduce((a, b) => a + b, 0);
      expect(left).toEqual(NO_CHAIN);
    } finally {
      await scrub(stack);
    }
  }, 600_000);
});
