/** Neutron v2.0: networks, subnets, ports, tags and extensions, with Neutron's JSON errors. */
import { caller } from "../auth";
import type { ContrailMirror } from "../contrail/mirror";
import type { HttpError } from "../http/errors";
import { empty, json, type Reply } from "../http/reply";
import { Router, type RequestContext } from "../http/router";
import type { AuthContext } from "../keystone/identity";
import {
  anyValue,
  convert,
  neutronError,
  resourceBody,
  toBool,
  toDictList,
  toInt,
  toIpList,
  toIpOrNull,
  toString255,
  toStringList,
  toStringOrNull,
  type AttributeSpec,
} from "./attributes";
import type { Network, Networking, Port, Subnet } from "./networking";
import { addTagRoutes } from "./tags";
import { Views } from "./views";

const networkCommon: AttributeSpec = {
  name: toString255,
  description: toString255,
  admin_state_up: toBool,
  shared: toBool,
  mtu: toInt,
  port_security_enabled: toBool,
  dns_domain: toString255,
  qos_policy_id: toStringOrNull,
  "router:external": toBool,
  "provider:network_type": anyValue,
  "provider:physical_network": anyValue,
  "provider:segmentation_id": anyValue,
  segments: anyValue,
  "contrail:policys": anyValue,
};
const NETWORK_CREATE: AttributeSpec = {
  ...networkCommon,
  tenant_id: toString255,
  project_id: toString255,
  availability_zone_hints: toStringList,
  vlan_transparent: toBool,
  tags: toStringList,
};
const NETWORK_READ_ONLY = ["id", "tenant_id", "project_id", "availability_zone_hints", "vlan_transparent", "status", "subnets"];

const subnetCommon: AttributeSpec = {
  name: toString255,
  description: toString255,
  gateway_ip: toIpOrNull,
  allocation_pools: toDictList(["start", "end"]),
  dns_nameservers: toIpList,
  host_routes: toDictList(["destination", "nexthop"]),
  enable_dhcp: toBool,
  service_types: toStringList,
  dns_publish_fixed_ip: toBool,
  segment_id: anyValue,
};
const SUBNET_CREATE: AttributeSpec = {
  ...subnetCommon,
  network_id: toString255,
  cidr: toString255,
  ip_version: toInt,
  ipv6_address_mode: toStringOrNull,
  ipv6_ra_mode: toStringOrNull,
  subnetpool_id: toStringOrNull,
  prefixlen: toInt,
  use_default_subnetpool: toBool,
  tenant_id: toString255,
  project_id: toString255,
  tags: toStringList,
};
const SUBNET_READ_ONLY = ["id", "network_id", "cidr", "ip_version", "ipv6_address_mode", "ipv6_ra_mode", "subnetpool_id", "tenant_id", "project_id", "prefixlen"];

const portCommon: AttributeSpec = {
  name: toString255,
  description: toString255,
  admin_state_up: toBool,
  device_id: toString255,
  device_owner: toString255,
  "binding:host_id": toString255,
  "binding:vnic_type": toString255,
  "binding:profile": anyValue,
  security_groups: toStringList,
  allowed_address_pairs: toDictList(["ip_address"]),
  port_security_enabled: toBool,
  extra_dhcp_opts: anyValue,
  dns_name: toString255,
  qos_policy_id: toStringOrNull,
};
const PORT_CREATE: AttributeSpec = {
  ...portCommon,
  network_id: toString255,
  mac_address: toString255,
  fixed_ips: toDictList([]),
  tenant_id: toString255,
  project_id: toString255,
  tags: toStringList,
};
const PORT_READ_ONLY = ["id", "network_id", "mac_address", "tenant_id", "project_id", "status", "fixed_ips"];

const PORT_EXTRAS = ["binding:vnic_type", "binding:profile", "security_groups", "allowed_address_pairs", "port_security_enabled", "extra_dhcp_opts", "dns_name", "qos_policy_id"];
const NETWORK_EXTRAS = ["provider:network_type", "provider:physical_network", "provider:segmentation_id", "segments", "vlan_transparent"];

const EXTENSIONS: Array<[string, string]> = [
  ["standard-attr-description", "Extension to add descriptions to standard attributes"],
  ["standard-attr-revisions", "This extension will display the revision number of neutron resources."],
  ["standard-attr-timestamp", "Adds created_at and updated_at fields to all Neutron resources that have Neutron standard attributes."],
  ["standard-attr-tag", "Enables to set tag on resources with standard attribute."],
  ["project-id", "Extension that indicates that project_id is enabled."],
  ["net-mtu", "Provides MTU attribute for a network resource."],
  ["port-security", "Provides port security"],
  ["binding", "Expose port bindings of a virtual port to external application"],
  ["external-net", "Adds external network attribute to network resource."],
  ["provider", "Expose mapping of virtual networks to physical networks"],
  ["quotas", "Expose functions for quotas management per tenant"],
  ["contrail", "Contrail specific attributes (contrail:fq_name, contrail:policys)"],
];

export function neutronRouter(net: Networking, mirror: ContrailMirror): Router {
  const r = new Router();
  const views = new Views(net, mirror);

  r.get("/", (ctx) =>
    json(200, { versions: [{ status: "CURRENT", id: "v2.0", links: [{ href: `${ctx.baseUrl}/v2.0/`, rel: "self" }] }] }),
  );
  r.get("/v2.0", (ctx) =>
    json(200, {
      resources: ["network", "subnet", "port"].map((name) => ({
        name,
        collection: `${name}s`,
        links: [{ href: `${ctx.baseUrl}/v2.0/${name}s`, rel: "self" }],
      })),
    }),
  );
  const extensionJson = ([alias, description]: [string, string]) => ({
    alias,
    name: alias,
    description,
    updated: "2017-01-01T00:00:00-00:00",
    links: [],
  });
  r.get("/v2.0/extensions", () => json(200, { extensions: EXTENSIONS.map(extensionJson) }));
  r.get("/v2.0/extensions/{alias}", (ctx) => {
    const ext = EXTENSIONS.find(([a]) => a === ctx.params.alias);
    if (!ext) throw neutronError(404, "HTTPNotFound", `Extension with alias ${ctx.params.alias} does not exist`);
    return json(200, { extension: extensionJson(ext) });
  });

  // ---- networks
  r.post("/v2.0/networks", async (ctx) => {
    const auth = caller(ctx);
    const body = convert(resourceBody(await ctx.json(), "network"), NETWORK_CREATE);
    adminOnlyAttributes(auth, body, "create_network");
    const network = await net.createNetwork({
      ...networkFields(body),
      tenant_id: tenantFor(auth, body, "network"),
      availability_zone_hints: body.availability_zone_hints as string[] | undefined,
      tags: body.tags as string[] | undefined,
    });
    return json(201, { network: views.network(network) });
  });
  r.get("/v2.0/networks", (ctx) => listReply(ctx, "networks", visibleNetworks(net, caller(ctx)).map((n) => views.network(n))));
  r.get("/v2.0/networks/{id}", (ctx) => json(200, { network: pick(ctx, views.network(ownNetwork(net, ctx))) }));
  r.put("/v2.0/networks/{id}", async (ctx) => {
    const network = ownNetwork(net, ctx, true);
    const body = convert(resourceBody(await ctx.json(), "network"), networkCommon, NETWORK_READ_ONLY);
    adminOnlyAttributes(caller(ctx), body, "update_network");
    const updated = await net.updateNetwork(network.id, networkFields(body));
    return json(200, { network: views.network(updated) });
  });
  r.delete("/v2.0/networks/{id}", async (ctx) => {
    await net.deleteNetwork(ownNetwork(net, ctx, true).id);
    return empty(204);
  });

  // ---- subnets
  r.post("/v2.0/subnets", async (ctx) => {
    const auth = caller(ctx);
    const body = convert(resourceBody(await ctx.json(), "subnet"), SUBNET_CREATE);
    if (body.network_id === undefined) throw neutronError(400, "HTTPBadRequest", "Failed to parse request. Required attribute 'network_id' not specified");
    if (body.ip_version !== undefined && body.ip_version !== 4) {
      throw neutronError(400, "HTTPBadRequest", `Invalid input for ip_version. Reason: the lab supports IPv4 subnets only.`);
    }
    if (body.subnetpool_id !== undefined && body.subnetpool_id !== null) {
      throw neutronError(404, "SubnetPoolNotFound", `Subnet pool ${String(body.subnetpool_id)} could not be found.`);
    }
    const network = visibleNetwork(net, auth, String(body.network_id));
    if (!auth.isAdmin && network.tenant_id !== auth.projectId) {
      throw neutronError(404, "NetworkNotFound", `Network ${network.id} could not be found.`);
    }
    const subnet = await net.createSubnet({
      ...subnetFields(body),
      network_id: network.id,
      cidr: body.cidr as string | undefined,
      tenant_id: tenantFor(auth, body, "subnet"),
      tags: body.tags as string[] | undefined,
    });
    return json(201, { subnet: views.subnet(subnet) });
  });
  r.get("/v2.0/subnets", (ctx) => {
    const auth = caller(ctx);
    const visible = new Set(visibleNetworks(net, auth).map((n) => n.id));
    return listReply(ctx, "subnets", [...net.subnets.values()].filter((s) => visible.has(s.network_id)).map((s) => views.subnet(s)));
  });
  r.get("/v2.0/subnets/{id}", (ctx) => json(200, { subnet: pick(ctx, views.subnet(ownSubnet(net, ctx))) }));
  r.put("/v2.0/subnets/{id}", async (ctx) => {
    const subnet = ownSubnet(net, ctx, true);
    const body = convert(resourceBody(await ctx.json(), "subnet"), subnetCommon, SUBNET_READ_ONLY);
    return json(200, { subnet: views.subnet(await net.updateSubnet(subnet.id, subnetFields(body))) });
  });
  r.delete("/v2.0/subnets/{id}", async (ctx) => {
    await net.deleteSubnet(ownSubnet(net, ctx, true).id);
    return empty(204);
  });

  // ---- ports
  r.post("/v2.0/ports", async (ctx) => {
    const auth = caller(ctx);
    const body = convert(resourceBody(await ctx.json(), "port"), PORT_CREATE);
    if (body.network_id === undefined) throw neutronError(400, "HTTPBadRequest", "Failed to parse request. Required attribute 'network_id' not specified");
    const network = visibleNetwork(net, auth, String(body.network_id));
    const port = await net.createPort({
      ...portFields(body),
      network_id: network.id,
      tenant_id: tenantFor(auth, body, "port"),
      mac_address: body.mac_address as string | undefined,
      fixed_ips: body.fixed_ips as Array<Record<string, unknown>> | undefined,
      tags: body.tags as string[] | undefined,
    });
    return json(201, { port: views.port(port) });
  });
  r.get("/v2.0/ports", (ctx) => {
    const auth = caller(ctx);
    let ports = [...net.ports.values()].filter((p) => auth.isAdmin || p.tenant_id === auth.projectId);
    for (const spec of ctx.query.getAll("fixed_ips")) {
      const [key, value] = spec.split("=");
      ports = ports.filter((p) => p.fixed_ips.some((ip) => (ip as Record<string, string>)[key] === value));
    }
    return listReply(ctx, "ports", ports.map((p) => views.port(p)));
  });
  r.get("/v2.0/ports/{id}", (ctx) => json(200, { port: pick(ctx, views.port(ownPort(net, ctx))) }));
  r.put("/v2.0/ports/{id}", async (ctx) => {
    const port = ownPort(net, ctx);
    const raw = resourceBody(await ctx.json(), "port");
    if ("fixed_ips" in raw) throw neutronError(400, "HTTPBadRequest", "Invalid input for fixed_ips. Reason: the lab does not support changing fixed_ips.");
    const body = convert(raw, portCommon, PORT_READ_ONLY);
    return json(200, { port: views.port(net.updatePort(port.id, portFields(body))) });
  });
  r.delete("/v2.0/ports/{id}", async (ctx) => {
    await net.deletePort(ownPort(net, ctx).id);
    return empty(204);
  });

  addTagRoutes(r, net);
  return r;
}

// ---------------------------------------------------------------- access

function tenantFor(auth: AuthContext, body: Record<string, unknown>, resource: string): string {
  const given = (body.project_id ?? body.tenant_id) as string | undefined;
  if (given !== undefined && given !== auth.projectId && !auth.isAdmin) {
    throw neutronError(400, "HTTPBadRequest", `Specifying 'tenant_id' other than the authenticated tenant in request requires admin privileges`);
  }
  const tenant = given ?? auth.projectId;
  if (!tenant) throw neutronError(400, "HTTPBadRequest", `Unable to create the ${resource}: the token is not scoped to a project`);
  return tenant;
}

/** Neutron's default policy: only admins may share a network or make it external. */
function adminOnlyAttributes(auth: AuthContext, body: Record<string, unknown>, action: string): void {
  if (auth.isAdmin) return;
  for (const attr of ["shared", "router:external"]) {
    if (body[attr] === true) {
      throw neutronError(403, "PolicyNotAuthorized", `(rule:${action} and rule:${action}:${attr}) is disallowed by policy`);
    }
  }
}

function visibleNetworks(net: Networking, auth: AuthContext): Network[] {
  return [...net.networks.values()].filter((n) => auth.isAdmin || n.shared || n.tenant_id === auth.projectId);
}

function visibleNetwork(net: Networking, auth: AuthContext, id: string): Network {
  const network = net.network(id);
  if (!auth.isAdmin && !network.shared && network.tenant_id !== auth.projectId) {
    throw neutronError(404, "NetworkNotFound", `Network ${id} could not be found.`);
  }
  return network;
}

function ownNetwork(net: Networking, ctx: RequestContext, write = false): Network {
  const auth = caller(ctx);
  const network = visibleNetwork(net, auth, ctx.params.id);
  if (write && !auth.isAdmin && network.tenant_id !== auth.projectId) {
    throw neutronError(403, "PolicyNotAuthorized", `(rule:update_network) is disallowed by policy`);
  }
  return network;
}

function ownSubnet(net: Networking, ctx: RequestContext, write = false): Subnet {
  const auth = caller(ctx);
  const subnet = net.subnet(ctx.params.id);
  const network = net.networks.get(subnet.network_id);
  const visible = auth.isAdmin || subnet.tenant_id === auth.projectId || network?.shared === true;
  if (!visible) throw neutronError(404, "SubnetNotFound", `Subnet ${ctx.params.id} could not be found.`);
  if (write && !auth.isAdmin && subnet.tenant_id !== auth.projectId) {
    throw neutronError(403, "PolicyNotAuthorized", `(rule:update_subnet) is disallowed by policy`);
  }
  return subnet;
}

function ownPort(net: Networking, ctx: RequestContext): Port {
  const auth = caller(ctx);
  const port = net.port(ctx.params.id);
  if (!auth.isAdmin && port.tenant_id !== auth.projectId) throw neutronError(404, "PortNotFound", `Port ${ctx.params.id} could not be found.`);
  return port;
}

// ---------------------------------------------------------------- body → model

function networkFields(body: Record<string, unknown>) {
  const extras: Record<string, unknown> = {};
  for (const k of NETWORK_EXTRAS) if (body[k] !== undefined) extras[k] = body[k];
  return {
    name: body.name as string | undefined,
    description: body.description as string | undefined,
    admin_state_up: body.admin_state_up as boolean | undefined,
    shared: body.shared as boolean | undefined,
    mtu: body.mtu as number | undefined,
    port_security_enabled: body.port_security_enabled as boolean | undefined,
    dns_domain: body.dns_domain as string | undefined,
    qos_policy_id: body.qos_policy_id as string | null | undefined,
    router_external: body["router:external"] as boolean | undefined,
    extras: Object.keys(extras).length > 0 ? extras : undefined,
    contrailPolicys: body["contrail:policys"],
  };
}

function subnetFields(body: Record<string, unknown>) {
  return {
    name: body.name as string | undefined,
    description: body.description as string | undefined,
    gateway_ip: body.gateway_ip as string | null | undefined,
    allocation_pools: body.allocation_pools as Array<Record<string, unknown>> | undefined,
    dns_nameservers: body.dns_nameservers as string[] | undefined,
    host_routes: body.host_routes as Array<{ destination: string; nexthop: string }> | undefined,
    enable_dhcp: body.enable_dhcp as boolean | undefined,
    service_types: body.service_types as string[] | undefined,
  };
}

function portFields(body: Record<string, unknown>) {
  const extras: Record<string, unknown> = {};
  for (const k of PORT_EXTRAS) if (body[k] !== undefined) extras[k] = body[k];
  return {
    name: body.name as string | undefined,
    description: body.description as string | undefined,
    admin_state_up: body.admin_state_up as boolean | undefined,
    device_id: body.device_id as string | undefined,
    device_owner: body.device_owner as string | undefined,
    binding_host_id: body["binding:host_id"] as string | undefined,
    extras: Object.keys(extras).length > 0 ? extras : undefined,
  };
}

// ---------------------------------------------------------------- lists

const NON_FILTERS = new Set(["fields", "limit", "marker", "sort_key", "sort_dir", "page_reverse", "fixed_ips", "tags", "tags-any", "not-tags", "not-tags-any"]);

/** Applies Neutron's query filters (attribute equality, tags) and `fields`. */
function listReply(ctx: RequestContext, collection: string, items: Array<Record<string, unknown>>): Reply {
  const q = ctx.query;
  let out = items;
  for (const key of new Set(q.keys())) {
    if (NON_FILTERS.has(key)) continue;
    const wanted = q.getAll(key);
    out = out.filter((item) => key in item && wanted.some((w) => matches(item[key], w)));
  }
  const tagSet = (name: string) => q.getAll(name).flatMap((v) => v.split(","));
  const tags = (item: Record<string, unknown>) => (item.tags as string[] | undefined) ?? [];
  if (q.has("tags")) out = out.filter((i) => tagSet("tags").every((t) => tags(i).includes(t)));
  if (q.has("tags-any")) out = out.filter((i) => tagSet("tags-any").some((t) => tags(i).includes(t)));
  if (q.has("not-tags")) out = out.filter((i) => !tagSet("not-tags").every((t) => tags(i).includes(t)));
  if (q.has("not-tags-any")) out = out.filter((i) => !tagSet("not-tags-any").some((t) => tags(i).includes(t)));
  return json(200, { [collection]: out.map((i) => pick(ctx, i)) });
}

function matches(value: unknown, wanted: string): boolean {
  if (typeof value === "boolean") return String(value) === wanted.toLowerCase();
  if (value === null) return wanted === "" || wanted === "None";
  return String(value) === wanted;
}

function pick(ctx: RequestContext, item: Record<string, unknown>): Record<string, unknown> {
  const fields = ctx.query.getAll("fields");
  if (fields.length === 0) return item;
  return Object.fromEntries(Object.entries(item).filter(([k]) => fields.includes(k)));
}

/** `{"NeutronError": {"type", "message", "detail"}}`. */
export function neutronErrorReply(err: HttpError): Reply {
  const type = err.options.type ?? defaultType(err.status);
  return json(err.status, { NeutronError: { type, message: err.message, detail: "" } });
}

function defaultType(status: number): string {
  const types: Record<number, string> = {
    400: "HTTPBadRequest",
    403: "HTTPForbidden",
    404: "HTTPNotFound",
    405: "HTTPMethodNotAllowed",
    409: "HTTPConflict",
    413: "HTTPRequestEntityTooLarge",
    415: "HTTPUnsupportedMediaType",
    500: "HTTPInternalServerError",
    503: "HTTPServiceUnavailable",
  };
  return types[status] ?? "HTTPError";
}
