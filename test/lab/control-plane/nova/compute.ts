/**
 * Nova's model: compute services and hypervisors (one per lab compute host), host aggregates with
 * their availability-zone rules, flavors, and servers whose boot and delete go through the data
 * plane the way nova-compute drives its virt driver.
 */
import type { SpawnRequest } from "../../contracts";
import type { LabBus } from "../core";
import type { DataPlaneBridge } from "../dataplane-bridge";
import type { ImageStore } from "../glance/images";
import { HttpError } from "../http/errors";
import type { Networking } from "../neutron/networking";
import { isoSeconds, newUuid, pyList } from "../util/ids";

export const DEFAULT_AZ = "nova";
export const INTERNAL_AZ = "internal";
export const CONTROLLER_HOST = "dw-controller";

export interface Aggregate {
  id: number;
  uuid: string;
  name: string;
  hosts: string[];
  metadata: Record<string, string>;
  created_at: string;
  updated_at: string | null;
}

export interface ComputeHost {
  host: string;
  serviceId: number;
  serviceUuid: string;
  hypervisorId: number;
  /** Whether nova-compute runs the nova-docker driver on this host. */
  docker: boolean;
  /** The fault message of boots on a host that is not a nova-docker host. */
  notDockerMessage: string;
  updatedAt: string;
}

export interface Flavor {
  id: string;
  name: string;
  vcpus: number;
  ram: number;
  disk: number;
}

export type ServerStatus = "BUILD" | "ACTIVE" | "ERROR";

export interface Server {
  id: string;
  name: string;
  tenant_id: string;
  user_id: string;
  imageId: string;
  flavorId: string;
  status: ServerStatus;
  task_state: string | null;
  host: string | null;
  zone: string;
  /** Port ids in boot order. */
  ports: string[];
  /** Ports Nova created itself (from `networks: [{uuid}]`), deleted with the server. */
  ownedPorts: string[];
  fault: { code: number; message: string; created: string } | null;
  metadata: Record<string, string>;
  created: string;
  updated: string;
}

export interface BootRequest {
  name: string;
  tenantId: string;
  userId: string;
  imageId: string;
  flavorId: string;
  availabilityZone?: string;
  /** Each entry: an existing port, or a network to create a port on. */
  networks: Array<{ port?: string; uuid?: string; fixed_ip?: string }>;
  metadata?: Record<string, string>;
  isAdmin: boolean;
}

export const FLAVORS: Flavor[] = [
  { id: "1", name: "m1.tiny", vcpus: 1, ram: 512, disk: 1 },
  { id: "2", name: "m1.small", vcpus: 1, ram: 2048, disk: 20 },
  { id: "3", name: "m1.medium", vcpus: 2, ram: 4096, disk: 40 },
  { id: "4", name: "m1.large", vcpus: 4, ram: 8192, disk: 80 },
  { id: "5", name: "m1.xlarge", vcpus: 8, ram: 16384, disk: 160 },
];

export function novaError(status: number, message: string): HttpError {
  return new HttpError(status, message);
}

export class Compute {
  readonly aggregates = new Map<number, Aggregate>();
  readonly hosts = new Map<string, ComputeHost>();
  readonly servers = new Map<string, Server>();
  private nextAggregateId = 1;
  /** Per-server chain of lifecycle work (boot, then delete). */
  private readonly work = new Map<string, Promise<void>>();

  constructor(
    private readonly bus: LabBus,
    private readonly glance: ImageStore,
    private readonly neutron: Networking,
    private readonly dataPlane: DataPlaneBridge,
    computeHosts: string[],
  ) {
    computeHosts.forEach((host, i) => {
      this.hosts.set(host, {
        host,
        serviceId: i + 3,
        serviceUuid: newUuid(),
        hypervisorId: i + 1,
        docker: true,
        notDockerMessage: `Host ${host} does not run the nova-docker driver`,
        updatedAt: isoSeconds(),
      });
    });
  }

  flavor(ref: string): Flavor | undefined {
    return FLAVORS.find((f) => f.id === ref || f.name === ref);
  }

  // ---------------------------------------------------------------- availability zones

  /** The AZ a host is in: the AZ of an aggregate holding it, else the default zone. */
  hostZone(host: string): string {
    for (const agg of this.aggregates.values()) {
      if (agg.hosts.includes(host) && agg.metadata.availability_zone) return agg.metadata.availability_zone;
    }
    return DEFAULT_AZ;
  }

  zones(): string[] {
    return [...new Set([...this.hosts.keys()].map((h) => this.hostZone(h)))].sort();
  }

  private hasInstances(host: string): boolean {
    return [...this.servers.values()].some((s) => s.host === host);
  }

  /** AZs other than `az` that the given hosts are in through aggregates other than `except`. */
  private conflictingZones(hosts: string[], az: string, except: number): string[] {
    const out: string[] = [];
    for (const agg of this.aggregates.values()) {
      const other = agg.metadata.availability_zone;
      if (agg.id === except || !other || other === az) continue;
      if (agg.hosts.some((h) => hosts.includes(h))) out.push(other);
    }
    return out;
  }

  // ---------------------------------------------------------------- aggregates

  aggregate(id: number): Aggregate {
    const agg = this.aggregates.get(id);
    if (!agg) throw novaError(404, `Aggregate ${id} could not be found.`);
    return agg;
  }

  createAggregate(name: string, zone: string | null): Aggregate {
    this.checkNameFree(name, 0);
    const agg: Aggregate = {
      id: this.nextAggregateId++,
      uuid: newUuid(),
      name,
      hosts: [],
      metadata: zone ? { availability_zone: zone } : {},
      created_at: isoSeconds().replace(/Z$/, ".000000"),
      updated_at: null,
    };
    this.aggregates.set(agg.id, agg);
    this.bus.change("nova", "aggregate", "create", String(agg.id));
    return agg;
  }

  updateAggregate(id: number, name: string | undefined, zone: string | null | undefined): Aggregate {
    const agg = this.aggregate(id);
    if (name !== undefined && name !== agg.name) this.checkNameFree(name, id);
    if (zone !== undefined && zone !== null) {
      this.checkZoneChange(agg, zone, agg.hosts, (reason) => novaError(400, `Cannot update aggregate ${id}. Reason: ${reason}.`));
    }
    if (name !== undefined) agg.name = name;
    if (zone !== undefined) {
      if (zone === null) delete agg.metadata.availability_zone;
      else agg.metadata.availability_zone = zone;
    }
    this.touch(agg);
    return agg;
  }

  deleteAggregate(id: number): void {
    const agg = this.aggregate(id);
    if (agg.hosts.length > 0) throw novaError(400, `Cannot remove aggregate ${id}. Reason: Host aggregate is not empty.`);
    this.aggregates.delete(id);
    this.bus.change("nova", "aggregate", "delete", String(id));
  }

  addHost(id: number, host: string): Aggregate {
    const agg = this.aggregate(id);
    if (!this.hosts.has(host)) throw novaError(404, `Compute host ${host} could not be found.`);
    if (agg.hosts.includes(host)) throw novaError(409, `Aggregate ${id} already has host ${host}.`);
    const zone = agg.metadata.availability_zone;
    const fail = (reason: string) => novaError(409, `Cannot add host to aggregate ${id}. Reason: ${reason}.`);
    if (zone) {
      const conflicts = this.conflictingZones([host], zone, id);
      if (conflicts.length > 0) throw fail(`One or more hosts already in availability zone(s) ${pyList(conflicts)}`);
      if (this.hostZone(host) !== zone && this.hasInstances(host)) {
        throw fail(`Host ${host} has instances and cannot move to availability zone ${zone}`);
      }
    }
    agg.hosts.push(host);
    this.touch(agg);
    return agg;
  }

  removeHost(id: number, host: string): Aggregate {
    const agg = this.aggregate(id);
    if (!agg.hosts.includes(host)) throw novaError(404, `Cannot remove host ${host} in aggregate ${id}`);
    const before = this.hostZone(host);
    agg.hosts = agg.hosts.filter((h) => h !== host);
    if (this.hostZone(host) !== before && this.hasInstances(host)) {
      agg.hosts.push(host);
      throw novaError(409, `Cannot remove host from aggregate ${id}. Reason: Host ${host} has instances and cannot leave availability zone ${before}.`);
    }
    this.touch(agg);
    return agg;
  }

  /** `set_metadata`: merges; a null value removes the key. */
  setMetadata(id: number, metadata: Record<string, string | null>): Aggregate {
    const agg = this.aggregate(id);
    const fail = (reason: string) => novaError(400, `Cannot update metadata of aggregate ${id}. Reason: ${reason}.`);
    if ("availability_zone" in metadata) {
      const zone = metadata.availability_zone;
      if (!zone) throw fail(`Aggregate ${agg.name} does not support empty named availability zone`);
      this.checkZoneChange(agg, zone, agg.hosts, fail);
    }
    for (const [k, v] of Object.entries(metadata)) {
      if (v === null) delete agg.metadata[k];
      else agg.metadata[k] = v;
    }
    this.touch(agg);
    return agg;
  }

  private checkZoneChange(agg: Aggregate, zone: string, hosts: string[], fail: (reason: string) => HttpError): void {
    const conflicts = this.conflictingZones(hosts, zone, agg.id);
    if (conflicts.length > 0) throw fail(`One or more hosts already in availability zone(s) ${pyList(conflicts)}`);
    const current = agg.metadata.availability_zone ?? DEFAULT_AZ;
    if (zone !== current && hosts.some((h) => this.hasInstances(h))) {
      throw fail(`The current availability zone ${current} has instances, cannot change to ${zone}`);
    }
  }

  private checkNameFree(name: string, self: number): void {
    for (const agg of this.aggregates.values()) {
      if (agg.id !== self && agg.name === name) throw novaError(409, `Aggregate ${name} already exists.`);
    }
  }

  private touch(agg: Aggregate): void {
    agg.updated_at = isoSeconds().replace(/Z$/, ".000000");
    this.bus.change("nova", "aggregate", "update", String(agg.id));
  }

  // ---------------------------------------------------------------- hosts

  setComputeDriverEnabled(host: string, enabled: boolean, message?: string): void {
    const h = this.hosts.get(host);
    if (!h) throw new Error(`unknown compute host ${host}`);
    h.docker = enabled;
    if (message !== undefined) h.notDockerMessage = message;
    this.bus.change("nova", "hypervisor", "update", host);
  }

  restartComputeService(host: string): void {
    const h = this.hosts.get(host);
    if (!h) throw new Error(`unknown compute host ${host}`);
    h.updatedAt = isoSeconds();
    this.bus.log("nova", `nova-compute on ${host} restarted`);
    this.bus.change("nova", "service", "update", host);
  }

  // ---------------------------------------------------------------- servers

  server(id: string): Server {
    const server = this.servers.get(id);
    if (!server) throw novaError(404, `Instance ${id} could not be found.`);
    return server;
  }

  /** POST /servers: validates, schedules, binds ports, and starts the boot in the background. */
  async createServer(req: BootRequest): Promise<Server> {
    const image = this.glance.images.get(req.imageId);
    if (!image || (!req.isAdmin && image.visibility !== "public" && image.owner !== req.tenantId)) {
      throw novaError(400, `Image ${req.imageId} could not be found.`);
    }
    if (image.status !== "active") throw novaError(400, `Image ${req.imageId} is not active.`);
    if (!this.flavor(req.flavorId)) throw novaError(400, `Flavor ${req.flavorId} could not be found.`);

    const { zone, forcedHost } = this.parseZone(req.availabilityZone, req.isAdmin);
    for (const nic of req.networks) {
      if (nic.port !== undefined) {
        const port = this.neutron.ports.get(nic.port);
        if (!port) throw novaError(400, `Port id ${nic.port} could not be found.`);
        if (port.device_id !== "") throw novaError(409, `Port ${nic.port} is still in use.`);
      } else if (nic.uuid !== undefined) {
        if (!this.neutron.networks.has(nic.uuid)) throw novaError(400, `Network ${nic.uuid} could not be found.`);
        // The one address check Nova's API makes itself (FixedIpAlreadyInUse); the rest is the build's.
        const holder = nic.fixed_ip ? this.neutron.portsOf(nic.uuid).find((p) => p.fixed_ips.some((ip) => ip.ip_address === nic.fixed_ip)) : undefined;
        if (holder) throw novaError(400, `Fixed IP address ${nic.fixed_ip} is already in use on instance ${holder.device_id}.`);
      } else {
        throw novaError(400, "Bad networks format: network uuid is not in proper format");
      }
    }

    const now = isoSeconds();
    const server: Server = {
      id: newUuid(),
      name: req.name,
      tenant_id: req.tenantId,
      user_id: req.userId,
      imageId: image.id,
      flavorId: (this.flavor(req.flavorId) as Flavor).id,
      status: "BUILD",
      task_state: "scheduling",
      host: null,
      zone: zone ?? DEFAULT_AZ,
      ports: [],
      ownedPorts: [],
      fault: null,
      metadata: req.metadata ?? {},
      created: now,
      updated: now,
    };
    this.servers.set(server.id, server);
    server.host = this.schedule(zone, forcedHost);
    if (server.host) server.zone = zone ?? this.hostZone(server.host);
    try {
      for (const nic of req.networks) {
        let portId = nic.port;
        if (portId === undefined) {
          const port = await this.neutron.createPort({
            network_id: nic.uuid as string,
            tenant_id: req.tenantId,
            fixed_ips: nic.fixed_ip ? [{ ip_address: nic.fixed_ip }] : undefined,
          });
          portId = port.id;
          server.ownedPorts.push(portId);
        }
        server.ports.push(portId);
        this.neutron.bindPort(portId, server.id, server.host ?? "", server.zone);
      }
    } catch (err) {
      // As on a compute node: the boot is accepted, the network allocation fails, and the server
      // goes to ERROR without any port.
      await this.releasePorts(server);
      server.ports = [];
      server.ownedPorts = [];
      this.bus.change("nova", "server", "create", server.id);
      this.bus.log("nova", `server ${server.id}: network allocation failed: ${err instanceof Error ? err.message : String(err)}`);
      this.fail(server, `Build of instance ${server.id} aborted: Failed to allocate the network(s), not rescheduling.`);
      return server;
    }
    this.bus.change("nova", "server", "create", server.id);
    this.enqueue(server.id, () => this.boot(server));
    return server;
  }

  /** DELETE /servers/{id}: resolves once the server is gone (data plane destroyed, ports released). */
  deleteServer(id: string): Promise<void> {
    const server = this.server(id);
    server.task_state = "deleting";
    this.stamp(server);
    return this.enqueue(id, async () => {
      await this.dataPlane.destroy(id);
      await this.releasePorts(server);
      this.servers.delete(id);
      this.bus.change("nova", "server", "delete", id);
    });
  }

  /** Deletes the ports Nova created for the server and unbinds the ones it was given. */
  private async releasePorts(server: Server): Promise<void> {
    for (const portId of server.ownedPorts) {
      if (this.neutron.ports.has(portId)) await this.neutron.deletePort(portId);
    }
    for (const portId of server.ports) {
      if (!server.ownedPorts.includes(portId) && this.neutron.ports.get(portId)?.device_id === server.id) this.neutron.unbindPort(portId);
    }
  }

  get busy(): boolean {
    return this.work.size > 0;
  }

  /** Resolves when no server has boot or delete work pending. */
  async idle(): Promise<void> {
    while (this.work.size > 0) await Promise.allSettled([...this.work.values()]);
  }

  /** Chains lifecycle work per server; the returned promise never rejects (failures are logged). */
  private enqueue(id: string, task: () => Promise<void>): Promise<void> {
    const previous = this.work.get(id) ?? Promise.resolve();
    const next = previous.then(task).catch((err: unknown) => {
      this.bus.log("nova", `server ${id}: ${err instanceof Error ? err.message : String(err)}`);
    });
    this.work.set(id, next);
    const cleanup = () => {
      if (this.work.get(id) === next) this.work.delete(id);
    };
    next.then(cleanup, cleanup);
    return next;
  }

  private parseZone(requested: string | undefined, isAdmin: boolean): { zone: string | null; forcedHost: string | null } {
    if (requested === undefined || requested === "") return { zone: null, forcedHost: null };
    const [zone, host] = requested.split(":");
    if (host && !isAdmin) throw novaError(403, "Policy doesn't allow os_compute_api:servers:create:forced_host to be performed.");
    const known = this.zones();
    if (zone !== "" && !known.includes(zone)) throw novaError(400, "The requested availability zone is not available");
    return { zone: zone === "" ? null : zone, forcedHost: host || null };
  }

  /** The chosen host, or null (the boot then fails with NoValidHost). */
  private schedule(zone: string | null, forcedHost: string | null): string | null {
    if (forcedHost) return this.hosts.has(forcedHost) ? forcedHost : null;
    const candidates = [...this.hosts.keys()].filter((h) => zone === null || this.hostZone(h) === zone).sort();
    const load = (h: string) => [...this.servers.values()].filter((s) => s.host === h).length;
    candidates.sort((a, b) => load(a) - load(b));
    return candidates[0] ?? null;
  }

  private async boot(server: Server): Promise<void> {
    if (!this.servers.has(server.id)) return;
    if (!server.host) return this.fail(server, "No valid host was found. There are not enough hosts available.");
    const host = this.hosts.get(server.host) as ComputeHost;
    const image = this.glance.images.get(server.imageId);
    if (!image || image.status !== "active") return this.fail(server, `Image ${server.imageId} could not be found.`);
    if (!host.docker) return this.fail(server, host.notDockerMessage);
    if (image.container_format !== "docker") return this.fail(server, "Image container format not supported");
    server.task_state = "spawning";
    this.stamp(server);
    const ports = server.ports.map((id) => this.neutron.port(id));
    const request: SpawnRequest = {
      serverId: server.id,
      serverName: server.name,
      host: server.host,
      imageName: image.name ?? image.id,
      imageId: image.id,
      imageProperties: { ...image.properties },
      openImageData: () => this.glance.openData(image.id),
      ports: ports.map((p) => this.neutron.labPort(p)),
      networks: ports.map((p) => this.neutron.labNetwork(p.network_id)),
    };
    try {
      await this.dataPlane.spawn(request);
    } catch (err) {
      return this.fail(server, err instanceof Error ? err.message : String(err));
    }
    if (!this.servers.has(server.id)) return;
    server.status = "ACTIVE";
    server.task_state = server.task_state === "deleting" ? "deleting" : null;
    this.stamp(server);
  }

  private fail(server: Server, message: string): void {
    server.status = "ERROR";
    if (server.task_state !== "deleting") server.task_state = null;
    server.fault = { code: 500, message, created: isoSeconds() };
    this.bus.log("nova", `server ${server.name} (${server.id}) failed to boot: ${message}`);
    this.stamp(server);
  }

  private stamp(server: Server): void {
    server.updated = isoSeconds();
    this.bus.change("nova", "server", "update", server.id);
  }
}
