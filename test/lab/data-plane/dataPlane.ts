/**
 * The lab's data plane on the real kernel: what the OpenContrail vRouter and nova-docker (with the
 * OpenContrail VIF driver) do on a compute node, with Linux namespaces, bridges, dnsmasq and Docker.
 *
 *  - Virtual network  = a namespace `dw-n-<id8>` holding a bridge `dw-br` with the subnet's gateway
 *    address, and a dnsmasq (inside that namespace; pid, lease, hosts and log files under the run
 *    dir) that gives each Neutron port its fixed IP by MAC (`dhcp-host`, static `dhcp-range`), the
 *    gateway as router (option 3), and no classless routes (no option 121). Forwarding is on and
 *    ICMP redirects are off in the namespace; without a chain nothing routes between namespaces.
 *  - spawn = nova-docker: `docker load` of the Glance image data when `repo:tag` is missing, a
 *    container with NetworkMode "none", only NET_ADMIN added (NET_RAW is in Docker's default set),
 *    no sysctls, not privileged, the Glance `os_command_line` as command; then, per port in order:
 *    veth pair `veth<port[:8]>` / `ns<port[:8]>` created in the host namespace, the port MAC on the
 *    container end, container end moved into the container (by its pid), host end moved into the
 *    network's namespace onto its bridge (the vRouter "tap"), up.
 *  - chainsChanged = schema transformer + vRouter: for a chain between left VN L and right VN R with
 *    hop (leftIp, rightIp), L's namespace routes every prefix "beyond R" (R's subnet and remote
 *    networks behind R) via leftIp, and R's namespace routes every prefix beyond L via rightIp.
 *    Without a chain those routes are absent and the networks are isolated.
 *
 * Everything created is recorded in `<runDir>/state.json` (see state.ts) and `cleanup()` removes
 * exactly that.
 */
import * as fs from "fs";
import * as path from "path";
import * as crypto from "crypto";
import type Dockerode from "dockerode";
import type { ChainSpec, DataPlane, LabNetwork, LabPort, SpawnRequest } from "../contracts";
import { ip, ipAllowFail, inNetns, linkExists, netnsList, run, shellSplit, sleep, spawnWaitFor, waitFor } from "./sys";
import { StateFile, LabState } from "./state";
import { inCidr, ipHex, parseCidr4 } from "./ipv4";

export const LAB_LABEL = "dockwall.lab";
export const SERVER_LABEL = "dockwall.server";
const BRIDGE = "dw-br";

export interface LabDataPlaneOptions {
  /** Identifies this lab run (container label value, run dir name). Default: random. */
  runId?: string;
  /** Where state, dnsmasq files and logs go. Default `<repo>/.lab/dp-<runId>`. */
  runDir?: string;
  /** Docker client (default: a Dockerode on the local socket). */
  docker?: Dockerode;
  /** dnsmasq lease time (default "12h"; dnsmasq's minimum is 2m). */
  leaseTime?: string;
  /**
   * Extra environment for service containers. nova-docker passes none; tests use it for image
   * options (e.g. DOCKWALL_SSH=1).
   */
  containerEnv?: string[];
  /** Progress messages (default: none). */
  log?: (msg: string) => void;
}

interface NetRecord {
  net: LabNetwork;
  ns: string;
  /** Address the bridge holds (gateway, or a service address when the subnet has no gateway). */
  bridgeAddr: string | null;
  ports: Map<string, LabPort>;
  dnsmasqPid: number | null;
  /** The dnsmasq configuration the running dnsmasq was started with. */
  dnsmasqKey: string | null;
  files: { hosts: string; leases: string; pid: string; log: string };
  /** Chain routes currently installed in this namespace: prefix -> next hops. */
  routes: Map<string, string[]>;
}

interface ServerRecord {
  serverId: string;
  name: string;
  containerId: string;
  ports: LabPort[];
  networks: LabNetwork[];
}

export interface RemoteHost {
  ns: string;
  networkId: string;
  cidr: string;
  ip: string;
  /** The gateway namespace's address on the link to it. */
  gatewaySideIp: string;
}

export interface TestHost {
  ns: string;
  port: LabPort;
  network: LabNetwork;
  ip: string;
}

export type CaptureTarget = string | { serverId: string } | { netns: string } | { pid: number };

function id8(id: string): string {
  const s = id.replace(/[^0-9a-zA-Z]/g, "").slice(0, 8).toLowerCase();
  if (s.length < 8) throw new Error(`id too short for an 8-character name: ${id}`);
  return s;
}

/** Repository root: the nearest folder above this module with the dockwall package.json. */
export function repoRoot(): string {
  let dir = __dirname;
  for (;;) {
    const pj = path.join(dir, "package.json");
    if (fs.existsSync(pj)) {
      try {
        if (JSON.parse(fs.readFileSync(pj, "utf8")).name === "dockwall") return dir;
      } catch {
        /* keep looking */
      }
    }
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`dockwall repository root not found above ${__dirname}`);
    dir = up;
  }
}

export function netnsName(networkId: string): string {
  return `dw-n-${id8(networkId)}`;
}

export function containerName(serverId: string): string {
  return `dw-${id8(serverId)}`;
}

export function vethNames(portId: string): { host: string; container: string } {
  const s = id8(portId);
  return { host: `veth${s}`, container: `ns${s}` };
}

function hostnameFor(serverName: string): string {
  const h = serverName
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 63);
  return h || "dockwall";
}

async function readStream(s: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of s as AsyncIterable<Buffer | string>) chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(c));
  return Buffer.concat(chunks).toString("utf8");
}

export class LabDataPlane implements DataPlane {
  readonly runId: string;
  readonly runDir: string;
  readonly docker: Dockerode;
  private readonly record: StateFile;
  private readonly nets = new Map<string, NetRecord>();
  private readonly servers = new Map<string, ServerRecord>();
  private readonly remotes: RemoteHost[] = [];
  private readonly testHosts = new Map<string, TestHost>();
  private chains: ChainSpec[] = [];
  private readonly log: (msg: string) => void;
  /** One operation at a time: the control plane may call concurrently; kernel state is shared. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly opts: LabDataPlaneOptions = {}) {
    this.runId = opts.runId ?? `${Date.now().toString(36)}-${crypto.randomBytes(3).toString("hex")}`;
    if (!/^[A-Za-z0-9_.-]+$/.test(this.runId)) throw new Error(`invalid run id: ${this.runId}`);
    this.runDir = opts.runDir ?? path.join(repoRoot(), ".lab", `dp-${this.runId}`);
    this.record = StateFile.create(this.runDir, this.runId);
    if (opts.docker) {
      this.docker = opts.docker;
    } else {
      const Docker = require("dockerode") as typeof Dockerode;
      this.docker = new Docker();
    }
    this.log = opts.log ?? (() => undefined);
  }

  /** Path of the state file (what cleanup removes). */
  get stateFile(): string {
    return this.record.file;
  }

  /** A copy of what is recorded right now. */
  recorded(): LabState {
    return JSON.parse(JSON.stringify(this.record.state)) as LabState;
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  // ------------------------------------------------------------------------------------------
  // Networks

  networkChanged(net: LabNetwork): Promise<void> {
    return this.serial(async () => {
      await this.ensureNetwork(net);
    });
  }

  networkDeleted(networkId: string): Promise<void> {
    return this.serial(async () => {
      const rec = this.nets.get(networkId);
      if (!rec) return;
      await this.stopDnsmasq(rec);
      // Remote and test hosts hang off this network: they go with it.
      for (const r of this.remotes.filter((x) => x.networkId === networkId)) await this.deleteNamespace(r.ns);
      this.remotes.splice(0, this.remotes.length, ...this.remotes.filter((x) => x.networkId !== networkId));
      for (const [k, h] of this.testHosts) {
        if (h.network.id === networkId) {
          await this.deleteNamespace(h.ns);
          this.testHosts.delete(k);
        }
      }
      await this.deleteNamespace(rec.ns);
      for (const v of this.record.state.veths.filter((v) => v.netns === rec.ns)) this.record.removeVeth(v.name);
      this.nets.delete(networkId);
      await this.applyChains();
    });
  }

  portCreated(port: LabPort, net: LabNetwork): Promise<void> {
    return this.serial(async () => {
      const rec = await this.ensureNetwork(net);
      rec.ports.set(port.id, port);
      await this.syncDhcpHosts(rec);
    });
  }

  portDeleted(port: LabPort): Promise<void> {
    return this.serial(async () => {
      const rec = this.nets.get(port.networkId);
      if (!rec || !rec.ports.delete(port.id)) return;
      await this.syncDhcpHosts(rec);
      await this.forgetLease(rec, port);
    });
  }

  /**
   * A deleted port's lease must go too: a new port that gets the same fixed IP (Neutron hands the
   * freed address out again) would otherwise be refused by dnsmasq ("address in use by another
   * lease"), where the vRouter agent answers from the port table alone. dnsmasq keeps leases in
   * memory, so: stop it, drop the lease from its file, start it again.
   */
  private async forgetLease(rec: NetRecord, port: LabPort): Promise<void> {
    if (!fs.existsSync(rec.files.leases)) return;
    const mac = (port.macAddress ?? "").toLowerCase();
    const lines = fs.readFileSync(rec.files.leases, "utf8").split("\n").filter((l) => l.trim());
    const keep = lines.filter((l) => {
      const f = l.split(" ");
      return !((mac && f[1]?.toLowerCase() === mac) || (port.ipAddress && f[2] === port.ipAddress));
    });
    if (keep.length === lines.length) return;
    await this.stopDnsmasq(rec);
    fs.writeFileSync(rec.files.leases, keep.map((l) => `${l}\n`).join(""));
    await this.syncDnsmasq(rec);
  }

  private async ensureNetwork(net: LabNetwork): Promise<NetRecord> {
    let rec = this.nets.get(net.id);
    const ns = netnsName(net.id);
    if (!rec) {
      for (const other of this.nets.values()) {
        if (other.ns === ns) throw new Error(`networks ${other.net.id} and ${net.id} share the namespace name ${ns}`);
      }
      const base = path.join(this.runDir, ns);
      rec = {
        net,
        ns,
        bridgeAddr: null,
        ports: new Map(),
        dnsmasqPid: null,
        dnsmasqKey: null,
        files: { hosts: `${base}.hosts`, leases: `${base}.leases`, pid: `${base}.pid`, log: `${base}.dnsmasq.log` },
        routes: new Map(),
      };
      this.nets.set(net.id, rec);
      await this.createNamespace(ns);
      await ip(ns, "link", "add", BRIDGE, "type", "bridge");
      await ip(ns, "link", "set", BRIDGE, "up");
      // The vRouter forwards between networks when policies say so; no redirects back to VMs.
      await inNetns(ns, [
        "sysctl", "-q", "-w",
        "net.ipv4.ip_forward=1",
        "net.ipv4.conf.all.send_redirects=0",
        "net.ipv4.conf.default.send_redirects=0",
        "net.ipv4.conf.all.rp_filter=0",
        "net.ipv4.conf.default.rp_filter=0",
      ]);
      this.log(`network ${net.name} (${net.id}): namespace ${ns}`);
    }
    rec.net = net;

    // Bridge address: the gateway (or, without one, the subnet's last address as DHCP service address).
    let want: string | null = null;
    if (net.cidr) {
      const c = parseCidr4(net.cidr);
      const addr = net.gatewayIp ?? c.last;
      if (!inCidr(addr, c.text)) throw new Error(`network ${net.id}: gateway ${addr} is outside ${c.text}`);
      want = `${addr}/${c.prefix}`;
    }
    if (want !== rec.bridgeAddr) {
      await ip(rec.ns, "-4", "addr", "flush", "dev", BRIDGE);
      if (want) await ip(rec.ns, "addr", "add", want, "dev", BRIDGE);
      rec.bridgeAddr = want;
    }
    await this.syncDnsmasq(rec);
    await this.applyChains();
    return rec;
  }

  private async createNamespace(ns: string): Promise<void> {
    if ((await netnsList()).includes(ns)) {
      throw new Error(`namespace ${ns} already exists and is not this lab run's: remove it (check .lab/*/state.json of older runs) and retry`);
    }
    this.record.addNamespace(ns);
    await run(["ip", "netns", "add", ns]);
    await ip(ns, "link", "set", "lo", "up");
  }

  private async deleteNamespace(ns: string): Promise<void> {
    if ((await netnsList()).includes(ns)) await run(["ip", "netns", "del", ns], { allowFail: true });
    this.record.removeNamespace(ns);
  }

  // ------------------------------------------------------------------------------------------
  // DHCP (dnsmasq per network)

  private dhcpHostsText(rec: NetRecord): string {
    const lines: string[] = [];
    for (const p of [...rec.ports.values()].sort((a, b) => a.id.localeCompare(b.id))) {
      if (!p.macAddress || !p.ipAddress) continue;
      if (rec.net.cidr && !inCidr(p.ipAddress, rec.net.cidr)) continue;
      lines.push(`${p.macAddress.toLowerCase()},${p.ipAddress}`);
    }
    return lines.join("\n") + (lines.length ? "\n" : "");
  }

  private async syncDhcpHosts(rec: NetRecord): Promise<void> {
    fs.writeFileSync(rec.files.hosts, this.dhcpHostsText(rec));
    if (rec.dnsmasqPid) {
      try {
        process.kill(rec.dnsmasqPid, "SIGHUP"); // re-reads --dhcp-hostsfile
      } catch {
        rec.dnsmasqPid = null;
        rec.dnsmasqKey = null;
        await this.syncDnsmasq(rec);
      }
    }
  }

  private async syncDnsmasq(rec: NetRecord): Promise<void> {
    const { net } = rec;
    const wanted = net.enableDhcp && net.cidr && rec.bridgeAddr;
    const key = wanted ? JSON.stringify([net.cidr, net.gatewayIp, rec.bridgeAddr, this.opts.leaseTime]) : null;
    if (key === rec.dnsmasqKey && (!key || (rec.dnsmasqPid && this.alive(rec.dnsmasqPid)))) return;
    await this.stopDnsmasq(rec);
    if (!key) return;
    const c = parseCidr4(net.cidr!);
    fs.writeFileSync(rec.files.hosts, this.dhcpHostsText(rec));
    try {
      fs.unlinkSync(rec.files.pid);
    } catch {
      /* absent */
    }
    const args = [
      "dnsmasq",
      "--conf-file=/dev/null",
      "--no-hosts",
      "--no-resolv",
      "--port=0", // no DNS service; DHCP only
      `--interface=${BRIDGE}`,
      "--bind-interfaces",
      "--user=root",
      "--group=root",
      "--dhcp-authoritative",
      `--dhcp-range=${c.network},static,${c.netmask},${this.opts.leaseTime ?? "12h"}`,
      `--dhcp-hostsfile=${rec.files.hosts}`,
      `--dhcp-leasefile=${rec.files.leases}`,
      `--pid-file=${rec.files.pid}`,
      `--log-facility=${rec.files.log}`,
      "--log-dhcp",
    ];
    if (net.gatewayIp) {
      args.push(`--dhcp-option=option:router,${net.gatewayIp}`);
      // Like the vRouter agent: the service address as DNS server (nothing answers; it exercises
      // the image's resolv.conf handling).
      args.push(`--dhcp-option=option:dns-server,${net.gatewayIp}`);
    } else {
      args.push("--dhcp-option=option:router"); // send no router
    }
    await inNetns(rec.ns, args);
    const pid = await waitFor(
      `dnsmasq pid file ${rec.files.pid}`,
      async () => {
        const t = fs.existsSync(rec.files.pid) ? fs.readFileSync(rec.files.pid, "utf8").trim() : "";
        return /^\d+$/.test(t) ? Number(t) : null;
      },
      5_000,
      50,
    );
    rec.dnsmasqPid = pid;
    rec.dnsmasqKey = key;
    this.record.addProcess({ pid, what: `dnsmasq in ${rec.ns}`, match: rec.files.pid });
    this.log(`network ${net.name}: dnsmasq pid ${pid} serving ${c.text}`);
  }

  private alive(pid: number): boolean {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  }

  private async stopDnsmasq(rec: NetRecord): Promise<void> {
    if (rec.dnsmasqPid) {
      const recorded = this.record.state.processes.find((p) => p.pid === rec.dnsmasqPid);
      if (recorded) await killRecorded(recorded);
      this.record.removeProcess(rec.dnsmasqPid);
    }
    rec.dnsmasqPid = null;
    rec.dnsmasqKey = null;
  }

  // ------------------------------------------------------------------------------------------
  // Servers (nova-docker)

  spawn(req: SpawnRequest): Promise<void> {
    return this.serial(() => this.doSpawn(req));
  }

  private async doSpawn(req: SpawnRequest): Promise<void> {
    if (req.ports.length !== req.networks.length) {
      throw new Error(`spawn ${req.serverId}: ${req.ports.length} ports but ${req.networks.length} networks`);
    }
    if (this.servers.has(req.serverId)) throw new Error(`server ${req.serverId} is already running here`);
    await this.ensureImage(req);

    const name = containerName(req.serverId);
    const cmdLine = req.imageProperties?.os_command_line;
    const cmd = cmdLine ? shellSplit(cmdLine) : undefined;
    let container: Dockerode.Container;
    try {
      container = await this.docker.createContainer({
        name,
        Image: req.imageName,
        Hostname: hostnameFor(req.serverName),
        Cmd: cmd,
        Env: this.opts.containerEnv,
        Labels: { [LAB_LABEL]: this.runId, [SERVER_LABEL]: req.serverId },
        HostConfig: {
          NetworkMode: "none",
          CapAdd: ["NET_ADMIN"],
          Privileged: false,
        },
      });
    } catch (e) {
      throw new Error(`docker create ${name} from ${req.imageName} failed: ${(e as Error).message}`);
    }
    this.record.addContainer({ id: container.id, name, serverId: req.serverId });
    const rec: ServerRecord = { serverId: req.serverId, name, containerId: container.id, ports: req.ports, networks: req.networks };
    this.servers.set(req.serverId, rec);
    try {
      await container.start();
      for (let i = 0; i < req.ports.length; i++) await this.ensureNetworkKnown(req.networks[i], req.ports[i]);
      await this.plugAll(rec);
    } catch (e) {
      const logs = await this.containerLogs(rec.containerId).catch(() => "");
      await this.removeServer(rec).catch(() => undefined);
      throw new Error(`spawn ${req.serverId} (${name}) failed: ${(e as Error).message}${logs ? `\n--- container log ---\n${logs}` : ""}`);
    }
    this.log(`server ${req.serverName} (${req.serverId}): container ${name} running, ${req.ports.length} port(s) plugged`);
  }

  private async ensureNetworkKnown(net: LabNetwork, port: LabPort): Promise<void> {
    const rec = this.nets.get(net.id) ?? (await this.ensureNetwork(net));
    if (!rec.ports.has(port.id)) {
      rec.ports.set(port.id, port);
      await this.syncDhcpHosts(rec);
    }
  }

  private async ensureImage(req: SpawnRequest): Promise<void> {
    try {
      await this.docker.getImage(req.imageName).inspect();
      return;
    } catch (e) {
      if ((e as { statusCode?: number }).statusCode !== 404) throw e;
    }
    this.log(`image ${req.imageName} missing: docker load from Glance image ${req.imageId}`);
    const res = await this.docker.loadImage(req.openImageData());
    const out = await readStream(res);
    for (const line of out.split("\n")) {
      if (!line.trim()) continue;
      try {
        const m = JSON.parse(line) as { error?: string; errorDetail?: { message?: string } };
        if (m.error || m.errorDetail) {
          throw new Error(`docker load of Glance image ${req.imageId} failed: ${m.errorDetail?.message ?? m.error}`);
        }
      } catch (e) {
        if (e instanceof SyntaxError) continue;
        throw e;
      }
    }
    try {
      await this.docker.getImage(req.imageName).inspect();
    } catch {
      throw new Error(`Glance image ${req.imageId}: its data does not hold ${req.imageName} (docker load said: ${out.trim().slice(0, 300)})`);
    }
    this.record.addImage(req.imageName);
  }

  private async containerPid(containerId: string): Promise<number> {
    const info = await this.docker.getContainer(containerId).inspect();
    if (!info.State.Running || !info.State.Pid) {
      throw new Error(`container ${info.Name} is not running (status ${info.State.Status}, exit code ${info.State.ExitCode})`);
    }
    return info.State.Pid;
  }

  /** Plug every port in order (the VIF driver's plug + attach). */
  private async plugAll(rec: ServerRecord): Promise<void> {
    const pid = await this.containerPid(rec.containerId);
    for (let i = 0; i < rec.ports.length; i++) {
      await this.plug(pid, rec.ports[i], rec.networks[i]);
    }
    // Still running with everything plugged?
    await this.containerPid(rec.containerId);
  }

  private async plug(pid: number, port: LabPort, net: LabNetwork): Promise<void> {
    const nr = this.nets.get(net.id);
    if (!nr) throw new Error(`port ${port.id}: network ${net.id} unknown to the data plane`);
    const { host, container } = vethNames(port.id);
    // Leftovers of an earlier plug of this port (a restarted container's namespace is torn down
    // asynchronously, its veth pairs with it).
    for (const ns of [null, nr.ns]) {
      if (await linkExists(ns, host)) await ipAllowFail(ns, "link", "del", host);
    }
    if (await linkExists(null, container)) await ipAllowFail(null, "link", "del", container);
    this.record.addVeth({ name: host, netns: nr.ns });
    // Created in the host namespace, like the VIF driver: ifindexes grow in plug order there, and a
    // moved device keeps its index, which is how the image tells the attach order.
    await ip(null, "link", "add", host, "type", "veth", "peer", "name", container);
    try {
      await ip(null, "link", "set", container, "address", port.macAddress);
      await ip(null, "link", "set", container, "netns", String(pid));
      await ip(null, "link", "set", host, "netns", nr.ns);
      await ip(nr.ns, "link", "set", host, "master", BRIDGE);
      await ip(nr.ns, "link", "set", host, "up");
    } catch (e) {
      await ipAllowFail(null, "link", "del", host);
      await ipAllowFail(nr.ns, "link", "del", host);
      throw e;
    }
  }

  destroy(serverId: string): Promise<void> {
    return this.serial(async () => {
      const rec = this.servers.get(serverId);
      if (rec) {
        await this.removeServer(rec);
        return;
      }
      // Not started by this object: a recorded container of this run, if any; else nothing to do.
      const recorded = this.record.state.containers.find((c) => c.serverId === serverId);
      if (recorded) {
        await this.removeContainer(recorded.id);
        this.record.removeContainer(recorded.id);
      }
    });
  }

  private async removeServer(rec: ServerRecord): Promise<void> {
    await this.removeContainer(rec.containerId);
    this.record.removeContainer(rec.containerId);
    for (let i = 0; i < rec.ports.length; i++) {
      const { host } = vethNames(rec.ports[i].id);
      const nr = this.nets.get(rec.networks[i]?.id ?? rec.ports[i].networkId);
      for (const ns of [null, nr?.ns ?? null]) {
        if (await linkExists(ns, host)) await ipAllowFail(ns, "link", "del", host);
      }
      this.record.removeVeth(host);
    }
    this.servers.delete(rec.serverId);
  }

  private async removeContainer(id: string): Promise<void> {
    try {
      await this.docker.getContainer(id).remove({ force: true, v: true });
    } catch (e) {
      if ((e as { statusCode?: number }).statusCode !== 404) throw e;
    }
  }

  /**
   * Reboot a server the way nova-docker's reboot should have (reference §5 #8): restart the
   * container with the same capabilities, then plug its ports again in order (a restart gives the
   * container a new network namespace; the old veth pairs die with the old one).
   */
  reboot(serverId: string, stopTimeoutSeconds = 5): Promise<void> {
    return this.serial(async () => {
      const rec = this.servers.get(serverId);
      if (!rec) throw new Error(`reboot: unknown server ${serverId}`);
      await this.docker.getContainer(rec.containerId).restart({ t: stopTimeoutSeconds });
      await this.plugAll(rec);
      this.log(`server ${serverId}: restarted and re-plugged`);
    });
  }

  /** The container (id, name, pid) of a server started here. */
  async server(serverId: string): Promise<{ containerId: string; name: string; pid: number }> {
    const rec = this.servers.get(serverId);
    if (!rec) throw new Error(`unknown server ${serverId}`);
    return { containerId: rec.containerId, name: rec.name, pid: await this.containerPid(rec.containerId) };
  }

  /** Run a command inside a server's container (docker exec); stdout, stderr and exit code. */
  async exec(serverId: string, cmd: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
    const rec = this.servers.get(serverId);
    if (!rec) throw new Error(`unknown server ${serverId}`);
    const { PassThrough } = require("stream") as typeof import("stream");
    const container = this.docker.getContainer(rec.containerId);
    const ex = await container.exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true });
    const stream = await ex.start({ hijack: true, stdin: false });
    const out = new PassThrough();
    const err = new PassThrough();
    const o: Buffer[] = [];
    const e: Buffer[] = [];
    out.on("data", (c: Buffer) => o.push(c));
    err.on("data", (c: Buffer) => e.push(c));
    this.docker.modem.demuxStream(stream, out, err);
    await new Promise<void>((resolve, reject) => {
      stream.on("end", () => resolve());
      stream.on("close", () => resolve());
      stream.on("error", reject);
    });
    const info = await ex.inspect();
    return { stdout: Buffer.concat(o).toString("utf8"), stderr: Buffer.concat(e).toString("utf8"), code: info.ExitCode ?? -1 };
  }

  /** The container's log (stdout+stderr), e.g. dockwall-init's messages. */
  async logs(serverId: string): Promise<string> {
    const rec = this.servers.get(serverId);
    if (!rec) throw new Error(`unknown server ${serverId}`);
    return this.containerLogs(rec.containerId);
  }

  private async containerLogs(containerId: string): Promise<string> {
    const buf = (await this.docker.getContainer(containerId).logs({ stdout: true, stderr: true, follow: false })) as unknown as Buffer;
    // Demultiplex the 8-byte frame headers.
    const parts: string[] = [];
    let i = 0;
    while (i + 8 <= buf.length) {
      const len = buf.readUInt32BE(i + 4);
      parts.push(buf.subarray(i + 8, i + 8 + len).toString("utf8"));
      i += 8 + len;
    }
    return parts.join("");
  }

  // ------------------------------------------------------------------------------------------
  // Service chains (schema transformer + vRouter)

  chainsChanged(chains: ChainSpec[]): Promise<void> {
    return this.serial(async () => {
      this.chains = chains.map((c) => ({ ...c, hops: c.hops.map((h) => ({ ...h })) }));
      await this.applyChains();
    });
  }

  /** Prefixes "beyond" a network: its subnet and the remote networks behind its gateway. */
  private prefixesOf(networkId: string): string[] {
    const out: string[] = [];
    const rec = this.nets.get(networkId);
    if (rec?.net.cidr) out.push(parseCidr4(rec.net.cidr).text);
    for (const r of this.remotes) if (r.networkId === networkId) out.push(parseCidr4(r.cidr).text);
    return out;
  }

  private async applyChains(): Promise<void> {
    const desired = new Map<string, Map<string, string[]>>(); // networkId -> prefix -> next hops
    const add = (netId: string, prefix: string, hops: string[]): void => {
      const rec = this.nets.get(netId);
      if (!rec) return;
      if (rec.net.cidr && parseCidr4(rec.net.cidr).text === prefix) return; // never over its own subnet
      if (!desired.has(netId)) desired.set(netId, new Map());
      desired.get(netId)!.set(prefix, hops);
    };
    for (const c of this.chains) {
      if (c.hops.length === 0) continue;
      const sis = [...new Set(c.hops.map((h) => JSON.stringify(h.serviceInstanceFqName)))];
      if (sis.length > 1) {
        throw new Error(
          `chain ${c.policyUuid}#${c.ruleIndex}: ${sis.length} service instances in one chain are not modelled by the lab (one instance, possibly scaled out, is)`,
        );
      }
      if (!this.nets.has(c.leftNetworkId) || !this.nets.has(c.rightNetworkId)) {
        this.log(`chain ${c.policyUuid}#${c.ruleIndex}: left or right network not plugged yet; no routes`);
        continue;
      }
      // Scaled-out instances: ECMP over their addresses, like the vRouter.
      const lefts = [...new Set(c.hops.map((h) => h.leftIp))].sort();
      const rights = [...new Set(c.hops.map((h) => h.rightIp))].sort();
      for (const p of this.prefixesOf(c.rightNetworkId)) add(c.leftNetworkId, p, lefts);
      for (const p of this.prefixesOf(c.leftNetworkId)) add(c.rightNetworkId, p, rights);
    }
    for (const [netId, rec] of this.nets) {
      const want = desired.get(netId) ?? new Map<string, string[]>();
      for (const [prefix] of rec.routes) {
        if (!want.has(prefix)) {
          await ipAllowFail(rec.ns, "route", "del", prefix);
          rec.routes.delete(prefix);
        }
      }
      for (const [prefix, hops] of want) {
        const cur = rec.routes.get(prefix);
        if (cur && cur.join(",") === hops.join(",")) continue;
        const via =
          hops.length === 1
            ? ["via", hops[0], "dev", BRIDGE]
            : hops.flatMap((h) => ["nexthop", "via", h, "dev", BRIDGE]);
        await ip(rec.ns, "route", "replace", prefix, ...via);
        rec.routes.set(prefix, hops);
      }
    }
  }

  /** The chain routes installed in a network's namespace (`ip route` lines with "via"). */
  async chainRoutes(networkId: string): Promise<string[]> {
    const rec = this.nets.get(networkId);
    if (!rec) return [];
    const r = await ip(rec.ns, "-4", "route", "show");
    return r.stdout.split("\n").filter((l) => l.includes(" via ") || l.startsWith("\tnexthop"));
  }

  // ------------------------------------------------------------------------------------------
  // Test hosts

  /**
   * A test "VM" on a network: namespace `dw-h-<port[:8]>` with `eth0` (the port's MAC) on the
   * network's bridge through `veth<port[:8]>`, the port's fixed IP (static, or by DHCP from the
   * network's dnsmasq when `dhcp` and the host has dhclient), default route via the gateway.
   */
  addTestHost(net: LabNetwork, port: LabPort): Promise<TestHost> {
    return this.serial(async () => {
      const rec = await this.ensureNetwork(net);
      if (!rec.ports.has(port.id)) {
        rec.ports.set(port.id, port);
        await this.syncDhcpHosts(rec);
      }
      if (!net.cidr) throw new Error(`addTestHost: network ${net.id} has no subnet`);
      const ns = `dw-h-${id8(port.id)}`;
      const { host } = vethNames(port.id);
      await this.createNamespace(ns);
      this.record.addVeth({ name: host, netns: rec.ns });
      await ip(rec.ns, "link", "add", host, "type", "veth", "peer", "name", "eth0", "netns", ns);
      await ip(ns, "link", "set", "eth0", "address", port.macAddress);
      await ip(rec.ns, "link", "set", host, "master", BRIDGE);
      await ip(rec.ns, "link", "set", host, "up");
      await ip(ns, "link", "set", "eth0", "up");
      const c = parseCidr4(net.cidr);
      await ip(ns, "addr", "add", `${port.ipAddress}/${c.prefix}`, "dev", "eth0");
      if (net.gatewayIp) await ip(ns, "route", "add", "default", "via", net.gatewayIp);
      const th: TestHost = { ns, port, network: net, ip: port.ipAddress };
      this.testHosts.set(port.id, th);
      return th;
    });
  }

  /**
   * A host on a network that is not a Neutron network, behind a network's gateway (like 8.8.8.8
   * beyond the right gateway, or 10.0.5.11 behind the left one, in the seed). Its own namespace
   * `dw-r-<network id8>-<ip hex>`, a point-to-point /prefix link to the gateway namespace (the gateway side takes
   * the cidr's first address, or its last when `ip` is the first), default route to the gateway.
   * Chains then steer `cidr` like the network's own subnet.
   */
  addRemoteHost(networkId: string, cidr: string, hostIp: string): Promise<RemoteHost> {
    return this.serial(async () => {
      const rec = this.nets.get(networkId);
      if (!rec) throw new Error(`addRemoteHost: unknown network ${networkId}`);
      const c = parseCidr4(cidr);
      if (!inCidr(hostIp, c.text)) throw new Error(`addRemoteHost: ${hostIp} is not in ${c.text}`);
      for (const r of this.remotes) {
        if (r.cidr === c.text) throw new Error(`addRemoteHost: ${c.text} is already behind network ${r.networkId}`);
      }
      const gwSide = hostIp === c.first ? c.last : c.first;
      // The network's id in the name: two lab runs (tests beside a demo) may use the same outside address.
      const ns = `dw-r-${id8(networkId)}-${ipHex(hostIp)}`;
      const gwIf = `dwr${ipHex(hostIp)}`;
      await this.createNamespace(ns);
      this.record.addVeth({ name: gwIf, netns: rec.ns });
      await ip(rec.ns, "link", "add", gwIf, "type", "veth", "peer", "name", "eth0", "netns", ns);
      await ip(rec.ns, "addr", "add", `${gwSide}/${c.prefix}`, "dev", gwIf);
      await ip(rec.ns, "link", "set", gwIf, "up");
      await ip(ns, "addr", "add", `${hostIp}/${c.prefix}`, "dev", "eth0");
      await ip(ns, "link", "set", "eth0", "up");
      await ip(ns, "route", "add", "default", "via", gwSide);
      const r: RemoteHost = { ns, networkId, cidr: c.text, ip: hostIp, gatewaySideIp: gwSide };
      this.remotes.push(r);
      await this.applyChains();
      return r;
    });
  }

  /** Run a command in a lab namespace (test hosts, remote hosts, gateways). */
  inNamespace(ns: string, argv: string[], allowFail = true): Promise<{ stdout: string; stderr: string; code: number }> {
    if (!this.record.state.namespaces.includes(ns)) throw new Error(`namespace ${ns} is not this lab run's`);
    return inNetns(ns, argv, { allowFail });
  }

  /** `ping` from a lab namespace; true when at least `minReplies` replies came back. */
  async ping(fromNs: string, to: string, count = 3, minReplies = count): Promise<boolean> {
    const r = await this.inNamespace(fromNs, ["ping", "-n", "-c", String(count), "-i", "0.2", "-W", "1", to]);
    const m = /(\d+) received/.exec(r.stdout);
    return !!m && Number(m[1]) >= minReplies;
  }

  /**
   * A TCP listener in a lab namespace (node one-liner) that answers each connection with one line
   * and closes. Recorded; `stop()` ends it (and cleanup does if the test did not).
   */
  async tcpListener(ns: string, addr: string, port: number): Promise<{ stop: () => Promise<void> }> {
    if (!this.record.state.namespaces.includes(ns)) throw new Error(`namespace ${ns} is not this lab run's`);
    const marker = `dockwall-lab-listener-${this.runId}-${port}`;
    const script =
      `/*${marker}*/const net=require("net");` +
      `net.createServer(s=>{s.end("dockwall-lab ${port}\\n")}).listen(${port},${JSON.stringify(addr)},()=>console.log("listening"));`;
    const { child } = await spawnWaitFor(["ip", "netns", "exec", ns, process.execPath, "-e", script], /listening/);
    const pid = child.pid!;
    this.record.addProcess({ pid, what: `tcp listener ${addr}:${port} in ${ns}`, match: marker });
    return {
      stop: async () => {
        child.kill("SIGTERM");
        await new Promise((r) => (child.exitCode !== null ? r(null) : child.once("exit", r)));
        this.record.removeProcess(pid);
      },
    };
  }

  /** Open a TCP connection from a lab namespace; ok = connected and got the listener's line. */
  async tcpConnect(ns: string, addr: string, port: number, timeoutMs = 2000): Promise<{ ok: boolean; detail: string }> {
    const script =
      `const s=require("net").connect(${port},${JSON.stringify(addr)});let d="";` +
      `s.setTimeout(${timeoutMs},()=>{console.log("TIMEOUT");process.exit(2)});` +
      `s.on("data",c=>d+=c);s.on("end",()=>{console.log("DATA "+d.trim());process.exit(0)});` +
      `s.on("error",e=>{console.log("ERROR "+e.code);process.exit(1)});`;
    const r = await this.inNamespace(ns, [process.execPath, "-e", script]);
    const detail = r.stdout.trim() || r.stderr.trim();
    return { ok: r.code === 0 && detail.startsWith("DATA dockwall-lab"), detail };
  }

  // ------------------------------------------------------------------------------------------
  // Capture

  /**
   * Run tcpdump (the host's binary) in a target's network namespace on `iface` with a pcap
   * `filter` while `fn` runs; returns tcpdump's text lines. The target is a server id or container
   * name/id (its netns via nsenter -t <pid> -n), a lab namespace name, or {pid}/{netns}/{serverId}.
   */
  async capture(target: CaptureTarget, iface: string, filter: string, fn: () => Promise<unknown>): Promise<string[]> {
    let prefix: string[];
    if (typeof target === "object" && "pid" in target) {
      prefix = ["nsenter", "-t", String(target.pid), "-n", "--"];
    } else if (typeof target === "object" && "netns" in target) {
      prefix = ["ip", "netns", "exec", target.netns];
    } else {
      const key = typeof target === "string" ? target : target.serverId;
      if (typeof target === "string" && this.record.state.namespaces.includes(target)) {
        prefix = ["ip", "netns", "exec", target];
      } else {
        const srv = this.servers.get(key) ?? [...this.servers.values()].find((s) => s.name === key || s.containerId.startsWith(key));
        if (!srv) throw new Error(`capture: unknown target ${JSON.stringify(target)}`);
        prefix = ["nsenter", "-t", String(await this.containerPid(srv.containerId)), "-n", "--"];
      }
    }
    const argv = [...prefix, "tcpdump", "-l", "-n", "-S", "-i", iface, ...(filter ? filter.split(/\s+/) : [])];
    const { child, stdout } = await spawnWaitFor(argv, /listening on/, 10_000);
    let fnError: unknown;
    try {
      await fn();
    } catch (e) {
      fnError = e;
    }
    await sleep(300);
    child.kill("SIGINT");
    await new Promise((r) => (child.exitCode !== null ? r(null) : child.once("exit", r)));
    if (fnError) throw fnError;
    return stdout.join("\n").split("\n").filter((l) => l.trim());
  }

  // ------------------------------------------------------------------------------------------
  // Cleanup

  /**
   * Remove everything this run recorded: processes, containers, veths, namespaces, loaded images
   * (unless keepImages), then the run dir (unless keepRunDir). Never touches anything unrecorded.
   * Returns what it removed.
   */
  cleanup(opts: { keepImages?: boolean; keepRunDir?: boolean } = {}): Promise<string[]> {
    return this.serial(async () => {
      const removed = await cleanupState(this.record, this.docker, opts);
      this.nets.clear();
      this.servers.clear();
      this.remotes.length = 0;
      this.testHosts.clear();
      this.chains = [];
      return removed;
    });
  }
}

async function killRecorded(p: { pid: number; match: string }): Promise<boolean> {
  let cmdline = "";
  try {
    cmdline = fs.readFileSync(`/proc/${p.pid}/cmdline`, "utf8").replace(/\0/g, " ");
  } catch {
    return false; // gone
  }
  if (!cmdline.includes(p.match)) return false; // pid reused by something else: not ours
  try {
    process.kill(p.pid, "SIGTERM");
  } catch {
    return false;
  }
  for (let i = 0; i < 50; i++) {
    try {
      process.kill(p.pid, 0);
    } catch {
      return true;
    }
    await sleep(20);
  }
  try {
    process.kill(p.pid, "SIGKILL");
  } catch {
    /* gone */
  }
  return true;
}

async function cleanupState(sf: StateFile, docker: Dockerode, opts: { keepImages?: boolean; keepRunDir?: boolean }): Promise<string[]> {
  const removed: string[] = [];
  const st = sf.state;
  for (const p of [...st.processes]) {
    if (await killRecorded(p)) removed.push(`process ${p.pid} (${p.what})`);
    sf.removeProcess(p.pid);
  }
  for (const c of [...st.containers]) {
    try {
      await docker.getContainer(c.id).remove({ force: true, v: true });
      removed.push(`container ${c.name}`);
    } catch (e) {
      if ((e as { statusCode?: number }).statusCode !== 404) throw e;
    }
    sf.removeContainer(c.id);
  }
  const namespaces = await netnsList();
  for (const v of [...st.veths]) {
    for (const ns of [null, v.netns]) {
      if (ns && !namespaces.includes(ns)) continue;
      if (await linkExists(ns, v.name)) {
        await ipAllowFail(ns, "link", "del", v.name);
        removed.push(`veth ${v.name}${ns ? ` in ${ns}` : ""}`);
      }
    }
    sf.removeVeth(v.name);
  }
  for (const ns of [...st.namespaces]) {
    if (namespaces.includes(ns)) {
      await run(["ip", "netns", "del", ns], { allowFail: true });
      removed.push(`namespace ${ns}`);
    }
    sf.removeNamespace(ns);
  }
  if (!opts.keepImages) {
    for (const img of [...st.images]) {
      try {
        // noprune: keep untagged parents (the build cache) — only the loaded tag goes.
        await docker.getImage(img).remove({ noprune: true });
        removed.push(`image ${img}`);
      } catch (e) {
        const code = (e as { statusCode?: number }).statusCode;
        if (code !== 404 && code !== 409) throw e;
      }
    }
    if (st.images.length) {
      st.images = [];
      sf.save();
    }
  }
  if (!opts.keepRunDir) {
    fs.rmSync(st.runDir, { recursive: true, force: true });
  }
  return removed;
}

/**
 * Clean up a run from its state file (e.g. one a crashed test left behind). Returns what it removed.
 */
export async function cleanupRecorded(stateFile: string, docker?: Dockerode): Promise<string[]> {
  const sf = StateFile.load(stateFile);
  const d = docker ?? new (require("dockerode") as typeof Dockerode)();
  return cleanupState(sf, d, {});
}

/** State files `<root>/<prefix>…/state.json` of earlier runs (left behind by crashed runs). */
export function recordedStateFiles(prefix: string, root: string = path.join(repoRoot(), ".lab")): string[] {
  if (!fs.existsSync(root)) return [];
  return fs
    .readdirSync(root)
    .filter((d) => d.startsWith(prefix))
    .map((d) => path.join(root, d, "state.json"))
    .filter((f) => fs.existsSync(f));
}

/** State files of earlier data-plane runs under `<repo>/.lab/`. */
export function recordedRuns(root?: string): string[] {
  return recordedStateFiles("dp-", root);
}

