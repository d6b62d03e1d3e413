/** Neutron's JSON representations of networks, subnets and ports. */
import type { ContrailMirror } from "../contrail/mirror";
import type { Network, Networking, Port, Subnet } from "./networking";

export class Views {
  constructor(
    private readonly net: Networking,
    private readonly mirror: ContrailMirror,
  ) {}

  network(n: Network): Record<string, unknown> {
    return {
      id: n.id,
      name: n.name,
      description: n.description,
      tenant_id: n.tenant_id,
      project_id: n.tenant_id,
      admin_state_up: n.admin_state_up,
      status: "ACTIVE",
      subnets: this.net.subnetsOf(n.id).map((s) => s.id),
      shared: n.shared,
      mtu: n.mtu,
      port_security_enabled: n.port_security_enabled,
      "router:external": n.router_external,
      availability_zone_hints: [...n.availability_zone_hints],
      availability_zones: ["nova"],
      ipv4_address_scope: null,
      ipv6_address_scope: null,
      dns_domain: n.dns_domain,
      qos_policy_id: n.qos_policy_id,
      l2_adjacency: true,
      ...n.extras,
      "contrail:fq_name": [...n.fqName],
      "contrail:policys": this.mirror.policiesOf(n.id),
      ...stamps(n),
    };
  }

  subnet(s: Subnet): Record<string, unknown> {
    return {
      id: s.id,
      name: s.name,
      description: s.description,
      network_id: s.network_id,
      tenant_id: s.tenant_id,
      project_id: s.tenant_id,
      ip_version: 4,
      cidr: s.cidr,
      gateway_ip: s.gateway_ip,
      allocation_pools: s.allocation_pools.map((p) => ({ ...p })),
      dns_nameservers: [...s.dns_nameservers],
      host_routes: s.host_routes.map((h) => ({ ...h })),
      enable_dhcp: s.enable_dhcp,
      ipv6_address_mode: null,
      ipv6_ra_mode: null,
      subnetpool_id: null,
      service_types: [...s.service_types],
      dns_publish_fixed_ip: false,
      segment_id: null,
      ...stamps(s),
    };
  }

  port(p: Port): Record<string, unknown> {
    return {
      id: p.id,
      name: p.name,
      description: p.description,
      network_id: p.network_id,
      tenant_id: p.tenant_id,
      project_id: p.tenant_id,
      mac_address: p.mac_address,
      admin_state_up: p.admin_state_up,
      status: p.status,
      device_id: p.device_id,
      device_owner: p.device_owner,
      fixed_ips: p.fixed_ips.map((ip) => ({ ...ip })),
      "binding:host_id": p.binding_host_id,
      "binding:vnic_type": "normal",
      "binding:vif_type": p.binding_host_id === "" ? "unbound" : "vrouter",
      "binding:vif_details": {},
      "binding:profile": {},
      allowed_address_pairs: [],
      extra_dhcp_opts: [],
      security_groups: [],
      port_security_enabled: true,
      dns_name: "",
      qos_policy_id: null,
      ...p.extras,
      ...stamps(p),
    };
  }
}

function stamps(r: { tags: string[]; created_at: string; updated_at: string; revision_number: number }) {
  return { tags: [...r.tags], created_at: r.created_at, updated_at: r.updated_at, revision_number: r.revision_number };
}
