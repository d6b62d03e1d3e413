/**
 * The real Pulumi engine against the lab: shared by the end-to-end tests and the demo.
 *
 * - `labNetworks` makes (or finds) three networks through the lab's Neutron, for stacks that take
 *   existing network ids (several stacks on the same networks, the fault table, the bench); stacks
 *   that make their own go through @pulumi/openstack and the plugin engine.sh installs.
 * - `chainStack` opens a stack of a program directory (not an inline program) with the Automation
 *   API, the offline engine from test/support/engine.sh, a `file://` backend and a passphrase.
 *
 * No vitest here: this module also runs outside the tests.
 */
import * as fs from "fs";
import * as path from "path";
import type { LocalWorkspace as LocalWorkspaceT, Stack } from "@pulumi/pulumi/automation";
import { Session } from "../../provider/clients/keystone";
import { resolveConnection } from "../../provider/config";
import { cachedEngine, engineEnv, pulumiHome } from "../support/engine";

/** The repository root (holds the root Pulumi.yaml). */
export function repoRoot(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, "package.json")) && fs.existsSync(path.join(dir, "Pulumi.yaml"))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no package.json with Pulumi.yaml above ${__dirname}`);
  }
}

export const DEFAULT_CIDRS = { left: "10.0.0.0/24", right: "10.0.1.0/24", management: "172.16.0.0/24" } as const;
export type Role = keyof typeof DEFAULT_CIDRS;
export type NetworkIds = Record<Role, string>;

/** A session from OS_* style variables (the lab's `env()`, or `.lab/env`). */
export function sessionFromEnv(env: Record<string, string | undefined>): Session {
  return new Session(resolveConnection({ env }));
}

/** Make or find `<prefix>-left/right/management` with their subnets in the lab's Neutron. */
export async function labNetworks(env: Record<string, string | undefined>, prefix: string, cidrs: Record<Role, string> = { ...DEFAULT_CIDRS }): Promise<NetworkIds> {
  const s = sessionFromEnv(env);
  const out = {} as NetworkIds;
  for (const role of Object.keys(cidrs) as Role[]) {
    const name = `${prefix}-${role}`;
    const found = (await s.request("neutron", { call: `find network ${name}`, method: "GET", path: `/v2.0/networks?name=${encodeURIComponent(name)}` })).json().networks as { id: string }[];
    let id = found[0]?.id;
    if (!id) {
      id = (await s.request("neutron", { call: `create network ${name}`, method: "POST", path: "/v2.0/networks", json: { network: { name, admin_state_up: true } } })).json().network.id as string;
    }
    const subnets = (await s.request("neutron", { call: `list subnets of ${name}`, method: "GET", path: `/v2.0/subnets?network_id=${id}` })).json().subnets as unknown[];
    if (!subnets.length) {
      await s.request("neutron", { call: `create subnet ${name}-subnet`, method: "POST", path: "/v2.0/subnets", json: { subnet: { network_id: id, cidr: cidrs[role], ip_version: 4, enable_dhcp: true, name: `${name}-subnet` } } });
    }
    out[role] = id;
  }
  return out;
}

export interface StackOptions {
  /** Program directory (holds Pulumi.yaml). Default: the repository root (the service-chain stack). */
  workDir?: string;
  stackName: string;
  /** Backend folder (file://). */
  stateDir: string;
  /** Environment for the engine and the program: the lab's OS_* variables and the like. */
  env: Record<string, string>;
  /** Stack config, `key: value` (objects are JSON-encoded). */
  config?: Record<string, unknown>;
  passphrase?: string;
}

/** The engine's environment: PATH with the offline engine, PULUMI_HOME, backend, passphrase. */
export function engineEnvironment(stateDir: string, passphrase: string): Record<string, string> {
  const eng = cachedEngine();
  if (!fs.existsSync(path.join(eng.binDir, "pulumi"))) {
    throw new Error(`no Pulumi engine in ${eng.binDir}: run \`bash test/support/engine.sh\` (scripts/setup.sh does)`);
  }
  fs.mkdirSync(stateDir, { recursive: true });
  return engineEnv(eng.binDir, stateDir, passphrase);
}

/** Create or select a stack of a program directory and set its config. */
export async function chainStack(o: StackOptions): Promise<Stack> {
  const passphrase = o.passphrase ?? "dockwall-lab";
  const envVars = { ...o.env, ...engineEnvironment(o.stateDir, passphrase) };
  // The Automation API reads PULUMI_HOME from this process when it locates the CLI.
  process.env.PULUMI_HOME = pulumiHome();
  const auto = require("@pulumi/pulumi/automation") as typeof import("@pulumi/pulumi/automation");
  const pulumiCommand = await auto.PulumiCommand.get({ root: path.dirname(cachedEngine().binDir), skipVersionCheck: false });
  const workDir = o.workDir ?? repoRoot();
  const stack = await auto.LocalWorkspace.createOrSelectStack({ stackName: o.stackName, workDir }, { envVars, pulumiCommand } as Parameters<typeof LocalWorkspaceT.createOrSelectStack>[1]);
  const cfg: Record<string, { value: string }> = {};
  for (const [k, v] of Object.entries(o.config ?? {})) cfg[k] = { value: typeof v === "string" ? v : JSON.stringify(v) };
  if (Object.keys(cfg).length) await stack.setAllConfig(cfg);
  return stack;
}

/** Config for the root service-chain stack on existing lab networks. */
export function rootStackConfig(nets: NetworkIds, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    "dockwall:leftNetworkId": nets.left,
    "dockwall:rightNetworkId": nets.right,
    "dockwall:managementNetworkId": nets.management,
    ...extra,
  };
}
