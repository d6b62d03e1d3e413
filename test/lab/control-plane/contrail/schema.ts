/**
 * The part of the 2.x `vnc_cfg.xsd` the lab serves: object types, their parents, properties and
 * references (with link attribute types and the derived flag).
 */

export interface RefDef {
  /** The link's attribute type, or undefined for links without an attr. */
  attrType?: string;
  /** Derived links do not block deletion of the referred object. */
  derived?: boolean;
}

export interface TypeDef {
  type: string;
  /** Collection name in URLs: `/<plural>` (note `network-policys`). */
  plural: string;
  /** Allowed parent types; "config-root" for top-level objects. */
  parents: string[];
  props: string[];
  /** Keyed by the referred type. */
  refs: Record<string, RefDef>;
}

const common = ["display_name", "id_perms"];

const defs: TypeDef[] = [
  { type: "domain", plural: "domains", parents: ["config-root"], props: [...common, "domain_limits", "api_access_list"], refs: {} },
  { type: "project", plural: "projects", parents: ["domain"], props: [...common, "quota"], refs: {} },
  {
    type: "network-ipam",
    plural: "network-ipams",
    parents: ["project"],
    props: [...common, "network_ipam_mgmt"],
    refs: {},
  },
  {
    type: "virtual-network",
    plural: "virtual-networks",
    parents: ["project"],
    props: [
      ...common,
      "virtual_network_properties",
      "route_target_list",
      "router_external",
      "is_shared",
      "external_ipam",
      "flood_unknown_unicast",
      "virtual_network_network_id",
    ],
    refs: {
      "network-ipam": { attrType: "VnSubnetsType" },
      "network-policy": { attrType: "VirtualNetworkPolicyType" },
    },
  },
  {
    type: "service-template",
    plural: "service-templates",
    parents: ["domain"],
    props: [...common, "service_template_properties"],
    refs: {},
  },
  {
    type: "service-instance",
    plural: "service-instances",
    parents: ["project"],
    props: [...common, "service_instance_properties"],
    refs: { "service-template": {} },
  },
  {
    type: "network-policy",
    plural: "network-policys",
    parents: ["project"],
    props: [...common, "network_policy_entries"],
    refs: {},
  },
  {
    type: "virtual-machine",
    plural: "virtual-machines",
    parents: ["config-root"],
    props: [...common],
    refs: { "service-instance": { derived: true } },
  },
  {
    type: "virtual-machine-interface",
    plural: "virtual-machine-interfaces",
    parents: ["project", "virtual-machine"],
    props: [
      ...common,
      "virtual_machine_interface_mac_addresses",
      "virtual_machine_interface_properties",
      "virtual_machine_interface_device_owner",
      "virtual_machine_interface_allowed_address_pairs",
    ],
    refs: { "virtual-network": {}, "virtual-machine": {} },
  },
  {
    type: "instance-ip",
    plural: "instance-ips",
    parents: ["config-root"],
    props: [...common, "instance_ip_address", "instance_ip_family", "instance_ip_mode", "subnet_uuid", "service_instance_ip"],
    refs: { "virtual-network": {}, "virtual-machine-interface": {} },
  },
];

export const TYPES: ReadonlyMap<string, TypeDef> = new Map(defs.map((d) => [d.type, d]));

export function typeDef(type: string): TypeDef | undefined {
  return TYPES.get(type);
}

/** `virtual-network` → `virtual_network`. */
export function field(type: string): string {
  return type.replace(/-/g, "_");
}

export function refField(targetType: string): string {
  return `${field(targetType)}_refs`;
}

export function backRefField(sourceType: string): string {
  return `${field(sourceType)}_back_refs`;
}

/** Children list key, e.g. `network_policys` (the plural with underscores). */
export function childrenField(childType: string): string {
  return field(TYPES.get(childType)?.plural ?? `${childType}s`);
}
