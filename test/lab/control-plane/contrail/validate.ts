/**
 * Property validation as the 2.x API server does it: enum checks from the generated type classes,
 * then `_check_policy_rules` for network policies (which also fills in `rule_uuid`).
 */
import { HttpError } from "../http/errors";
import { isObject, newUuid, pyList } from "../util/ids";

const ENUMS = {
  ServiceModeType: ["transparent", "in-network", "in-network-nat"],
  ServiceType: ["firewall", "analyzer", "source-nat", "loadbalancer"],
  ServiceInterfaceType: ["management", "left", "right", "other"],
  ServiceVirtualizationType: ["virtual-machine", "network-namespace", "vrouter-instance"],
  VRouterInstanceType: ["libvirt-qemu", "docker"],
  AddressMode: ["active-active", "active-standby"],
  DirectionType: [">", "<>"],
  SimpleActionType: ["deny", "pass"],
  EtherType: ["IPv4", "IPv6"],
} as const;

const PROTOCOLS = ["any", "tcp", "udp", "icmp", "icmp6"];

function checkEnum(name: keyof typeof ENUMS, value: unknown): void {
  if (value === undefined || value === null) return;
  const allowed: readonly string[] = ENUMS[name];
  if (typeof value !== "string" || !allowed.includes(value)) {
    throw new HttpError(400, `${name} must be one of ${pyList(allowed)}`);
  }
}

export function validateProps(type: string, obj: Record<string, unknown>): void {
  switch (type) {
    case "service-template":
      return validateTemplate(obj.service_template_properties);
    case "service-instance":
      return validateInstance(obj.service_instance_properties);
    case "network-policy":
      return validatePolicy(obj.network_policy_entries);
    default:
      return;
  }
}

function validateTemplate(props: unknown): void {
  if (!isObject(props)) return;
  checkEnum("ServiceModeType", props.service_mode);
  checkEnum("ServiceType", props.service_type);
  checkEnum("ServiceVirtualizationType", props.service_virtualization_type);
  checkEnum("VRouterInstanceType", props.vrouter_instance_type);
  if (Array.isArray(props.interface_type)) {
    for (const itf of props.interface_type) if (isObject(itf)) checkEnum("ServiceInterfaceType", itf.service_interface_type);
  }
}

function validateInstance(props: unknown): void {
  if (!isObject(props)) return;
  checkEnum("AddressMode", props.ha_mode);
}

function validatePolicy(entries: unknown): void {
  if (!isObject(entries) || !Array.isArray(entries.policy_rule)) return;
  const rules = entries.policy_rule;
  for (const rule of rules) {
    if (!isObject(rule)) continue;
    checkEnum("DirectionType", rule.direction);
    checkEnum("EtherType", rule.ethertype);
    if (isObject(rule.action_list)) checkEnum("SimpleActionType", rule.action_list.simple_action);
  }
  for (const rule of rules) {
    if (!isObject(rule)) throw new HttpError(400, "Bad Request, policy_rule entries must be objects");
    if (!rule.rule_uuid) rule.rule_uuid = newUuid();
    if (!rule.action_list) throw new HttpError(400, "Action is required");
    const protocol = rule.protocol;
    const valid =
      typeof protocol === "string" &&
      (/^\d+$/.test(protocol) ? Number(protocol) >= 0 && Number(protocol) <= 255 : PROTOCOLS.includes(protocol));
    if (!valid) throw new HttpError(400, `Rule with invalid protocol : ${protocol === undefined ? "None" : String(protocol)}`);
  }
}
