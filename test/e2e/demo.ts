/**
 * The demo (README quick start, via scripts/demo.sh): `pulumi up` of the root service-chain stack
 * against a running lab, then what a person wants to see — the stack outputs, the container's
 * `ip rule` and per-interface tables, and a capture of a ping crossing the firewall left to right.
 *
 *   node lib/test/e2e/demo.js up     deploy (or converge) the "demo" stack and show it working
 *   node lib/test/e2e/demo.js down   destroy the stack and remove its state
 *
 * Expects a lab started by `node lib/test/lab/cli.js up --data-plane … --hosts` (the script does
 * that): the stack prepares the lab's compute host and controller over SSH (`.lab/hosts.json`,
 * given as secret config). State: `.lab/state` (file:// backend), passphrase "dockwall-lab".
 */
import * as fs from "fs";
import * as path from "path";
import { chainStack, NetworkIds, repoRoot } from "./harness";
import type { ProbeResult } from "../lab/data-plane/probe";

const root = repoRoot();
const labDir = process.env.DOCKWALL_LAB_DIR ?? path.join(root, ".lab");
const stateDir = path.join(labDir, "state");
const STACK = "demo";
const RULES = [{ action: "drop", protocol: "tcp", ports: [8080], comment: "demo: block TCP 8080" }];

function labEnv(): Record<string, string> {
  const file = path.join(labDir, "env");
  if (!fs.existsSync(file)) throw new Error(`no running lab (${file} is missing): run \`bash scripts/demo.sh\``);
  const env: Record<string, string> = {};
  for (const line of fs.readFileSync(file, "utf8").split("\n")) {
    const m = /^export ([A-Z0-9_]+)='((?:[^']|'\\'')*)'$/.exec(line.trim());
    if (m) env[m[1]] = m[2].replace(/'\\''/g, "'");
  }
  return env;
}

function adminUrl(): string {
  const info = JSON.parse(fs.readFileSync(path.join(labDir, "endpoints.json"), "utf8")) as { admin?: string };
  if (!info.admin) throw new Error("the running lab has no data plane: start it with --data-plane (scripts/demo.sh does)");
  return info.admin;
}

function heading(s: string): void {
  console.log(`\n=== ${s} ${"=".repeat(Math.max(0, 70 - s.length))}`);
}

function indent(s: string): string {
  return s
    .trimEnd()
    .split("\n")
    .map((l) => `    ${l}`)
    .join("\n");
}

async function up(): Promise<void> {
  const env = labEnv();
  heading("pulumi up (stack \"demo\", root Pulumi.yaml)");
  const hostsFile = path.join(labDir, "hosts.json");
  if (!fs.existsSync(hostsFile)) throw new Error("the running lab has no hosts: start it with --hosts (scripts/demo.sh does)");
  const hosts = JSON.parse(fs.readFileSync(hostsFile, "utf8")) as { hostAccess: unknown; glanceHost: unknown; computeHost: string };
  const stack = await chainStack({ stackName: STACK, stateDir, env, config: { "dockwall:firewallRules": RULES } });
  // SSH access (with the lab's private key) goes in as secret config: encrypted in the state.
  await stack.setAllConfig({
    "dockwall:hostAccess": { value: JSON.stringify(hosts.hostAccess), secret: true },
    "dockwall:glanceHost": { value: JSON.stringify(hosts.glanceHost), secret: true },
  });
  const t0 = Date.now();
  const res = await stack.up({ onOutput: (s) => process.stdout.write(s) });
  console.log(`pulumi up: ${res.summary.result} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

  heading("stack outputs");
  const outs = await stack.outputs();
  for (const [k, v] of Object.entries(outs)) console.log(`  ${k.padEnd(17)} ${v.secret ? "[secret]" : JSON.stringify(v.value)}`);

  const nets = outs.networkIds.value as NetworkIds;
  const serverId = (outs.serviceVmIds?.value as string[] | undefined)?.[0];
  if (!serverId) throw new Error("the stack has no service VM id (serviceVmIds)");
  const r = await fetch(`${adminUrl()}/probe`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ leftNetworkId: nets.left, rightNetworkId: nets.right, serverId, tcpPorts: [8080, 8081] }),
  });
  if (!r.ok) throw new Error(`lab probe failed: ${r.status} ${await r.text()}`);
  const p = (await r.json()) as ProbeResult;

  heading(`inside the dockwall container (service VM ${serverId})`);
  console.log(`  # ip rule show\n${indent(p.ipRule)}`);
  console.log(`  # ip route show\n${indent(p.ipRoute)}`);
  for (const [t, text] of Object.entries(p.tables)) console.log(`  # ip route show table ${t}   (${t === p.leftInterface ? "left" : "right"})\n${indent(text)}`);

  heading("198.51.100.11 (behind the left gateway) pings 203.0.113.8 (behind the right gateway)");
  console.log(indent(p.ping.output));
  console.log(`  # tcpdump -n -i ${p.leftInterface}   (left, inside the container)\n${indent(p.leftCapture.slice(0, 4).join("\n"))}`);
  console.log(`  # tcpdump -n -i ${p.rightInterface}   (right, inside the container)\n${indent(p.rightCapture.slice(0, 4).join("\n"))}`);
  heading("the firewall (rules baked into the image: drop TCP 8080)");
  for (const [port, what] of Object.entries(p.tcp)) console.log(`  TCP ${port}: ${what}`);

  const ok = p.ping.ok && p.tcp["8081"] === "connected" && p.tcp["8080"] !== "connected";
  console.log(ok ? "\nThe chain works: traffic crosses the dockwall firewall, TCP 8080 is dropped." : "\nThe chain does NOT behave as expected (see above).");
  console.log("Tear everything down with: bash scripts/demo.sh down");
  if (!ok) process.exitCode = 1;
}

async function down(): Promise<void> {
  if (!fs.existsSync(stateDir)) {
    console.log("no demo stack state: nothing to destroy");
    return;
  }
  const stack = await chainStack({ stackName: STACK, stateDir, env: labEnv() });
  const res = await stack.destroy({ onOutput: (s) => process.stdout.write(s) });
  console.log(`pulumi destroy: ${res.summary.result}`);
  await stack.workspace.removeStack(STACK);
  fs.rmSync(stateDir, { recursive: true, force: true });
}

const cmd = process.argv[2];
(cmd === "up" ? up() : cmd === "down" ? down() : Promise.reject(new Error("usage: node lib/test/e2e/demo.js up|down"))).catch((e: unknown) => {
  console.error(`demo: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
