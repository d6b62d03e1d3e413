/**
 * `node lib/test/lab/cli.js up|down|status`
 *
 *   up      starts the lab's control plane in the foreground, prints the endpoints, writes
 *           `.lab/env` (OS_* variables and DOCKWALL_CONTRAIL_API_URL) and `.lab/lab.pid`;
 *           Ctrl-C or `down` stops it. `--data-plane <module>` loads a module exporting
 *           `createDataPlane(): DataPlane | Promise<DataPlane>` (default: no data plane).
 *           `--accept-docker` makes Glance accept container_format docker from the start (what
 *           the controller's glance-api.conf would say once prepared).
 *           `--hosts` also starts the lab's controller and compute host (containers with sshd
 *           whose config files decide what Glance and Nova do) and writes their SSH access to
 *           `.lab/hosts.json` (mode 0600: it holds the lab's private key).
 *           With a data plane, a loopback admin endpoint (`admin` in `.lab/endpoints.json`)
 *           answers `POST /probe {leftNetworkId, rightNetworkId, serverId, tcpPorts?}` with the
 *           seed's demonstration (see data-plane/probe.ts).
 *   down    stops the lab started by `up` (SIGTERM to the pid in `.lab/lab.pid`).
 *   status  says whether it runs and prints its endpoints.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import type { DataPlane } from "./contracts";
import { createServer, type Server } from "node:http";
import { startLab, type Lab } from "./control-plane";
import type { LabDataPlane } from "./data-plane";
import { chainProbe } from "./data-plane/probe";
import { startLabHosts, type LabHosts } from "./hosts";

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
  if (args.includes("--accept-docker")) lab.setGlanceContainerFormats(["ami", "ari", "aki", "bare", "ovf", "ova", "docker"]);
  let hosts: LabHosts | undefined;
  if (args.includes("--hosts")) {
    hosts = await startLabHosts(lab);
    mkdirSync(labDir, { recursive: true });
    const access = (h: LabHosts["compute"]) => ({ host: h.host, port: h.port, user: "root", privateKey: hosts!.privateKey, hostKey: h.hostKey });
    writeFileSync(
      join(labDir, "hosts.json"),
      JSON.stringify({ hostAccess: { [hosts.compute.name]: access(hosts.compute) }, glanceHost: access(hosts.controller), computeHost: hosts.compute.name }, null, 2) + "\n",
      { mode: 0o600 },
    );
  }
  const admin = dataPlane && "exec" in dataPlane ? await adminServer(lab, dataPlane as LabDataPlane) : undefined;
  mkdirSync(labDir, { recursive: true });
  const env = lab.env();
  writeFileSync(envFile, Object.entries(env).map(([k, v]) => `export ${k}=${shellQuote(v)}\n`).join(""), { mode: 0o600 });
  writeFileSync(endpointsFile, JSON.stringify({ pid: process.pid, urls: lab.urls, ...(admin ? { admin: admin.url } : {}) }, null, 2) + "\n");
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
    admin?.server.close();
    await hosts?.stop().catch((e: unknown) => console.error(`hosts: ${e instanceof Error ? e.message : String(e)}`));
    await lab.stop();
    // The data plane removes exactly what it recorded (namespaces, dnsmasq, containers, veths).
    const cleanup = (dataPlane as { cleanup?: () => Promise<string[]> } | undefined)?.cleanup;
    if (cleanup) {
      const removed = await cleanup.call(dataPlane).catch((e: unknown) => [`cleanup failed: ${e instanceof Error ? e.message : String(e)}`]);
      console.log(`data plane: removed ${removed.length} recorded object(s)`);
    }
    for (const f of [pidFile, envFile, endpointsFile, join(labDir, "hosts.json")]) rmSync(f, { force: true });
    process.exit(0);
  };
  process.on("SIGINT", () => void shutdown("SIGINT"));
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
}

/** Loopback admin endpoint for the demo: the seed's demonstration on demand. */
async function adminServer(lab: Lab, dp: LabDataPlane): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      void (async () => {
        if (req.method !== "POST" || req.url !== "/probe") {
          res.writeHead(404, { "content-type": "text/plain" }).end("only POST /probe\n");
          return;
        }
        try {
          const body = JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}");
          for (const k of ["leftNetworkId", "rightNetworkId", "serverId"]) {
            if (typeof body[k] !== "string") throw new Error(`${k} (a string) is required`);
          }
          await lab.whenIdle();
          const result = await chainProbe(dp, body);
          res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(result));
        } catch (e) {
          res.writeHead(400, { "content-type": "text/plain" }).end(`${e instanceof Error ? e.message : String(e)}\n`);
        }
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  return { server, url: `http://127.0.0.1:${port}` };
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
      console.error("usage: node lib/test/lab/cli.js up [--data-plane <module>] [--accept-docker] [--hosts] [--verbose] | down | status");
      process.exitCode = 2;
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
