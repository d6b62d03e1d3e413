/**
 * The lab's SSH hosts: a controller (`dw-controller`, runs glance-api) and a compute host
 * (`dw-compute-1`, runs nova-compute), each a Docker container with sshd on 127.0.0.1, whose real
 * config files decide how the lab's control plane behaves — the fixture for host preparation over
 * SSH (DockerAggregate):
 *
 *  - the lab's Glance accepts container_format `docker` only once the controller's
 *    /etc/glance/glance-api.conf lists it (`[image_format]`, or the legacy `[DEFAULT]`) AND
 *    glance-api was restarted since; if glance-api cannot start (unreadable or malformed file),
 *    or is stopped, the lab's Glance drops every connection until it starts again;
 *  - the compute host boots docker service VMs only once nova-compute was restarted with the
 *    nova-docker driver, the OpenContrail VIF driver and `nova` in group `docker` (see
 *    services.ts for every rule and the boot fault of each failure).
 *
 * How: the hosts' init scripts (image/rootfs/usr/lib/dw-lab/lab-service) snapshot what the service
 * reads when it (re)starts and append a line to /var/lib/dw-lab/restarts.log; this module follows
 * that log (`docker exec tail -F`), decides the outcome (services.ts), calls the lab
 * (setGlanceContainerFormats / setComputeDriverEnabled / restartService, a Glance "drop" fault
 * while glance-api is down) and acknowledges, and only then does `service … restart` return.
 *
 * Hygiene as in the data plane: containers are named `dw-host-<role>-<runId>`, labelled
 * `dockwall.lab=<runId>`, recorded in `<repo>/.lab/hosts-<runId>/state.json` as they are created
 * (the data plane's `cleanupRecorded(<state.json>)` removes a crashed run's), and `stop()` removes
 * exactly those. The image (`dw-lab-host:<digest12>`, label `dockwall.lab=image`) stays.
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { PassThrough, type Duplex } from "node:stream";
import type Dockerode from "dockerode";
import type { Lab } from "../control-plane/index";
import { LAB_LABEL, recordedStateFiles, repoRoot } from "../data-plane/dataPlane";
import { StateFile } from "../data-plane/state";
import { ensureHostImage } from "./image";
import { generateEd25519KeyPair } from "./keys";
import {
  evaluateGlanceApi,
  evaluateNovaCompute,
  notRunningMessage,
  SERVICE_FILES,
  SERVICE_LOG,
  SERVICE_USER,
  type ClassResolver,
  type LabService,
  type ServiceSnapshot,
} from "./services";

export interface LabHost {
  /** nova-compute service host name for the compute host: "dw-compute-1"; controller: "dw-controller". Also the container's hostname. */
  name: string;
  /** "127.0.0.1" */
  host: string;
  /** sshd port published on 127.0.0.1 only. */
  port: number;
  /** The host's public key line, "ssh-ed25519 AAAA…" (no comment), for pinning. */
  hostKey: string;
  containerId: string;
  /** The container's address on Docker's default bridge: the other lab host reaches this one's sshd at bridgeIp:22 (e.g. as a jump-host target). */
  bridgeIp: string;
}

export interface LabHosts {
  controller: LabHost;
  compute: LabHost;
  /** Key pair made for this lab run (ed25519, OpenSSH format); authorized for root and for the sudo user. */
  privateKey: string;
  publicKey: string;
  /** A non-root user with passwordless sudo on both hosts. */
  sudoUser: string;
  /** The value of the `dockwall.lab` label on this run's containers. */
  runId: string;
  /** Read a file on a host (for tests; as root, through `docker exec`, not SSH). */
  readFile(h: LabHost, path: string): Promise<string>;
  /** Write a file on a host (tests use it to make "hand edits"): in place, keeping owner and mode of an existing file. */
  writeFile(h: LabHost, path: string, content: string): Promise<void>;
  /** How many times each service was (re)started on that host so far (each re-read its config). */
  restarts(h: LabHost, service: "nova-compute" | "glance-api"): Promise<number>;
  /** Stop sshd on a host, ending its sessions (to test an unreachable host) / start it again. */
  setReachable(h: LabHost, reachable: boolean): Promise<void>;
  /** Removes exactly what it created (containers; the image stays, labelled). Safe to call twice. */
  stop(): Promise<void>;
}

export interface LabHostsOptions {
  log?: (m: string) => void;
  /** The compute host's nova-compute service host name (must be one of the lab's computeHosts). Default "dw-compute-1". */
  computeHostName?: string;
  /** Docker client (default: the local socket). */
  docker?: Dockerode;
}

export const CONTROLLER_NAME = "dw-controller";
export const COMPUTE_NAME = "dw-compute-1";
export const SUDO_USER = "dwadmin";
const LAB_DIR = "/var/lib/dw-lab";

type Role = "controller" | "compute";

interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

async function execIn(docker: Dockerode, containerId: string, cmd: string[], stdin?: string | Buffer): Promise<ExecResult> {
  const container = docker.getContainer(containerId);
  const ex = await container.exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true, AttachStdin: stdin !== undefined });
  const stream = (await ex.start({ hijack: true, stdin: stdin !== undefined })) as Duplex;
  const out = new PassThrough();
  const err = new PassThrough();
  const o: Buffer[] = [];
  const e: Buffer[] = [];
  out.on("data", (c: Buffer) => o.push(c));
  err.on("data", (c: Buffer) => e.push(c));
  docker.modem.demuxStream(stream, out, err);
  const done = new Promise<void>((resolve, reject) => {
    stream.on("end", () => resolve());
    stream.on("close", () => resolve());
    stream.on("error", reject);
  });
  if (stdin !== undefined) stream.end(stdin);
  await done;
  let info = await ex.inspect();
  for (let i = 0; info.Running && i < 100; i++) {
    await new Promise((r) => setTimeout(r, 10));
    info = await ex.inspect();
  }
  return { code: info.ExitCode ?? -1, stdout: Buffer.concat(o).toString("utf8"), stderr: Buffer.concat(e).toString("utf8") };
}

/** Resolves true once something on 127.0.0.1:port answers with an SSH banner. */
function sshBanner(port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: "127.0.0.1", port });
    let data = "";
    const finish = (ok: boolean) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    sock.on("data", (c) => {
      data += c.toString("latin1");
      if (data.includes("SSH-2.0-")) finish(true);
    });
    sock.on("error", () => finish(false));
    sock.on("close", () => finish(false));
  });
}

/** Thrown inside a waitFor check: stop waiting at once. */
class GiveUp extends Error {}

async function waitFor<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (e) {
      if (e instanceof GiveUp) throw new Error(`lab hosts: ${what}: ${e.message}`);
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`lab hosts: ${what} not within ${timeoutMs} ms${last ? `: ${(last as Error).message}` : ""}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function oslogLine(level: "INFO" | "WARNING" | "CRITICAL", logger: string, message: string): string {
  const ts = new Date().toISOString().replace("T", " ").replace("Z", "");
  return `${ts} ${level} ${logger} [-] ${message}`;
}

interface LogEvent {
  service: LabService;
  action: "start" | "restart" | "stop";
  seq: number;
}

function parseLogLine(line: string): LogEvent | undefined {
  const m = /^\S+ (nova-compute|glance-api) (start|restart|stop) (\d+)$/.exec(line.trim());
  return m ? { service: m[1] as LabService, action: m[2] as LogEvent["action"], seq: Number(m[3]) } : undefined;
}

/**
 * State files of earlier lab-host runs left behind (crashed): `<repo>/.lab/hosts-<runId>/state.json`.
 * The data plane's `cleanupRecorded(file)` removes what one recorded (containers) and its dir.
 */
export function recordedHostRuns(root?: string): string[] {
  return recordedStateFiles("hosts-", root);
}

export async function startLabHosts(lab: Lab, opts: LabHostsOptions = {}): Promise<LabHosts> {
  const log = opts.log ?? (() => undefined);
  const docker: Dockerode = opts.docker ?? new (require("dockerode") as typeof Dockerode)();
  const computeName = opts.computeHostName ?? COMPUTE_NAME;
  try {
    await docker.ping();
  } catch (e) {
    throw new Error(`lab hosts: the Docker daemon does not answer on the local socket (${(e as Error).message}); run test/support/docker.sh`);
  }
  const image = await ensureHostImage(docker, log);
  log(`host image ${image.tag} ${image.built ? `built in ${image.ms} ms` : "present"}`);

  const runId = `${Date.now().toString(36)}-${crypto.randomBytes(3).toString("hex")}`;
  const runDir = path.join(repoRoot(), ".lab", `hosts-${runId}`);
  const record = StateFile.create(runDir, runId);
  const keys = generateEd25519KeyPair(`dockwall-lab-${runId}`);

  const t0 = Date.now();
  let stopped = false;
  let glanceFault: string | null = null;
  /** When nova-compute's os-services entry was last stamped (the lab's start is no later than now). */
  let lastComputeStamp = Date.now();
  const streams: Duplex[] = [];

  const removeAll = async () => {
    for (const s of streams) s.destroy();
    streams.length = 0;
    if (glanceFault) {
      lab.faults.remove(glanceFault);
      glanceFault = null;
    }
    for (const c of [...record.state.containers]) {
      try {
        await docker.getContainer(c.id).remove({ force: true, v: true });
      } catch (e) {
        if ((e as { statusCode?: number }).statusCode !== 404) throw e;
      }
      record.removeContainer(c.id);
    }
    fs.rmSync(runDir, { recursive: true, force: true });
  };

  const exec = (h: { containerId: string }, cmd: string[], stdin?: string | Buffer) => execIn(docker, h.containerId, cmd, stdin);
  const mustExec = async (h: LabHost, what: string, cmd: string[], stdin?: string | Buffer): Promise<string> => {
    const r = await exec(h, cmd, stdin);
    if (r.code !== 0) throw new Error(`lab hosts: ${what} on ${h.name} failed (exit ${r.code}): ${(r.stderr || r.stdout).trim()}`);
    return r.stdout;
  };

  async function startHost(role: Role): Promise<LabHost> {
    const hostname = role === "controller" ? CONTROLLER_NAME : computeName;
    const name = `dw-host-${role}-${runId}`;
    const container = await docker.createContainer({
      name,
      Image: image.tag,
      Hostname: hostname,
      Env: [`DW_LAB_ROLE=${role}`, `DW_LAB_AUTHORIZED_KEY=${keys.publicKey}`],
      Labels: { [LAB_LABEL]: runId, "dockwall.lab.host": role },
      ExposedPorts: { "22/tcp": {} },
      HostConfig: {
        PortBindings: { "22/tcp": [{ HostIp: "127.0.0.1", HostPort: "" }] },
        RestartPolicy: { Name: "no" },
      },
    });
    record.addContainer({ id: container.id, name, serverId: `host:${role}` });
    await container.start();
    const info = await container.inspect();
    const binding = info.NetworkSettings.Ports?.["22/tcp"]?.[0];
    if (!binding || binding.HostIp !== "127.0.0.1") throw new Error(`lab hosts: ${name}: sshd is not published on 127.0.0.1 (${JSON.stringify(binding)})`);
    const port = Number(binding.HostPort);
    const bridgeIp = info.NetworkSettings.IPAddress || Object.values(info.NetworkSettings.Networks ?? {})[0]?.IPAddress || "";
    const h: LabHost = { name: hostname, host: "127.0.0.1", port, hostKey: "", containerId: container.id, bridgeIp };
    await waitFor(`${name} first boot`, 20_000, async () => {
      const r = await exec(h, ["test", "-e", `${LAB_DIR}/booted`]);
      if (r.code === 0) return true;
      const state = await container.inspect();
      if (!state.State.Running) {
        const logs = (await container.logs({ stdout: true, stderr: true, tail: 30 })).toString("utf8");
        throw new GiveUp(`container exited (${state.State.ExitCode}): ${logs}`);
      }
      return undefined;
    });
    const pub = (await mustExec(h, "read the host key", ["cat", "/etc/ssh/ssh_host_ed25519_key.pub"])).trim().split(/\s+/);
    h.hostKey = `${pub[0]} ${pub[1]}`;
    await waitFor(`${name} sshd on 127.0.0.1:${port}`, 20_000, async () => ((await sshBanner(port)) ? true : undefined));
    return h;
  }

  // ---------------------------------------------------------------- wiring to the lab

  const resolverFor =
    (h: LabHost): ClassResolver =>
    async (names, namespace) => {
      const args = namespace ? [`--namespace=${namespace}`, ...names] : names;
      const out = await mustExec(h, "load classes as nova", ["runuser", "-u", "nova", "--", "python3", "/usr/lib/dw-lab/resolve.py", ...args]);
      return JSON.parse(out);
    };

  const snapshotNow = async (h: LabHost, service: LabService): Promise<ServiceSnapshot> => {
    const out = await mustExec(h, `snapshot ${service}`, ["runuser", "-u", SERVICE_USER[service], "--", "python3", "/usr/lib/dw-lab/snapshot.py", ...SERVICE_FILES[service]]);
    return JSON.parse(out) as ServiceSnapshot;
  };

  const setGlanceDown = (down: boolean) => {
    if (down && !glanceFault) glanceFault = lab.faults.add({ service: "glance", kind: "drop" });
    if (!down && glanceFault) {
      lab.faults.remove(glanceFault);
      glanceFault = null;
    }
  };

  /** Decide and apply one (re)start or stop; returns the state and a log line for the host. */
  async function apply(h: LabHost, service: LabService, action: LogEvent["action"] | "boot", snap: ServiceSnapshot | null): Promise<{ state: string; line: string }> {
    if (service === "glance-api") {
      if (action === "stop") {
        setGlanceDown(true);
        log(`glance-api on ${h.name} stopped: the lab's Glance drops connections`);
        return { state: "stopped", line: oslogLine("INFO", "glance.common.wsgi", "Caught SIGTERM, stopping") };
      }
      const o = evaluateGlanceApi(snap as ServiceSnapshot);
      if (!o.running) {
        setGlanceDown(true);
        log(`glance-api on ${h.name} failed to start: ${o.reason}`);
        return { state: "failed", line: oslogLine("CRITICAL", "glance", o.reason) };
      }
      lab.setGlanceContainerFormats(o.containerFormats);
      setGlanceDown(false);
      if (action !== "boot") lab.restartService("glance-api", h.name);
      log(`glance-api on ${h.name} ${action === "boot" ? "running" : "started"}: container_formats ${o.containerFormats.join(",")} ([${o.section}])`);
      return { state: "running", line: oslogLine("INFO", "glance.common.config", `Starting glance-api: container_formats = ${o.containerFormats.join(",")}`) };
    }
    if (action === "stop") {
      const msg = notRunningMessage(h.name, "stopped");
      lab.setComputeDriverEnabled(h.name, false, msg);
      log(`nova-compute on ${h.name} stopped`);
      return { state: "stopped", line: oslogLine("INFO", "nova.openstack.common.service", "Caught SIGTERM, exiting") };
    }
    const o = await evaluateNovaCompute(h.name, snap as ServiceSnapshot, resolverFor(h));
    if (!o.running) {
      lab.setComputeDriverEnabled(h.name, false, notRunningMessage(h.name, o.reason));
      log(`nova-compute on ${h.name} failed to start: ${o.reason}`);
      return { state: "failed", line: oslogLine("CRITICAL", "nova", o.reason) };
    }
    lab.setComputeDriverEnabled(h.name, o.docker, o.docker ? undefined : o.message);
    if (action !== "boot") {
      // Nova's os-services `updated_at` has whole seconds in the lab: a restart must land in a later
      // second than the previous stamp, or a client waiting for it to change would wait forever
      // (a real nova-compute takes seconds to start anyway).
      const wait = (Math.floor(lastComputeStamp / 1000) + 1) * 1000 - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait + 5));
      lab.restartService("nova-compute", h.name);
      lastComputeStamp = Date.now();
    }
    log(`nova-compute on ${h.name} ${action === "boot" ? "running" : "started"}: compute_driver ${o.driver}${o.vifDriver ? `, vif_driver ${o.vifDriver}` : ""}: ${o.docker ? "nova-docker host" : o.message}`);
    return {
      state: "running",
      line: oslogLine("INFO", "nova.virt.driver", `Loading compute driver '${o.driver}'${o.docker ? "" : ` (boots of docker images will fail: ${o.message})`}`),
    };
  }

  const ack = async (h: LabHost, service: LabService, seq: number, state: string, line: string) => {
    await mustExec(h, `acknowledge ${service} #${seq}`, [
      "sh",
      "-c",
      'set -e; printf "%s\\n" "$1" > "$2/state/$3"; printf "%s\\n" "$4" >> "$5"; printf "%s\\n" "$1" > "$2/applied/$6"',
      "sh",
      state,
      LAB_DIR,
      service,
      line,
      SERVICE_LOG[service],
      String(seq),
    ]);
  };

  async function handleEvent(h: LabHost, ev: LogEvent): Promise<void> {
    let state = "running";
    let line = "";
    try {
      const snap =
        ev.action === "stop"
          ? null
          : (JSON.parse(await mustExec(h, `read snapshot #${ev.seq}`, ["cat", `${LAB_DIR}/starts/${ev.seq}/snapshot.json`])) as ServiceSnapshot);
      ({ state, line } = await apply(h, ev.service, ev.action, snap));
    } catch (e) {
      log(`lab hosts: ${ev.service} ${ev.action} #${ev.seq} on ${h.name}: ${(e as Error).message}`);
      line = oslogLine("WARNING", "dw-lab", `the lab could not apply this ${ev.action}: ${(e as Error).message}`);
    }
    if (stopped) return;
    await ack(h, ev.service, ev.seq, state, line);
  }

  /** Follow restarts.log; events are applied one at a time, in order. */
  async function follow(h: LabHost): Promise<void> {
    const container = docker.getContainer(h.containerId);
    const ex = await container.exec({ Cmd: ["tail", "-n", "+1", "-F", `${LAB_DIR}/restarts.log`], AttachStdout: true, AttachStderr: true });
    const stream = (await ex.start({ hijack: true, stdin: false })) as Duplex;
    streams.push(stream);
    const out = new PassThrough();
    const err = new PassThrough();
    docker.modem.demuxStream(stream, out, err);
    let pending = "";
    let chain: Promise<void> = Promise.resolve();
    const seen = new Set<number>();
    out.on("data", (c: Buffer) => {
      pending += c.toString("utf8");
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      for (const l of lines) {
        const ev = parseLogLine(l);
        if (!ev || seen.has(ev.seq)) continue;
        seen.add(ev.seq);
        chain = chain.then(() => handleEvent(h, ev)).catch((e) => log(`lab hosts: ${h.name}: ${(e as Error).message}`));
      }
    });
    stream.on("close", () => {
      if (!stopped) log(`lab hosts: stopped following ${h.name}'s restarts.log (container gone?)`);
    });
    stream.on("error", () => undefined);
  }

  let controller: LabHost;
  let compute: LabHost;
  try {
    [controller, compute] = await Promise.all([startHost("controller"), startHost("compute")]);
    // What the services run with now (no restart yet): docker is refused, the compute host is not a nova-docker host.
    for (const [h, service] of [
      [controller, "glance-api"],
      [compute, "nova-compute"],
    ] as const) {
      const { state } = await apply(h, service, "boot", await snapshotNow(h, service));
      await mustExec(h, "record service state", ["sh", "-c", 'printf "%s\\n" "$1" > "$2"', "sh", state, `${LAB_DIR}/state/${service}`]);
    }
    await follow(controller);
    await follow(compute);
  } catch (e) {
    stopped = true;
    await removeAll().catch((err) => log(`lab hosts: cleanup after a failed start: ${(err as Error).message}`));
    throw e;
  }
  log(`lab hosts up in ${Date.now() - t0} ms: ${controller.name} 127.0.0.1:${controller.port}, ${compute.name} 127.0.0.1:${compute.port}`);

  let stopping: Promise<void> | null = null;
  return {
    controller,
    compute,
    privateKey: keys.privateKey,
    publicKey: keys.publicKey,
    sudoUser: SUDO_USER,
    runId,
    readFile: async (h, p) => mustExec(h, `read ${p}`, ["cat", "--", p]),
    writeFile: async (h, p, content) => {
      await mustExec(h, `write ${p}`, ["sh", "-c", 'cat > "$1"', "sh", p], Buffer.from(content, "utf8"));
    },
    restarts: async (h, service) => {
      const text = await mustExec(h, "read restarts.log", ["cat", `${LAB_DIR}/restarts.log`]);
      return text
        .split("\n")
        .map(parseLogLine)
        .filter((ev) => ev && ev.service === service && ev.action !== "stop").length;
    },
    setReachable: async (h, reachable) => {
      await mustExec(h, `sshd-ctl ${reachable ? "start" : "stop"}`, ["/usr/lib/dw-lab/sshd-ctl", reachable ? "start" : "stop"]);
      if (reachable) await waitFor(`sshd on ${h.name}`, 10_000, async () => ((await sshBanner(h.port)) ? true : undefined));
    },
    stop: () => {
      stopping ??= (async () => {
        stopped = true;
        await removeAll();
      })();
      return stopping;
    },
  };
}
