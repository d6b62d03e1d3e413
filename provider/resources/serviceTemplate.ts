/**
 * `ServiceTemplate`: a Contrail service-template (parent: domain) for the dockwall VNF.
 *
 * OpenContrail 2.x v1 template by default: no `version` field, `ordered_interfaces: true`,
 * `service_virtualization_type: virtual-machine` (Nova + nova-docker boots it), availability zone
 * enabled, interfaces left, right, management in that order (the dockwall image maps roles by NIC
 * order). svc-monitor reads a template only when it launches VMs, so **every change replaces it**
 * (delete before replace: the fq-name stays the same, and instances using it are replaced first).
 */
import * as pulumi from "@pulumi/pulumi";
import type { ConnectionArgs } from "../config";
import { ContrailClient, ContrailObject } from "../clients/contrail";
import { Checker, UNKNOWN, changedKeys, checkConnectionResolvable, configureFromStack, checkedUuid, stableUuidFor, sessionFor, UUID_RE } from "./common";
import { locate, providerLoader } from "./loader";

export const SERVICE_MODES = ["transparent", "in-network", "in-network-nat"] as const;
export const SERVICE_TYPES = ["firewall", "analyzer", "source-nat", "loadbalancer"] as const;
export const INTERFACE_TYPES = ["left", "right", "management", "other"] as const;
export const CONTRAIL_RELEASES = ["2.x", "tf"] as const;

export interface ServiceTemplateArgs {
  /** Connection settings (secret as a whole); default: stack config, then OS_* variables, then clouds.yaml. */
  connection?: pulumi.Input<ConnectionArgs>;
  /** Template name (last part of its fq-name). No ":" and no XML-illegal characters. */
  name: pulumi.Input<string>;
  /** Contrail domain. Default "default-domain". */
  domain?: pulumi.Input<string>;
  /** Glance image name svc-monitor boots (the `DockwallImage` name, `repo:tag`). */
  imageName: pulumi.Input<string>;
  /** transparent | in-network | in-network-nat. Default in-network. */
  serviceMode?: pulumi.Input<(typeof SERVICE_MODES)[number]>;
  /** firewall | analyzer | source-nat | loadbalancer. Default firewall. */
  serviceType?: pulumi.Input<(typeof SERVICE_TYPES)[number]>;
  /** Interface types in NIC order. Default ["left", "right", "management"] (the seed's order). */
  interfaces?: pulumi.Input<pulumi.Input<(typeof INTERFACE_TYPES)[number]>[]>;
  /** Nova flavor name. If unset, svc-monitor picks a flavor with 4096 MB RAM. */
  flavor?: pulumi.Input<string>;
  /** Pass the instance's availability zone to Nova. Default true (the docker aggregate's zone). */
  availabilityZoneEnable?: pulumi.Input<boolean>;
  /** "2.x" (OpenContrail 2.x: no `version` field, the default) or "tf" (Tungsten Fabric / R3+: sends `version: 1`). */
  contrailRelease?: pulumi.Input<(typeof CONTRAIL_RELEASES)[number]>;
}

export interface ServiceTemplateInputs {
  connection?: ConnectionArgs;
  name: string;
  domain: string;
  imageName: string;
  serviceMode: string;
  serviceType: string;
  interfaces: string[];
  flavor?: string;
  availabilityZoneEnable: boolean;
  contrailRelease: string;
  /** Client-chosen Contrail uuid, fixed by check so a retried create adopts its own object. */
  uuid: string;
}

export interface ServiceTemplateOutputs extends ServiceTemplateInputs {
  fqName: string[];
}

/** Inputs that define the template; any change replaces it. */
export const TEMPLATE_KEYS = ["name", "domain", "imageName", "serviceMode", "serviceType", "interfaces", "flavor", "availabilityZoneEnable", "contrailRelease"] as const;

/** The `service_template_properties` sent to Contrail. */
export function templateProperties(i: ServiceTemplateInputs): Record<string, unknown> {
  const props: Record<string, unknown> = {
    service_mode: i.serviceMode,
    service_type: i.serviceType,
    image_name: i.imageName,
    service_scaling: false,
    availability_zone_enable: i.availabilityZoneEnable,
    ordered_interfaces: true,
    service_virtualization_type: "virtual-machine",
    interface_type: i.interfaces.map((t) => ({ service_interface_type: t, shared_ip: false, static_route_enable: false })),
  };
  if (i.flavor) props.flavor = i.flavor;
  if (i.contrailRelease === "tf") props.version = 1;
  return props;
}

export function templateBody(i: ServiceTemplateInputs): Record<string, unknown> & { fq_name: string[] } {
  return {
    uuid: i.uuid,
    parent_type: "domain",
    fq_name: [i.domain, i.name],
    display_name: i.name,
    service_template_properties: templateProperties(i),
  };
}

export function checkServiceTemplate(olds: Partial<ServiceTemplateInputs>, news: any): { inputs: ServiceTemplateInputs; failures: { property: string; reason: string }[] } {
  const c = new Checker();
  c.connection(news.connection);
  c.contrailName("name", news.name);
  if (news.domain !== undefined) c.contrailName("domain", news.domain);
  c.requiredString("imageName", news.imageName);
  c.oneOf("serviceMode", news.serviceMode, SERVICE_MODES);
  c.oneOf("serviceType", news.serviceType, SERVICE_TYPES);
  c.optionalString("flavor", news.flavor);
  c.boolean("availabilityZoneEnable", news.availabilityZoneEnable);
  c.oneOf("contrailRelease", news.contrailRelease, CONTRAIL_RELEASES);
  const interfaces = news.interfaces ?? ["left", "right", "management"];
  if (interfaces !== UNKNOWN) {
    if (!Array.isArray(interfaces) || interfaces.length === 0) c.fail("interfaces", "interfaces must be a non-empty list of left, right, management, other");
    else {
      interfaces.forEach((t: unknown, i: number) => c.oneOf(`interfaces[${i}]`, t, INTERFACE_TYPES));
      for (const role of ["left", "right", "management"]) {
        if (interfaces.filter((t: unknown) => t === role).length > 1) c.fail("interfaces", `interfaces lists "${role}" more than once`);
      }
      if (!interfaces.includes("left") && !interfaces.includes(UNKNOWN)) c.fail("interfaces", 'interfaces must include "left" (a firewall chain needs left and right)');
      if (!interfaces.includes("right") && !interfaces.includes(UNKNOWN)) c.fail("interfaces", 'interfaces must include "right" (a firewall chain needs left and right)');
    }
  }
  if (news.uuid !== undefined && !UUID_RE.test(String(news.uuid))) c.fail("uuid", "uuid must be a canonical dashed UUID");
  if (!c.failures.length) checkConnectionResolvable(c, news.connection);
  const inputs: ServiceTemplateInputs = {
    ...(news.connection !== undefined ? { connection: news.connection } : {}),
    name: news.name,
    domain: news.domain ?? "default-domain",
    imageName: news.imageName,
    serviceMode: news.serviceMode ?? "in-network",
    serviceType: news.serviceType ?? "firewall",
    interfaces,
    ...(news.flavor ? { flavor: news.flavor } : {}),
    availabilityZoneEnable: news.availabilityZoneEnable ?? true,
    contrailRelease: news.contrailRelease ?? "2.x",
    uuid: checkedUuid(olds, news),
  };
  return { inputs, failures: c.failures };
}

function outputsFrom(i: ServiceTemplateInputs): ServiceTemplateOutputs {
  return { ...i, fqName: [i.domain, i.name] };
}

export const serviceTemplateProvider: pulumi.dynamic.ResourceProvider = {
  async configure(req) {
    await configureFromStack(req);
  },

  async check(olds, news) {
    return checkServiceTemplate(olds, news);
  },

  async diff(_id, olds: ServiceTemplateOutputs, news: ServiceTemplateInputs) {
    const replaces = changedKeys(olds, news, TEMPLATE_KEYS);
    // A connection change is not a change of the object: the next call just uses it.
    const connectionChanged = changedKeys(olds, news, ["connection"]).length > 0;
    return { changes: replaces.length > 0 || connectionChanged, replaces, deleteBeforeReplace: true };
  },

  async create(inputs: ServiceTemplateInputs) {
    const contrail = new ContrailClient(sessionFor(inputs.connection));
    const created = await contrail.create("service-template", templateBody(inputs));
    return { id: created.uuid, outs: outputsFrom({ ...inputs, uuid: created.uuid }) };
  },

  async read(id, props: ServiceTemplateOutputs) {
    const contrail = new ContrailClient(sessionFor(props.connection));
    const st = await contrail.read("service-template", id);
    if (!st) return { id: "", props: {} }; // an empty id tells the engine the resource is gone (undefined breaks the gRPC reply)
    return { id, props: { ...props, ...fromServer(st), uuid: id } };
  },

  async update(_id, _olds: ServiceTemplateOutputs, news: ServiceTemplateInputs) {
    // Only a connection change reaches update: every template property replaces.
    return { outs: outputsFrom(news) };
  },

  async delete(id, props: ServiceTemplateOutputs) {
    const contrail = new ContrailClient(sessionFor(props.connection));
    await contrail.delete("service-template", id);
  },
};

/** Map a server object back to input names (for refresh). */
export function fromServer(st: ContrailObject): Partial<ServiceTemplateOutputs> {
  const p: any = st.service_template_properties ?? {};
  return {
    name: st.fq_name[st.fq_name.length - 1],
    domain: st.fq_name[0],
    fqName: st.fq_name,
    imageName: p.image_name,
    serviceMode: p.service_mode,
    serviceType: p.service_type,
    interfaces: (p.interface_type ?? []).map((t: any) => t.service_interface_type),
    ...(p.flavor ? { flavor: p.flavor } : {}),
    availabilityZoneEnable: !!p.availability_zone_enable,
    contrailRelease: p.version !== undefined ? "tf" : "2.x",
  };
}

/** A Contrail service template for the dockwall VNF. */
export class ServiceTemplate extends pulumi.dynamic.Resource {
  declare readonly name: pulumi.Output<string>;
  declare readonly uuid: pulumi.Output<string>;
  declare readonly fqName: pulumi.Output<string[]>;
  declare readonly imageName: pulumi.Output<string>;
  declare readonly interfaces: pulumi.Output<string[]>;

  constructor(name: string, args: ServiceTemplateArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      providerLoader(locate(__filename, "serviceTemplateProvider")),
      name,
      { ...args, connection: args.connection ? pulumi.secret(args.connection) : undefined, uuid: undefined, fqName: undefined, stableUuid: stableUuidFor("ServiceTemplate", name) },
      opts,
      "dockwall",
      "ServiceTemplate",
    );
  }
}
