/**
 * `node lib/test/lab/cli.js up|down|status`
 *
 *   up      starts the lab's control plane in the foreground, prints the endpoints, writes
 *           `.lab/env` (OS_* variables and DOCKWALL_CONTRAIL_API_URL) and `.lab/lab.pid`;
 *           Ctrl-C or `down` stops it. `--data-plane <module>` loads a module exporting
 *           `createDataPlane(): DataPlane | Promise<DataPlane>` (default: no data plane).
 *   down    stops the lab started by `up` (SIGTERM to the pid in `.lab/lab.pid`).
 *   status  says whether it runs and prints its endpoints.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import type { DataPlane } from "./contracts";
import { startLab, type Lab } from "./control-plane";

/** The repository root: the nearest directory above this file with a package.json. */
function repoRoot(): string {
  let dir = __dirname;
  while (!existsSync(join(dir, "package.json"))) {
    const up = dirname(dir);
    if (up === dir) return process.cwd();
    dir = up;
  }
  return dir;
}

const labDir = process.env.DOCKWALL_LAB_DIR ?? join(repoRoot(), ".lab");
const pidFile = join(labDir, "lab.pid");
const envFile = join(labDir, "env");
const endpointsFile = join(labDir, "endpoints.json");

function runningPid(): number | null {
  if (!existsSync(pidFile)) return null;
  const pid = Number(readFileSync(pidFile, "utf8").trim());
  if (!Number.isInteger(pid) || pid <= 0) return null;
  try {
    process.kill(pid, 0);
    return pid;
  } catch {
    return null;
  }
}

function shellQuote(v: string): string {
  return `'${v.replace(/'/g, `'\\''`)}'`;
}

async function loadDataPlane(args: string[]): Promise<DataPlane | undefined> {
  const i = args.indexOf("--data-plane");
  if (i < 0) return undefined;
  const spec = args[i + 1];
  if (!spec) throw new Error("--data-plane needs a module path");
  const mod = require(resolve(spec)) as { createDataPlane?: () => DataPlane | Promise<DataPlane> };
  if (typeof mod.createDataPlane !== "function") throw new Error(`${spec} does not export createDataPlane()`);
  return mod.createDataPlane();
}

async function up(args: string[]): Promise<void> {
  const pid = runningPid();
  if (pid !== null) throw new Error(`a lab is already running (pid ${pid}); run \`down\` first`);
  const dataPlane = await loadDataPlane(args);
  const lab: Lab = await startLab({
    dataPlane,
    log: args.includes("--verbose") ? (line) => console.log(line) : undefined,
  });
  mkdirSync(labDir, { recursive: true });
  const env = lab.env();
  writeFileSync(envFile, Object.entries(env).map(([k, v]) => `export ${k}=${shellQuote(v)}\n`).join(""), { mode: 0o600 });
  writeFileSync(endpointsFile, JSON.stringify({ pid: process.pid, urls: lab.urls }, null, 2) + "\n");
  writeFileSync(pidFile, `${process.pid}\n`);

  console.log("dockwall lab control plane is up:");
  for (const [name, url] of Object.entries(lab.urls)) console.log(`  ${name.padEnd(9)} ${url}`);
  console.log(`  admin     ${lab.admin.username} / project ${lab.admin.projectName} (password in ${envFile})`);
  console.log(`  member    ${lab.member.username} / project ${lab.member.projectName}`);
  console.log(`environment: source ${envFile}`);

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping the lab`);
    await lab.stop();
    // The data plane removes exactly what it recorded (namespaces, dnsmasq, containers, veths).
    const cleanup = (dataPlane as { cleanup?: () => Promise<string[]> } | undefined)?.cleanup;
    if (cleanup) {
      const removed = await cleanup.call(dataPlane).catch((e: unknown) => [`cleanup failed: ${e instanceof Error ? e.message : String(e)}`]);
      console.log(`data plane: removed ${removed.length} recorded object(s)`);
    }
    for (const f of [pidFile, envFile, endpointsFile]) rmSync(f, { force: true });
    process.exit(0);
  };
  process.on("SIGINT", () => void shutdown("SIGINT"));
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
}

async function down(): Promise<void> {
  const pid = runningPid();
  if (pid === null) {
    console.log("no lab is running");
    for (const f of [pidFile, envFile, endpointsFile]) rmSync(f, { force: true });
    return;
  }
  process.kill(pid, "SIGTERM");
  const deadline = Date.now() + 60_000;
  while (runningPid() !== null) {
    if (Date.now() > deadline) throw new Error(`the lab (pid ${pid}) did not stop within 60 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
  console.log(`stopped the lab (pid ${pid})`);
}

function status(): void {
  const pid = runningPid();
  if (pid === null) {
    console.log("no lab is running");
    process.exitCode = 1;
    return;
  }
  const info = existsSync(endpointsFile) ? (JSON.parse(readFileSync(endpointsFile, "utf8")) as { urls: Record<string, string> }) : { urls: {} };
  console.log(`lab running (pid ${pid})`);
  for (const [name, url] of Object.entries(info.urls)) console.log(`  ${name.padEnd(9)} ${url}`);
}

async function main(): Promise<void> {
  const [command, ...args] = process.argv.slice(2);
  switch (command) {
    case "up":
      return up(args);
    case "down":
      return down();
    case "status":
      return status();
    default:
      console.error("usage: node lib/test/lab/cli.js up [--data-plane <module>] [--verbose] | down | status");
      process.exitCode = 2;
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
