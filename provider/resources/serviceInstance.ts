/**
 * `ServiceInstance`: a Contrail service-instance (parent: project) of a `ServiceTemplate`, whose
 * service VM svc-monitor boots through Nova (nova-docker) into the docker availability zone.
 *
 * - `interface_list` follows the template's interface order exactly, with the networks' fq-names
 *   resolved from their Neutron ids by `id-to-fqname`; the legacy left/right/management fields are
 *   sent too (2.x needs them); `scale_out` is always sent (without it 2.x launches nothing).
 * - Create waits (bounded) until every service VM exists and is ACTIVE; a VM in ERROR fails the
 *   create with Nova's fault message, and the instance is deleted again (nothing half-created).
 * - `maxInstances` is updated in place; every other change replaces (svc-monitor keeps the old
 *   ports of a VM-based instance when its networks change).
 * - Delete waits until svc-monitor has removed the service VMs, so the template and the networks
 *   can go next.
 */
import * as pulumi from "@pulumi/pulumi";
import type { ConnectionArgs } from "../config";
import { ContrailClient, ContrailObject } from "../clients/contrail";
import { NovaClient } from "../clients/nova";
import type { Session } from "../clients/keystone";
import { Checker, UNKNOWN, UUID_RE, changedKeys, checkConnectionResolvable, configureFromStack, log, checkedUuid, stableUuidFor, sessionFor, waitFor } from "./common";
import { locate, providerLoader } from "./loader";
import { resolveProject, resolveRef } from "./resolve";

export interface ServiceInstanceArgs {
  /** Connection settings (secret as a whole); default: stack config, then OS_* variables, then clouds.yaml. */
  connection?: pulumi.Input<ConnectionArgs>;
  /** Instance name (last part of its fq-name). */
  name: pulumi.Input<string>;
  /** Contrail domain. Default "default-domain". */
  domain?: pulumi.Input<string>;
  /** Contrail project name. Default: the project the credentials are scoped to. */
  project?: pulumi.Input<string>;
  /** The template: its uuid (e.g. `ServiceTemplate.uuid`) or fq-name "domain:name". */
  serviceTemplate: pulumi.Input<string>;
  /** Left network: Neutron network id (= virtual-network uuid) or fq-name "domain:project:name". */
  leftNetwork: pulumi.Input<string>;
  /** Right network, as leftNetwork. */
  rightNetwork: pulumi.Input<string>;
  /** Management network, as leftNetwork. Required when the template has a management interface. */
  managementNetwork?: pulumi.Input<string>;
  /** Availability zone the service VMs boot in ("zone" or "zone:host"). Default "docker". */
  availabilityZone?: pulumi.Input<string>;
  /** Number of service VMs (`scale_out.max_instances`). Default 1. Updated in place. */
  maxInstances?: pulumi.Input<number>;
  /** How long create, update and delete wait for svc-monitor, in seconds. Default 300. */
  waitTimeoutSeconds?: pulumi.Input<number>;
}

export interface ServiceInstanceInputs {
  connection?: ConnectionArgs;
  name: string;
  domain: string;
  project?: string;
  serviceTemplate: string;
  leftNetwork: string;
  rightNetwork: string;
  managementNetwork?: string;
  availabilityZone: string;
  maxInstances: number;
  waitTimeoutSeconds: number;
  uuid: string;
}

export interface ServiceInstanceOutputs extends ServiceInstanceInputs {
  fqName: string[];
  templateUuid: string;
  templateFqName: string[];
  /** fq-name strings in template interface order. */
  interfaceList: string[];
  /** Nova server ids of the service VMs. */
  virtualMachineIds: string[];
}

export const INSTANCE_REPLACE_KEYS = ["name", "domain", "project", "serviceTemplate", "leftNetwork", "rightNetwork", "managementNetwork", "availabilityZone"] as const;
export const INSTANCE_UPDATE_KEYS = ["maxInstances", "waitTimeoutSeconds", "connection"] as const;

export function checkServiceInstance(olds: Partial<ServiceInstanceInputs>, news: any): { inputs: ServiceInstanceInputs; failures: { property: string; reason: string }[] } {
  const c = new Checker();
  c.connection(news.connection);
  c.contrailName("name", news.name);
  if (news.domain !== undefined) c.contrailName("domain", news.domain);
  if (news.project !== undefined) c.contrailName("project", news.project);
  if (c.requiredString("serviceTemplate", news.serviceTemplate, 1024)) {
    const s: string = news.serviceTemplate;
    if (!UUID_RE.test(s) && s.split(":").length !== 2) c.fail("serviceTemplate", `serviceTemplate must be a template uuid or fq-name "domain:name"; got "${s.slice(0, 80)}"`);
  }
  c.networkRef("leftNetwork", news.leftNetwork);
  c.networkRef("rightNetwork", news.rightNetwork);
  if (news.managementNetwork !== undefined) c.networkRef("managementNetwork", news.managementNetwork);
  const nets = [news.leftNetwork, news.rightNetwork, news.managementNetwork].filter((n) => typeof n === "string" && n !== UNKNOWN);
  if (new Set(nets).size !== nets.length) c.fail("rightNetwork", "leftNetwork, rightNetwork and managementNetwork must be different networks (the chain's left and right must differ)");
  if (news.availabilityZone !== undefined && news.availabilityZone !== UNKNOWN) {
    if (c.requiredString("availabilityZone", news.availabilityZone)) {
      const parts = String(news.availabilityZone).split(":");
      if (parts.length > 2 || parts.some((p) => !p)) c.fail("availabilityZone", `availabilityZone must be "zone" or "zone:host"; got "${news.availabilityZone}"`);
    }
  }
  c.integer("maxInstances", news.maxInstances, 1, 64);
  c.integer("waitTimeoutSeconds", news.waitTimeoutSeconds, 1, 3600);
  if (news.uuid !== undefined && !UUID_RE.test(String(news.uuid))) c.fail("uuid", "uuid must be a canonical dashed UUID");
  if (!c.failures.length) checkConnectionResolvable(c, news.connection);
  const inputs: ServiceInstanceInputs = {
    ...(news.connection !== undefined ? { connection: news.connection } : {}),
    name: news.name,
    domain: news.domain ?? "default-domain",
    ...(news.project !== undefined ? { project: news.project } : {}),
    serviceTemplate: news.serviceTemplate,
    leftNetwork: news.leftNetwork,
    rightNetwork: news.rightNetwork,
    ...(news.managementNetwork !== undefined ? { managementNetwork: news.managementNetwork } : {}),
    availabilityZone: news.availabilityZone ?? "docker",
    maxInstances: news.maxInstances ?? 1,
    waitTimeoutSeconds: news.waitTimeoutSeconds ?? 300,
    uuid: checkedUuid(olds, news),
  };
  return { inputs, failures: c.failures };
}

export interface InstancePlan {
  projectFqName: string[];
  templateUuid: string;
  templateFqName: string[];
  interfaceTypes: string[];
  networks: { left: string; right: string; management?: string };
}

/** The service-instance POST body for a resolved plan. */
export function instanceBody(i: ServiceInstanceInputs, plan: InstancePlan): Record<string, unknown> & { fq_name: string[] } {
  const byRole: Record<string, string | undefined> = plan.networks;
  const interfaceList = plan.interfaceTypes.map((t) => ({ virtual_network: byRole[t] ?? "" }));
  return {
    uuid: i.uuid,
    parent_type: "project",
    fq_name: [...plan.projectFqName, i.name],
    display_name: i.name,
    service_template_refs: [{ to: plan.templateFqName, uuid: plan.templateUuid }],
    service_instance_properties: instanceProperties(i, plan, interfaceList),
  };
}

export function instanceProperties(i: ServiceInstanceInputs, plan: InstancePlan, interfaceList = plan.interfaceTypes.map((t) => ({ virtual_network: (plan.networks as Record<string, string | undefined>)[t] ?? "" }))): Record<string, unknown> {
  return {
    left_virtual_network: plan.networks.left,
    right_virtual_network: plan.networks.right,
    ...(plan.networks.management ? { management_virtual_network: plan.networks.management } : {}),
    interface_list: interfaceList,
    scale_out: { max_instances: i.maxInstances, auto_scale: false },
    availability_zone: i.availabilityZone,
    auto_policy: false,
  };
}

async function plan(session: Session, contrail: ContrailClient, i: ServiceInstanceInputs): Promise<InstancePlan> {
  const project = await resolveProject(contrail, session, i.domain, i.project);
  const template = await resolveRef(contrail, "serviceTemplate", "service-template", i.serviceTemplate);
  const st = await contrail.read("service-template", template.uuid);
  if (!st) throw new Error(`serviceTemplate: template ${template.fqName.join(":")} disappeared`);
  const interfaceTypes: string[] = ((st.service_template_properties as any)?.interface_type ?? []).map((t: any) => t.service_interface_type);
  const left = (await resolveRef(contrail, "leftNetwork", "virtual-network", i.leftNetwork)).fqName.join(":");
  const right = (await resolveRef(contrail, "rightNetwork", "virtual-network", i.rightNetwork)).fqName.join(":");
  const management = i.managementNetwork ? (await resolveRef(contrail, "managementNetwork", "virtual-network", i.managementNetwork)).fqName.join(":") : undefined;
  for (const t of interfaceTypes) {
    if (t === "management" && !management) throw new Error(`managementNetwork: the template ${template.fqName.join(":")} has a management interface, so managementNetwork is required`);
    if (t === "other") throw new Error(`serviceTemplate: the template ${template.fqName.join(":")} has an "other" interface, which ServiceInstance cannot fill`);
  }
  return { projectFqName: project.fqName, templateUuid: template.uuid, templateFqName: template.fqName, interfaceTypes, networks: { left, right, management } };
}

function vmRefs(si: ContrailObject | undefined): string[] {
  return ((si?.virtual_machine_back_refs as any[]) ?? []).map((r) => r.uuid ?? r.to?.[0]).filter(Boolean);
}

/** Wait until the instance has exactly `count` service VMs, all ACTIVE in Nova. */
async function waitForVms(session: Session, contrail: ContrailClient, uuid: string, count: number, timeoutMs: number, what: string): Promise<string[]> {
  const nova = new NovaClient(session);
  return waitFor(what, timeoutMs, async () => {
    const si = await contrail.read("service-instance", uuid);
    if (!si) throw new Error(`service instance ${uuid} disappeared while waiting for its service VMs`);
    const vms = vmRefs(si);
    if (vms.length !== count) return undefined;
    for (const id of vms) {
      const server = await nova.getServer(id);
      if (!server) return undefined;
      if (server.status === "ERROR") throw new Error(`service VM ${id} of ${si.fq_name.join(":")} is in ERROR: ${server.fault?.message ?? "no fault message"}`);
      if (server.status !== "ACTIVE") return undefined;
    }
    return vms;
  }, 1000);
}

/** Wait until every listed service VM is gone from Nova and Contrail. */
async function waitForVmsGone(session: Session, contrail: ContrailClient, vms: string[], timeoutMs: number, what: string): Promise<void> {
  const nova = new NovaClient(session);
  await waitFor(what, timeoutMs, async () => {
    for (const id of vms) {
      if (await nova.getServer(id)) return undefined;
      if (await contrail.read("virtual-machine", id)) return undefined;
    }
    return true;
  }, 500);
}

function outputsFrom(i: ServiceInstanceInputs, p: InstancePlan, vms: string[]): ServiceInstanceOutputs {
  const byRole: Record<string, string | undefined> = p.networks;
  return {
    ...i,
    fqName: [...p.projectFqName, i.name],
    templateUuid: p.templateUuid,
    templateFqName: p.templateFqName,
    interfaceList: p.interfaceTypes.map((t) => byRole[t] ?? ""),
    virtualMachineIds: vms,
  };
}

export const serviceInstanceProvider: pulumi.dynamic.ResourceProvider = {
  async configure(req) {
    await configureFromStack(req);
  },

  async check(olds, news) {
    return checkServiceInstance(olds, news);
  },

  async diff(_id, olds: ServiceInstanceOutputs, news: ServiceInstanceInputs) {
    const replaces = changedKeys(olds, news, INSTANCE_REPLACE_KEYS);
    const updates = changedKeys(olds, news, INSTANCE_UPDATE_KEYS);
    // Drift found by refresh: fewer or more VMs than asked for is repaired by an update.
    const drift = Array.isArray(olds.virtualMachineIds) && olds.virtualMachineIds.length !== news.maxInstances && news.maxInstances === olds.maxInstances;
    return { changes: replaces.length + updates.length > 0 || drift, replaces, deleteBeforeReplace: true };
  },

  async create(inputs: ServiceInstanceInputs) {
    const session = sessionFor(inputs.connection);
    const contrail = new ContrailClient(session);
    const p = await plan(session, contrail, inputs);
    const created = await contrail.create("service-instance", instanceBody(inputs, p));
    const fq = created.fq_name.join(":");
    log(`service instance ${fq} created; waiting for svc-monitor to boot ${inputs.maxInstances} service VM(s)`);
    let vms: string[];
    try {
      vms = await waitForVms(session, contrail, created.uuid, inputs.maxInstances, inputs.waitTimeoutSeconds * 1000, `the service VM(s) of ${fq} to become ACTIVE`);
    } catch (e) {
      // Nothing half-created: take the instance away again, then report why.
      log(`service instance ${fq} did not come up; deleting it again`);
      const si = await contrail.read("service-instance", created.uuid).catch(() => undefined);
      await contrail.delete("service-instance", created.uuid).catch(() => undefined);
      await waitForVmsGone(session, contrail, vmRefs(si), inputs.waitTimeoutSeconds * 1000, `the service VMs of ${fq} to go`).catch(() => undefined);
      throw new Error(`ServiceInstance ${fq}: ${(e as Error).message}`);
    }
    return { id: created.uuid, outs: outputsFrom({ ...inputs, uuid: created.uuid }, p, vms) };
  },

  async read(id, props: ServiceInstanceOutputs) {
    const contrail = new ContrailClient(sessionFor(props.connection));
    const si = await contrail.read("service-instance", id);
    if (!si) return { id: "", props: {} }; // an empty id tells the engine the resource is gone (undefined breaks the gRPC reply)
    const sp: any = si.service_instance_properties ?? {};
    return {
      id,
      props: {
        ...props,
        fqName: si.fq_name,
        interfaceList: (sp.interface_list ?? []).map((x: any) => x.virtual_network),
        availabilityZone: sp.availability_zone ?? props.availabilityZone,
        maxInstances: sp.scale_out?.max_instances ?? props.maxInstances,
        virtualMachineIds: vmRefs(si),
      },
    };
  },

  async update(id, olds: ServiceInstanceOutputs, news: ServiceInstanceInputs) {
    const session = sessionFor(news.connection);
    const contrail = new ContrailClient(session);
    const p = await plan(session, contrail, news);
    // PUT replaces the whole property: send all of it with the new scale_out.
    await contrail.update("service-instance", id, { service_instance_properties: instanceProperties(news, p) });
    const vms = await waitForVms(session, contrail, id, news.maxInstances, news.waitTimeoutSeconds * 1000, `${olds.fqName?.join(":") ?? id} to have ${news.maxInstances} ACTIVE service VM(s)`);
    return { outs: outputsFrom({ ...news, uuid: id }, p, vms) };
  },

  async delete(id, props: ServiceInstanceOutputs) {
    const session = sessionFor(props.connection);
    const contrail = new ContrailClient(session);
    const si = await contrail.read("service-instance", id);
    const vms = Array.from(new Set([...vmRefs(si), ...(props.virtualMachineIds ?? [])]));
    await contrail.delete("service-instance", id);
    await waitForVmsGone(session, contrail, vms, (props.waitTimeoutSeconds ?? 300) * 1000, `svc-monitor to remove the service VMs of ${props.fqName?.join(":") ?? id}`);
  },
};

/** A Contrail service instance: svc-monitor boots the dockwall container through Nova. */
export class ServiceInstance extends pulumi.dynamic.Resource {
  declare readonly name: pulumi.Output<string>;
  declare readonly uuid: pulumi.Output<string>;
  declare readonly fqName: pulumi.Output<string[]>;
  declare readonly templateUuid: pulumi.Output<string>;
  declare readonly interfaceList: pulumi.Output<string[]>;
  declare readonly virtualMachineIds: pulumi.Output<string[]>;
  declare readonly maxInstances: pulumi.Output<number>;

  constructor(name: string, args: ServiceInstanceArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      providerLoader(locate(__filename, "serviceInstanceProvider")),
      name,
      {
        ...args,
        connection: args.connection ? pulumi.secret(args.connection) : undefined,
        uuid: undefined,
        stableUuid: stableUuidFor("ServiceInstance", name),
        fqName: undefined,
        templateUuid: undefined,
        templateFqName: undefined,
        interfaceList: undefined,
        virtualMachineIds: undefined,
      },
      opts,
      "dockwall",
      "ServiceInstance",
    );
  }
}
