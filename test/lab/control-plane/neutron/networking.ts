/**
 * Neutron's model: networks, subnets (IPv4 IPAM) and ports. Every change is mirrored into the
 * Contrail database (as the Contrail Neutron plugin would) and announced to the data plane.
 */
import type { LabNetwork, LabPort } from "../../contracts";
import type { ContrailMirror, MirroredPort, MirroredSubnet } from "../contrail/mirror";
import type { LabBus } from "../core";
import type { DataPlaneBridge } from "../dataplane-bridge";
import { isoSeconds, newUuid } from "../util/ids";
import {
  contains,
  defaultPools,
  formatCidr,
  formatIp,
  overlaps,
  parseCidr,
  parseIp,
  rangesOverlap,
  type Cidr,
  type IpRange,
} from "../util/ipv4";
import { invalidInput, invalidOperation, neutronError } from "./attributes";

interface Stamped {
  tags: string[];
  created_at: string;
  updated_at: string;
  revision_number: number;
}

export interface Network extends Stamped {
  id: string;
  name: string;
  description: string;
  tenant_id: string;
  admin_state_up: boolean;
  shared: boolean;
  mtu: number;
  port_security_enabled: boolean;
  dns_domain: string;
  qos_policy_id: string | null;
  availability_zone_hints: string[];
  router_external: boolean;
  /** Provider and other extension attributes, echoed as given. */
  extras: Record<string, unknown>;
  fqName: string[];
}

export interface Subnet extends Stamped {
  id: string;
  name: string;
  description: string;
  network_id: string;
  tenant_id: string;
  cidr: string;
  gateway_ip: string | null;
  allocation_pools: Array<{ start: string; end: string }>;
  dns_nameservers: string[];
  host_routes: Array<{ destination: string; nexthop: string }>;
  enable_dhcp: boolean;
  service_types: string[];
}

export interface Port extends Stamped {
  id: string;
  name: string;
  description: string;
  network_id: string;
  tenant_id: string;
  mac_address: string;
  admin_state_up: boolean;
  status: "ACTIVE" | "DOWN";
  device_id: string;
  device_owner: string;
  fixed_ips: Array<{ subnet_id: string; ip_address: string }>;
  binding_host_id: string;
  extras: Record<string, unknown>;
}

export interface NetworkInput {
  tenant_id: string;
  name?: string;
  description?: string;
  admin_state_up?: boolean;
  shared?: boolean;
  mtu?: number;
  port_security_enabled?: boolean;
  dns_domain?: string;
  qos_policy_id?: string | null;
  availability_zone_hints?: string[];
  router_external?: boolean;
  tags?: string[];
  extras?: Record<string, unknown>;
  contrailPolicys?: unknown;
}

export interface SubnetInput {
  tenant_id: string;
  network_id: string;
  cidr?: string;
  name?: string;
  description?: string;
  gateway_ip?: string | null;
  allocation_pools?: Array<Record<string, unknown>>;
  dns_nameservers?: string[];
  host_routes?: Array<{ destination: string; nexthop: string }>;
  enable_dhcp?: boolean;
  service_types?: string[];
  tags?: string[];
}

export interface PortInput {
  tenant_id: string;
  network_id: string;
  name?: string;
  description?: string;
  admin_state_up?: boolean;
  mac_address?: string;
  fixed_ips?: Array<Record<string, unknown>>;
  device_id?: string;
  device_owner?: string;
  binding_host_id?: string;
  tags?: string[];
  extras?: Record<string, unknown>;
}

/** Extra knobs svc-monitor uses when it creates a service VM's interfaces. */
export interface PortOptions {
  vmiName?: string;
  serviceInterfaceType?: string;
}

const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;

export class Networking {
  readonly networks = new Map<string, Network>();
  readonly subnets = new Map<string, Subnet>();
  readonly ports = new Map<string, Port>();
  private macCounter = 0;

  constructor(
    private readonly bus: LabBus,
    private readonly mirror: ContrailMirror,
    private readonly dataPlane: DataPlaneBridge,
  ) {}

  // ---------------------------------------------------------------- lookups

  network(id: string): Network {
    const net = this.networks.get(id);
    if (!net) throw neutronError(404, "NetworkNotFound", `Network ${id} could not be found.`);
    return net;
  }

  subnet(id: string): Subnet {
    const subnet = this.subnets.get(id);
    if (!subnet) throw neutronError(404, "SubnetNotFound", `Subnet ${id} could not be found.`);
    return subnet;
  }

  port(id: string): Port {
    const port = this.ports.get(id);
    if (!port) throw neutronError(404, "PortNotFound", `Port ${id} could not be found.`);
    return port;
  }

  subnetsOf(networkId: string): Subnet[] {
    return [...this.subnets.values()].filter((s) => s.network_id === networkId);
  }

  portsOf(networkId: string): Port[] {
    return [...this.ports.values()].filter((p) => p.network_id === networkId);
  }

  /** The network as the data plane sees it. */
  labNetwork(id: string): LabNetwork {
    const net = this.network(id);
    const subnet = this.subnetsOf(id)[0];
    return {
      id: net.id,
      name: net.name,
      fqName: [...net.fqName],
      cidr: subnet?.cidr ?? null,
      gatewayIp: subnet?.gateway_ip ?? null,
      enableDhcp: subnet?.enable_dhcp ?? false,
    };
  }

  labPort(port: Port): LabPort {
    return {
      id: port.id,
      networkId: port.network_id,
      macAddress: port.mac_address,
      ipAddress: port.fixed_ips[0]?.ip_address ?? "",
      deviceId: port.device_id,
      deviceOwner: port.device_owner,
    };
  }

  // ---------------------------------------------------------------- networks

  async createNetwork(input: NetworkInput): Promise<Network> {
    // An unknown policy refuses the create before anything exists.
    if (input.contrailPolicys !== undefined) this.mirror.policyLinks(input.contrailPolicys);
    const now = isoSeconds();
    const id = newUuid();
    const net: Network = {
      id,
      name: input.name ?? "",
      description: input.description ?? "",
      tenant_id: input.tenant_id,
      admin_state_up: input.admin_state_up ?? true,
      shared: input.shared ?? false,
      mtu: input.mtu ?? 1500,
      port_security_enabled: input.port_security_enabled ?? true,
      dns_domain: input.dns_domain ?? "",
      qos_policy_id: input.qos_policy_id ?? null,
      availability_zone_hints: input.availability_zone_hints ?? [],
      router_external: input.router_external ?? false,
      extras: input.extras ?? {},
      fqName: [],
      tags: input.tags ?? [],
      created_at: now,
      updated_at: now,
      revision_number: 1,
    };
    net.fqName = this.mirror.createVirtualNetwork({ id, name: net.name, tenantId: net.tenant_id, shared: net.shared, external: net.router_external });
    this.networks.set(id, net);
    if (input.contrailPolicys !== undefined) this.mirror.setPolicies(id, input.contrailPolicys);
    this.bus.change("neutron", "network", "create", id);
    await this.dataPlane.networkChanged(this.labNetwork(id));
    return net;
  }

  async updateNetwork(id: string, changes: Partial<NetworkInput>): Promise<Network> {
    const net = this.network(id);
    const { contrailPolicys, extras, ...plain } = changes;
    if (contrailPolicys !== undefined) this.mirror.setPolicies(id, contrailPolicys);
    Object.assign(net, plain);
    if (extras) Object.assign(net.extras, extras);
    this.stamp(net);
    this.syncContrail(net);
    this.bus.change("neutron", "network", "update", id);
    await this.dataPlane.networkChanged(this.labNetwork(id));
    return net;
  }

  async deleteNetwork(id: string): Promise<void> {
    this.network(id);
    if (this.portsOf(id).length > 0) {
      throw neutronError(
        409,
        "NetworkInUse",
        `Unable to complete operation on network ${id}. There are one or more ports still in use on the network.`,
      );
    }
    this.mirror.deleteVirtualNetwork(id);
    await this.forgetNetwork(id);
  }

  /** Drops the Neutron side of a network whose virtual-network is gone. */
  async forgetNetwork(id: string): Promise<void> {
    if (!this.networks.has(id)) return;
    for (const subnet of this.subnetsOf(id)) {
      this.subnets.delete(subnet.id);
      this.bus.change("neutron", "subnet", "delete", subnet.id);
    }
    this.networks.delete(id);
    this.bus.change("neutron", "network", "delete", id);
    await this.dataPlane.networkDeleted(id);
  }

  // ---------------------------------------------------------------- subnets

  async createSubnet(input: SubnetInput): Promise<Subnet> {
    const net = this.network(input.network_id);
    if (input.cidr === undefined) {
      throw neutronError(400, "BadRequest", "Bad subnets request: a subnetpool must be specified in the absence of a cidr.");
    }
    const cidr = parseCidr(input.cidr);
    if ("error" in cidr) throw invalidInput("cidr", cidr.error);
    for (const other of this.subnetsOf(net.id)) {
      if (overlaps(cidr, parseCidr(other.cidr) as Cidr)) {
        throw invalidOperation(`Requested subnet with cidr: ${formatCidr(cidr)} for network: ${net.id} overlaps with another subnet`);
      }
    }
    const gateway = this.gatewayFor(cidr, input.gateway_ip);
    const pools = this.poolsFor(cidr, gateway, input.allocation_pools);
    const now = isoSeconds();
    const subnet: Subnet = {
      id: newUuid(),
      name: input.name ?? "",
      description: input.description ?? "",
      network_id: net.id,
      tenant_id: input.tenant_id,
      cidr: formatCidr(cidr),
      gateway_ip: gateway === null ? null : formatIp(gateway),
      allocation_pools: pools.map((p) => ({ start: formatIp(p.start), end: formatIp(p.end) })),
      dns_nameservers: input.dns_nameservers ?? [],
      host_routes: input.host_routes ?? [],
      enable_dhcp: input.enable_dhcp ?? true,
      service_types: input.service_types ?? [],
      tags: input.tags ?? [],
      created_at: now,
      updated_at: now,
      revision_number: 0,
    };
    this.subnets.set(subnet.id, subnet);
    this.stamp(net);
    this.syncContrail(net);
    this.bus.change("neutron", "subnet", "create", subnet.id);
    await this.dataPlane.networkChanged(this.labNetwork(net.id));
    return subnet;
  }

  async updateSubnet(id: string, changes: Partial<SubnetInput>): Promise<Subnet> {
    const subnet = this.subnet(id);
    const cidr = parseCidr(subnet.cidr) as Cidr;
    let gateway = subnet.gateway_ip === null ? null : parseIp(subnet.gateway_ip);
    if (changes.gateway_ip !== undefined) gateway = this.gatewayFor(cidr, changes.gateway_ip);
    if (changes.allocation_pools !== undefined) {
      const pools = this.poolsFor(cidr, gateway, changes.allocation_pools);
      subnet.allocation_pools = pools.map((p) => ({ start: formatIp(p.start), end: formatIp(p.end) }));
    } else if (gateway !== null) {
      for (const pool of subnet.allocation_pools) this.checkGatewayOutside(gateway, { start: parseIp(pool.start) as number, end: parseIp(pool.end) as number });
    }
    subnet.gateway_ip = gateway === null ? null : formatIp(gateway);
    for (const key of ["name", "description", "dns_nameservers", "host_routes", "enable_dhcp", "service_types"] as const) {
      if (changes[key] !== undefined) (subnet as unknown as Record<string, unknown>)[key] = changes[key];
    }
    this.stamp(subnet);
    this.syncContrail(this.network(subnet.network_id));
    this.bus.change("neutron", "subnet", "update", id);
    await this.dataPlane.networkChanged(this.labNetwork(subnet.network_id));
    return subnet;
  }

  async deleteSubnet(id: string): Promise<void> {
    const subnet = this.subnet(id);
    const inUse = this.portsOf(subnet.network_id).some((p) => p.fixed_ips.some((ip) => ip.subnet_id === id));
    if (inUse) {
      throw neutronError(409, "SubnetInUse", `Unable to complete operation on subnet ${id}: One or more ports have an IP allocation from this subnet.`);
    }
    this.subnets.delete(id);
    const net = this.network(subnet.network_id);
    this.stamp(net);
    this.syncContrail(net);
    this.bus.change("neutron", "subnet", "delete", id);
    await this.dataPlane.networkChanged(this.labNetwork(net.id));
  }

  // ---------------------------------------------------------------- ports

  async createPort(input: PortInput, options: PortOptions = {}): Promise<Port> {
    const net = this.network(input.network_id);
    const mac = (input.mac_address ?? this.nextMac()).toLowerCase();
    if (!MAC_RE.test(mac)) throw invalidInput("mac_address", `'${input.mac_address}' is not a valid MAC address`);
    if (this.portsOf(net.id).some((p) => p.mac_address === mac)) {
      throw neutronError(409, "MacAddressInUse", `Unable to complete operation for network ${net.id}. The mac address ${mac} is in use.`);
    }
    const fixedIps = this.allocate(net.id, input.fixed_ips);
    const now = isoSeconds();
    const port: Port = {
      id: newUuid(),
      name: input.name ?? "",
      description: input.description ?? "",
      network_id: net.id,
      tenant_id: input.tenant_id,
      mac_address: mac,
      admin_state_up: input.admin_state_up ?? true,
      status: "DOWN",
      device_id: input.device_id ?? "",
      device_owner: input.device_owner ?? "",
      fixed_ips: fixedIps,
      binding_host_id: input.binding_host_id ?? "",
      extras: input.extras ?? {},
      tags: input.tags ?? [],
      created_at: now,
      updated_at: now,
      revision_number: 1,
    };
    port.status = port.device_id !== "" && port.binding_host_id !== "" ? "ACTIVE" : "DOWN";
    this.ports.set(port.id, port);
    try {
      this.mirror.createInterface(mirrored(port), options.vmiName, options.serviceInterfaceType);
    } catch (err) {
      // Contrail refused the interface (unknown project, a device it cannot name a VM after): no port.
      this.ports.delete(port.id);
      this.mirror.deleteInterface(port.id);
      throw err;
    }
    this.bus.change("neutron", "port", "create", port.id);
    await this.dataPlane.portCreated(this.labPort(port), this.labNetwork(net.id));
    return port;
  }

  updatePort(id: string, changes: Partial<PortInput>): Port {
    const port = this.port(id);
    const { extras, ...plain } = changes;
    // Contrail first: if it refuses the change, the port stays as it was.
    this.mirror.updateInterface(mirrored({ ...port, ...plain } as Port));
    Object.assign(port, plain);
    if (extras) Object.assign(port.extras, extras);
    port.status = port.device_id !== "" && port.binding_host_id !== "" ? "ACTIVE" : "DOWN";
    this.stamp(port);
    this.bus.change("neutron", "port", "update", id);
    return port;
  }

  /** Nova's port binding: the port now belongs to the server on `host`. */
  bindPort(id: string, serverId: string, host: string, zone: string): Port {
    const port = this.port(id);
    if (port.device_id !== "" && port.device_id !== serverId) {
      throw neutronError(409, "PortInUse", `Unable to complete operation on port ${id} for network ${port.network_id}. Port already has an attached device ${port.device_id}.`);
    }
    return this.updatePort(id, { device_id: serverId, device_owner: `compute:${zone}`, binding_host_id: host });
  }

  unbindPort(id: string): void {
    if (this.ports.has(id)) this.updatePort(id, { device_id: "", device_owner: "", binding_host_id: "" });
  }

  async deletePort(id: string): Promise<void> {
    const port = this.port(id);
    this.ports.delete(id);
    this.mirror.deleteInterface(id);
    this.bus.change("neutron", "port", "delete", id);
    await this.dataPlane.portDeleted(this.labPort(port));
  }

  /** Records a tag change made through the `/tags` routes. */
  tagsChanged(kind: "network" | "subnet" | "port", resource: Stamped & { id: string }): void {
    this.stamp(resource);
    this.bus.change("neutron", kind, "update", resource.id);
  }

  // ---------------------------------------------------------------- helpers

  private stamp(resource: Stamped): void {
    resource.updated_at = isoSeconds();
    resource.revision_number++;
  }

  private syncContrail(net: Network): void {
    const subnets: MirroredSubnet[] = this.subnetsOf(net.id).map((s) => ({
      id: s.id,
      cidr: s.cidr,
      gatewayIp: s.gateway_ip,
      enableDhcp: s.enable_dhcp,
      allocationPools: s.allocation_pools,
      dnsNameservers: s.dns_nameservers,
    }));
    this.mirror.syncVirtualNetwork({ id: net.id, name: net.name, shared: net.shared, external: net.router_external }, subnets);
  }

  private nextMac(): string {
    for (;;) {
      this.macCounter = (this.macCounter + 1) % 0x1000000;
      const n = this.macCounter;
      const mac = `fa:16:3e:${[n >>> 16, (n >>> 8) & 255, n & 255].map((b) => b.toString(16).padStart(2, "0")).join(":")}`;
      if (![...this.ports.values()].some((p) => p.mac_address === mac)) return mac;
    }
  }

  private gatewayFor(cidr: Cidr, given: string | null | undefined): number | null {
    if (given === null) return null;
    if (given === undefined) return cidr.prefixLength >= 31 ? null : cidr.network + 1;
    const ip = parseIp(given);
    if (ip === null) throw invalidInput("gateway_ip", `'${given}' is not a valid IP address`);
    if (!contains(cidr, ip)) throw invalidOperation(`Gateway is not valid on subnet`);
    return ip;
  }

  private poolsFor(cidr: Cidr, gateway: number | null, given: Array<Record<string, unknown>> | undefined): IpRange[] {
    if (given === undefined) return defaultPools(cidr, gateway);
    const cidrText = formatCidr(cidr);
    const pools = given.map((p) => {
      const start = parseIp(p.start);
      const end = parseIp(p.end);
      if (start === null || end === null || start > end) {
        throw neutronError(400, "InvalidAllocationPool", `The allocation pool ${String(p.start)}-${String(p.end)} is not valid.`);
      }
      const range = { start, end };
      if (!contains(cidr, start) || !contains(cidr, end)) {
        throw neutronError(400, "OutOfBoundsAllocationPool", `The allocation pool ${poolText(range)} spans beyond the subnet cidr ${cidrText}.`);
      }
      return range;
    });
    for (let i = 0; i < pools.length; i++) {
      for (let j = i + 1; j < pools.length; j++) {
        if (rangesOverlap(pools[i], pools[j])) {
          throw neutronError(400, "OverlappingAllocationPools", `Found overlapping allocation pools: ${poolText(pools[i])} and ${poolText(pools[j])} for subnet ${cidrText}.`);
        }
      }
    }
    if (gateway !== null) for (const pool of pools) this.checkGatewayOutside(gateway, pool);
    return pools;
  }

  private checkGatewayOutside(gateway: number, pool: IpRange): void {
    if (gateway >= pool.start && gateway <= pool.end) {
      throw neutronError(409, "GatewayConflictWithAllocationPools", `Gateway ip ${formatIp(gateway)} conflicts with allocation pool ${poolText(pool)}`);
    }
  }

  /** Fixed IPs for a new port: the requested ones, or the lowest free address of the first subnet that has one. */
  private allocate(networkId: string, requested: Array<Record<string, unknown>> | undefined): Array<{ subnet_id: string; ip_address: string }> {
    const subnets = this.subnetsOf(networkId);
    const used = new Set(this.portsOf(networkId).flatMap((p) => p.fixed_ips.map((ip) => ip.ip_address)));
    const freeIn = (subnet: Subnet): string | null => {
      for (const pool of subnet.allocation_pools) {
        for (let ip = parseIp(pool.start) as number; ip <= (parseIp(pool.end) as number); ip++) {
          if (!used.has(formatIp(ip))) return formatIp(ip);
        }
      }
      return null;
    };
    if (requested === undefined) {
      for (const subnet of subnets) {
        const ip = freeIn(subnet);
        if (ip) return [{ subnet_id: subnet.id, ip_address: ip }];
      }
      if (subnets.length === 0) return [];
      throw neutronError(409, "IpAddressGenerationFailure", `No more IP addresses available on network ${networkId}.`);
    }
    const out: Array<{ subnet_id: string; ip_address: string }> = [];
    for (const req of requested) {
      let subnet: Subnet | undefined;
      if (req.subnet_id !== undefined) {
        subnet = subnets.find((s) => s.id === req.subnet_id);
        if (!subnet) {
          throw invalidOperation(`Failed to create port on network ${networkId}, because fixed_ips included invalid subnet ${String(req.subnet_id)}`);
        }
      }
      if (req.ip_address !== undefined) {
        const ip = parseIp(req.ip_address);
        if (ip === null) throw invalidInput("fixed_ips", `'${String(req.ip_address)}' is not a valid IP address`);
        subnet ??= subnets.find((s) => contains(parseCidr(s.cidr) as Cidr, ip));
        if (!subnet || !contains(parseCidr(subnet.cidr) as Cidr, ip)) {
          throw invalidOperation(`IP address ${String(req.ip_address)} is not a valid IP for the specified subnet`);
        }
        const text = formatIp(ip);
        if (used.has(text)) {
          throw neutronError(409, "IpAddressAlreadyAllocated", `IP address ${text} already allocated in subnet ${subnet.id}`);
        }
        used.add(text);
        out.push({ subnet_id: subnet.id, ip_address: text });
        continue;
      }
      if (!subnet) throw invalidOperation("fixed_ips entries need a subnet_id or an ip_address");
      const ip = freeIn(subnet);
      if (!ip) throw neutronError(409, "IpAddressGenerationFailure", `No more IP addresses available on network ${networkId}.`);
      used.add(ip);
      out.push({ subnet_id: subnet.id, ip_address: ip });
    }
    return out;
  }
}

function poolText(r: IpRange): string {
  return `${formatIp(r.start)}-${formatIp(r.end)}`;
}

function mirrored(port: Port): MirroredPort {
  return {
    id: port.id,
    name: port.name,
    networkId: port.network_id,
    tenantId: port.tenant_id,
    macAddress: port.mac_address,
    fixedIps: port.fixed_ips,
    deviceId: port.device_id,
    deviceOwner: port.device_owner,
  };
}
