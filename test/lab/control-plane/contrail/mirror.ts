/**
 * What vnc_openstack does between Keystone/Neutron and the Contrail database: Keystone projects
 * become Contrail projects (same uuid, dashed), Neutron networks become virtual-networks with the
 * same uuid, ports become virtual-machine-interfaces with instance-ips, and a port bound to a Nova
 * server refers to a virtual-machine object named after the server.
 */
import type { LabBus } from "../core";
import { HttpError } from "../http/errors";
import { DEFAULT_DOMAIN_ID, type Identity } from "../keystone/identity";
import { dashUuid, isCanonicalUuid, isObject, newUuid, undashUuid } from "../util/ids";
import type { CObject, ConfigDb, RefLink } from "./db";

export const DEFAULT_DOMAIN = "default-domain";
export const DEFAULT_PROJECT = "default-project";
export const DEFAULT_IPAM: readonly string[] = [DEFAULT_DOMAIN, DEFAULT_PROJECT, "default-network-ipam"];

export interface MirroredSubnet {
  id: string;
  cidr: string;
  gatewayIp: string | null;
  enableDhcp: boolean;
  allocationPools: Array<{ start: string; end: string }>;
  dnsNameservers: string[];
}

export interface MirroredPort {
  id: string;
  name: string;
  networkId: string;
  tenantId: string;
  macAddress: string;
  fixedIps: Array<{ subnet_id: string; ip_address: string }>;
  deviceId: string;
  deviceOwner: string;
}

export class ContrailMirror {
  constructor(
    private readonly db: ConfigDb,
    private readonly identity: Identity,
    private readonly bus: LabBus,
  ) {}

  /** The objects a fresh Contrail has: default-domain, default-project, default-network-ipam. */
  provisionDefaults(): void {
    this.db.create("domain", { fq_name: [DEFAULT_DOMAIN] }, null);
    this.db.create("project", { parent_type: "domain", fq_name: [DEFAULT_DOMAIN, DEFAULT_PROJECT] }, null);
    this.db.create("network-ipam", { parent_type: "project", fq_name: [...DEFAULT_IPAM], network_ipam_mgmt: { ipam_method: "dhcp" } }, null);
  }

  /** Contrail's copy of a Keystone project (created on first use), by Keystone id (hex). */
  project(keystoneProjectId: string): CObject {
    const uuid = dashUuid(keystoneProjectId);
    const existing = this.db.get(uuid);
    if (existing) return existing;
    const project = this.projectOnDemand(uuid);
    if (!project) throw new HttpError(404, `Project ${keystoneProjectId} could not be found.`);
    return project;
  }

  /** vnc_openstack's pre_project_read: creates the project if Keystone has it. */
  projectOnDemand(uuid: string): CObject | null {
    const ks = this.identity.projects.get(undashUuid(uuid));
    if (!ks) return null;
    const domain = ks.domainId === DEFAULT_DOMAIN_ID ? DEFAULT_DOMAIN : dashUuid(ks.domainId);
    let name = ks.name;
    if (this.db.byFqName("project", [domain, name])) name = `${name}-${newUuid()}`;
    this.bus.log("vnc-openstack", `syncing Keystone project ${ks.name} (${ks.id}) into Contrail as ${domain}:${name}`);
    return this.db.create("project", { parent_type: "domain", fq_name: [domain, name], uuid, display_name: ks.name }, null);
  }

  /** Creates the virtual-network of a new Neutron network; returns its fq_name. */
  createVirtualNetwork(net: { id: string; name: string; tenantId: string; shared: boolean; external: boolean }): string[] {
    const project = this.project(net.tenantId);
    let name = net.name === "" ? net.id : net.name.replace(/:/g, "-");
    if (this.db.byFqName("virtual-network", [...project.fq_name, name])) name = `${name}-${net.id}`;
    const vn = this.db.create(
      "virtual-network",
      {
        parent_type: "project",
        fq_name: [...project.fq_name, name],
        uuid: net.id,
        display_name: net.name,
        is_shared: net.shared,
        router_external: net.external,
        virtual_network_properties: { forwarding_mode: "l2_l3", allow_transit: false },
      },
      null,
    );
    return vn.fq_name;
  }

  /** Brings the VN's name, flags and ipam subnets in line with Neutron. */
  syncVirtualNetwork(net: { id: string; name: string; shared: boolean; external: boolean }, subnets: MirroredSubnet[]): void {
    const vn = this.db.get(net.id);
    if (!vn) return;
    vn.props.display_name = net.name;
    vn.props.is_shared = net.shared;
    vn.props.router_external = net.external;
    const ipam = this.db.byFqName("network-ipam", DEFAULT_IPAM);
    vn.refs["network-ipam"] = [];
    if (ipam && subnets.length > 0) {
      vn.refs["network-ipam"].push({
        uuid: ipam.uuid,
        to: [...ipam.fq_name],
        attr: {
          ipam_subnets: subnets.map((s) => {
            const [prefix, len] = s.cidr.split("/");
            return {
              subnet: { ip_prefix: prefix, ip_prefix_len: Number(len) },
              default_gateway: s.gatewayIp ?? "0.0.0.0",
              subnet_uuid: s.id,
              enable_dhcp: s.enableDhcp,
              allocation_pools: s.allocationPools,
              dns_nameservers: s.dnsNameservers,
              addr_from_start: true,
            };
          }),
        },
      });
    }
    this.db.touch(vn);
  }

  /** Removes the VN of a deleted Neutron network (its policy refs go with it). */
  deleteVirtualNetwork(id: string): void {
    const vn = this.db.get(id);
    if (vn) this.db.delete("virtual-network", id);
  }

  /** Policy fq-names attached to the VN, ordered by sequence (Neutron's `contrail:policys`). */
  policiesOf(id: string): string[][] {
    const vn = this.db.get(id);
    if (!vn) return [];
    return [...(vn.refs["network-policy"] ?? [])]
      .sort((a, b) => sequenceKey(a.attr) - sequenceKey(b.attr))
      .map((l) => [...l.to]);
  }

  /**
   * The policy refs a `contrail:policys` value stands for (majors 0, 1, 2, …), or null when it is
   * not a list; a 404 PolicyNotFound when a policy does not exist.
   */
  policyLinks(policies: unknown): RefLink[] | null {
    if (!Array.isArray(policies)) return null;
    return policies.map((p, major) => {
      const fq = Array.isArray(p) ? p.map(String) : String(p).split(":");
      const policy = this.db.byFqName("network-policy", fq);
      if (!policy) throw new HttpError(404, `Policy ${fq.join(":")} could not be found.`, { type: "PolicyNotFound" });
      return { uuid: policy.uuid, to: [...policy.fq_name], attr: { sequence: { major, minor: 0 }, timer: null } };
    });
  }

  /** Neutron's `contrail:policys` update: replaces the VN's policy list. */
  setPolicies(id: string, policies: unknown): void {
    const vn = this.db.get(id);
    const links = this.policyLinks(policies);
    if (!vn || !links) return;
    vn.refs["network-policy"] = links;
    this.db.touch(vn);
  }

  /** The VMI (same uuid as the port) and one instance-ip per fixed IP. */
  createInterface(port: MirroredPort, vmiName: string | undefined, serviceInterfaceType: string | undefined): void {
    const project = this.project(port.tenantId);
    const vn = this.db.get(port.networkId);
    if (!vn) return;
    this.db.create(
      "virtual-machine-interface",
      {
        parent_type: "project",
        fq_name: [...project.fq_name, vmiName ?? port.id],
        uuid: port.id,
        display_name: port.name === "" ? undefined : port.name,
        virtual_machine_interface_mac_addresses: { mac_address: [port.macAddress] },
        virtual_machine_interface_device_owner: port.deviceOwner,
        ...(serviceInterfaceType ? { virtual_machine_interface_properties: { service_interface_type: serviceInterfaceType } } : {}),
        virtual_network_refs: [{ to: vn.fq_name, attr: null }],
      },
      null,
    );
    for (const ip of port.fixedIps) {
      const id = newUuid();
      this.db.create(
        "instance-ip",
        {
          fq_name: [id],
          uuid: id,
          instance_ip_address: ip.ip_address,
          instance_ip_family: "v4",
          subnet_uuid: ip.subnet_id,
          virtual_network_refs: [{ to: vn.fq_name, attr: null }],
          virtual_machine_interface_refs: [{ to: [...project.fq_name, vmiName ?? port.id], attr: null }],
        },
        null,
      );
    }
    this.bindInterface(port);
  }

  /** Name, owner and the VMI → virtual-machine link follow the port's device binding. */
  updateInterface(port: MirroredPort): void {
    const vmi = this.db.get(port.id);
    if (!vmi) return;
    // The binding first: it is what can fail (a device id Contrail cannot name a VM after).
    this.bindInterface(port);
    vmi.props.display_name = port.name === "" ? vmi.fq_name[vmi.fq_name.length - 1] : port.name;
    vmi.props.virtual_machine_interface_device_owner = port.deviceOwner;
    this.db.touch(vmi);
  }

  deleteInterface(portId: string): void {
    const vmi = this.db.get(portId);
    if (!vmi) return;
    const vmIds = (vmi.refs["virtual-machine"] ?? []).map((l) => l.uuid);
    for (const { from } of this.db.backRefs(vmi)) if (from.type === "instance-ip") this.db.purge(from);
    this.db.purge(vmi);
    for (const vmId of vmIds) this.dropVirtualMachineIfUnused(vmId);
  }

  /**
   * The virtual-machine named after a device (fq_name [device id]), created if missing. As the
   * Contrail plugin does, a device id that is a uuid is also the VM's uuid; any other id gets a
   * server-chosen one.
   */
  virtualMachine(deviceId: string): CObject {
    return (
      this.db.byFqName("virtual-machine", [deviceId]) ??
      this.db.create("virtual-machine", { fq_name: [deviceId], ...(isCanonicalUuid(deviceId) ? { uuid: deviceId } : {}) }, null)
    );
  }

  private bindInterface(port: MirroredPort): void {
    const vmi = this.db.get(port.id);
    if (!vmi) return;
    const device = port.deviceId !== "" && port.deviceOwner.startsWith("compute:") ? port.deviceId : null;
    // Resolved before anything changes: creating the VM object is what can be refused.
    const vm = device === null ? null : this.virtualMachine(device);
    const current = (vmi.refs["virtual-machine"] ?? []).map((l) => l.uuid);
    if (vm && current.length === 1 && current[0] === vm.uuid) return;
    vmi.refs["virtual-machine"] = vm ? [{ uuid: vm.uuid, to: [...vm.fq_name], attr: null }] : [];
    this.db.touch(vmi);
    for (const old of current) if (old !== vm?.uuid) this.dropVirtualMachineIfUnused(old);
  }

  /** Plain servers' VM objects go with their last interface; service VMs are svc-monitor's. */
  private dropVirtualMachineIfUnused(vmId: string): void {
    const vm = this.db.get(vmId);
    if (!vm || vm.type !== "virtual-machine") return;
    if ((vm.refs["service-instance"] ?? []).length > 0) return;
    if (this.db.backRefs(vm).length > 0) return;
    this.db.delete("virtual-machine", vmId);
  }
}

function sequenceKey(attr: unknown): number {
  if (!isObject(attr) || !isObject(attr.sequence)) return Number.MAX_SAFE_INTEGER;
  return Number(attr.sequence.major ?? 0) * 1e6 + Number(attr.sequence.minor ?? 0);
}
