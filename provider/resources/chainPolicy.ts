/**
 * `ChainPolicy`: a Contrail network-policy whose rules steer traffic between the left and right
 * networks through one or more service instances (`apply_service`, in order), attached to both
 * networks.
 *
 * - Attachment uses `POST /ref-update` ADD with an `attr.sequence` on each network (never a PUT of
 *   the network, which would replace every other policy ref); detach is ref-update DELETE, done
 *   before the policy is deleted (Contrail answers 409 while it is attached).
 * - Rules, services, networks and the sequence are updated in place; name, domain and project
 *   replace. The server-generated `rule_uuid` is kept out of the comparison.
 * - Refresh reads the attachments too: a policy detached behind the stack's back shows as drift and
 *   the next update attaches it again.
 */
import * as pulumi from "@pulumi/pulumi";
import type { ConnectionArgs } from "../config";
import { ContrailClient } from "../clients/contrail";
import type { Session } from "../clients/keystone";
import { isApiError } from "../clients/http";
import { Checker, UNKNOWN, UUID_RE, changedKeys, checkConnectionResolvable, configureFromStack, checkedUuid, stableUuidFor, sessionFor } from "./common";
import { locate, providerLoader } from "./loader";
import { resolveProject, resolveRef } from "./resolve";

export const DIRECTIONS = ["<>", ">"] as const;
export const PROTOCOLS = ["any", "tcp", "udp", "icmp"] as const;

export interface PortRange {
  /** First port, -1..65535 (-1 with end -1 means any). */
  start: number;
  /** Last port, -1..65535, not below start. */
  end: number;
}

export interface ChainRule {
  /** "<>" (both ways, the default) or ">" (left to right only). */
  direction?: "<>" | ">";
  /** any (default), tcp, udp, icmp, or an IP protocol number "0".."255". */
  protocol?: string;
  /** Source ports (default any). */
  srcPorts?: PortRange[];
  /** Destination ports (default any). */
  dstPorts?: PortRange[];
}

export interface ChainPolicyArgs {
  /** Connection settings (secret as a whole); default: stack config, then OS_* variables, then clouds.yaml. */
  connection?: pulumi.Input<ConnectionArgs>;
  /** Policy name (last part of its fq-name). */
  name: pulumi.Input<string>;
  /** Contrail domain. Default "default-domain". */
  domain?: pulumi.Input<string>;
  /** Contrail project name. Default: the project the credentials are scoped to. */
  project?: pulumi.Input<string>;
  /** Left network: Neutron id or fq-name "domain:project:name". */
  leftNetwork: pulumi.Input<string>;
  /** Right network: Neutron id or fq-name. */
  rightNetwork: pulumi.Input<string>;
  /** Service instances to apply, in order: uuids or fq-names "domain:project:name". */
  services: pulumi.Input<pulumi.Input<string>[]>;
  /** Rules between left and right. Default one rule: "<>", any protocol, any ports. */
  rules?: pulumi.Input<pulumi.Input<ChainRule>[]>;
  /** Sequence of the attachment on both networks (policies apply in (major, minor) order). Default {major: 0, minor: 0}. */
  sequence?: pulumi.Input<{ major: pulumi.Input<number>; minor: pulumi.Input<number> }>;
}

export interface ChainPolicyInputs {
  connection?: ConnectionArgs;
  name: string;
  domain: string;
  project?: string;
  leftNetwork: string;
  rightNetwork: string;
  services: string[];
  rules: Required<ChainRule>[];
  sequence: { major: number; minor: number };
  uuid: string;
}

export interface ChainPolicyOutputs extends ChainPolicyInputs {
  fqName: string[];
  leftNetworkUuid: string;
  rightNetworkUuid: string;
  leftFqName: string;
  rightFqName: string;
  serviceFqNames: string[];
  /** Network uuids the policy is attached to (as found at create, update or refresh). */
  attachedTo: string[];
  /** Server-generated rule uuids, in rule order. */
  ruleUuids: string[];
}

export const POLICY_REPLACE_KEYS = ["name", "domain", "project"] as const;
export const POLICY_UPDATE_KEYS = ["leftNetwork", "rightNetwork", "services", "rules", "sequence", "connection"] as const;

const ANY_PORTS: PortRange[] = [{ start: -1, end: -1 }];

function checkPorts(c: Checker, property: string, v: unknown): PortRange[] {
  if (v === undefined) return ANY_PORTS;
  if (v === UNKNOWN) return v as any;
  if (!Array.isArray(v) || v.length === 0) {
    c.fail(property, `${property} must be a non-empty list of {start, end} port ranges`);
    return ANY_PORTS;
  }
  v.forEach((r: any, i: number) => {
    const p = `${property}[${i}]`;
    if (!r || typeof r !== "object") return c.fail(p, `${p} must be {start, end}`);
    c.integer(`${p}.start`, r.start, -1, 65535);
    c.integer(`${p}.end`, r.end, -1, 65535);
    if (Number.isInteger(r.start) && Number.isInteger(r.end) && r.end < r.start) c.fail(p, `${p}: end (${r.end}) must not be below start (${r.start})`);
  });
  return v as PortRange[];
}

export function checkChainPolicy(olds: Partial<ChainPolicyInputs>, news: any): { inputs: ChainPolicyInputs; failures: { property: string; reason: string }[] } {
  const c = new Checker();
  c.connection(news.connection);
  c.contrailName("name", news.name);
  if (news.domain !== undefined) c.contrailName("domain", news.domain);
  if (news.project !== undefined) c.contrailName("project", news.project);
  c.networkRef("leftNetwork", news.leftNetwork);
  c.networkRef("rightNetwork", news.rightNetwork);
  if (typeof news.leftNetwork === "string" && news.leftNetwork !== UNKNOWN && news.leftNetwork === news.rightNetwork) {
    c.fail("rightNetwork", "rightNetwork must differ from leftNetwork (Contrail ignores chains whose source and destination are the same network)");
  }
  let services: string[] = news.services;
  if (services !== (UNKNOWN as any)) {
    if (!Array.isArray(services) || services.length === 0) {
      c.fail("services", "services must list at least one service instance (uuid or fq-name domain:project:name)");
      services = [];
    } else {
      services.forEach((s, i) => {
        if (s === UNKNOWN) return;
        if (typeof s !== "string" || (!UUID_RE.test(s) && (s.split(":").length !== 3 || s.split(":").some((p) => !p)))) {
          c.fail(`services[${i}]`, `services[${i}] must be a service-instance uuid or fq-name "domain:project:name"; got ${JSON.stringify(s)?.slice(0, 80)}`);
        }
      });
      const known = services.filter((s) => s !== UNKNOWN);
      if (new Set(known).size !== known.length) c.fail("services", "services lists the same instance twice");
    }
  }
  let rules: Required<ChainRule>[] = [];
  const rawRules = news.rules ?? [{}];
  if (rawRules === UNKNOWN) rules = rawRules;
  else if (!Array.isArray(rawRules) || rawRules.length === 0) c.fail("rules", "rules must be a non-empty list (omit it for one rule allowing everything)");
  else {
    rules = rawRules.map((r: any, i: number) => {
      const p = `rules[${i}]`;
      if (!r || typeof r !== "object") {
        c.fail(p, `${p} must be an object {direction, protocol, srcPorts, dstPorts}`);
        return { direction: "<>", protocol: "any", srcPorts: ANY_PORTS, dstPorts: ANY_PORTS };
      }
      c.oneOf(`${p}.direction`, r.direction, DIRECTIONS);
      const protocol = r.protocol ?? "any";
      if (protocol !== UNKNOWN && !(PROTOCOLS as readonly string[]).includes(protocol) && !(typeof protocol === "string" && /^(0|[1-9]\d{0,2})$/.test(protocol) && Number(protocol) <= 255)) {
        c.fail(`${p}.protocol`, `${p}.protocol must be any, tcp, udp, icmp or a protocol number "0".."255"; got ${JSON.stringify(protocol)}`);
      }
      const srcPorts = checkPorts(c, `${p}.srcPorts`, r.srcPorts);
      const dstPorts = checkPorts(c, `${p}.dstPorts`, r.dstPorts);
      const portsGiven = r.srcPorts !== undefined || r.dstPorts !== undefined;
      if (portsGiven && ["icmp", "any"].includes(protocol)) c.fail(p, `${p}: ports can only be given with tcp, udp or a protocol number, not "${protocol}"`);
      return { direction: r.direction ?? "<>", protocol, srcPorts, dstPorts };
    });
  }
  const seq = news.sequence ?? { major: 0, minor: 0 };
  if (seq !== UNKNOWN) {
    if (typeof seq !== "object" || seq === null) c.fail("sequence", "sequence must be {major, minor}");
    else {
      c.integer("sequence.major", seq.major, 0, 2 ** 31 - 1);
      c.integer("sequence.minor", seq.minor, 0, 2 ** 31 - 1);
    }
  }
  if (news.uuid !== undefined && !UUID_RE.test(String(news.uuid))) c.fail("uuid", "uuid must be a canonical dashed UUID");
  if (!c.failures.length) checkConnectionResolvable(c, news.connection);
  const inputs: ChainPolicyInputs = {
    ...(news.connection !== undefined ? { connection: news.connection } : {}),
    name: news.name,
    domain: news.domain ?? "default-domain",
    ...(news.project !== undefined ? { project: news.project } : {}),
    leftNetwork: news.leftNetwork,
    rightNetwork: news.rightNetwork,
    services,
    rules,
    sequence: seq,
    uuid: checkedUuid(olds, news),
  };
  return { inputs, failures: c.failures };
}

export interface PolicyPlan {
  projectFqName: string[];
  left: { uuid: string; fqName: string[] };
  right: { uuid: string; fqName: string[] };
  serviceFqNames: string[];
}

/** `network_policy_entries` for the rules (no rule_uuid: the server fills it in). */
export function policyEntries(i: ChainPolicyInputs, p: PolicyPlan): { policy_rule: Record<string, unknown>[] } {
  const ports = (rs: PortRange[]) => rs.map((r) => ({ start_port: r.start, end_port: r.end }));
  return {
    policy_rule: i.rules.map((r) => ({
      direction: r.direction,
      protocol: r.protocol,
      ethertype: "IPv4",
      src_addresses: [{ virtual_network: p.left.fqName.join(":") }],
      dst_addresses: [{ virtual_network: p.right.fqName.join(":") }],
      src_ports: ports(r.srcPorts),
      dst_ports: ports(r.dstPorts),
      action_list: { simple_action: "pass", apply_service: p.serviceFqNames },
    })),
  };
}

async function plan(session: Session, contrail: ContrailClient, i: ChainPolicyInputs): Promise<PolicyPlan> {
  const project = await resolveProject(contrail, session, i.domain, i.project);
  const left = await resolveRef(contrail, "leftNetwork", "virtual-network", i.leftNetwork);
  const right = await resolveRef(contrail, "rightNetwork", "virtual-network", i.rightNetwork);
  const serviceFqNames: string[] = [];
  for (const [n, s] of i.services.entries()) serviceFqNames.push((await resolveRef(contrail, `services[${n}]`, "service-instance", s)).fqName.join(":"));
  return { projectFqName: project.fqName, left, right, serviceFqNames };
}

async function attach(contrail: ContrailClient, policy: { uuid: string; fqName: string[] }, networkUuid: string, seq: { major: number; minor: number }): Promise<void> {
  await contrail.refUpdate({ type: "virtual-network", uuid: networkUuid, refType: "network-policy", refUuid: policy.uuid, refFqName: policy.fqName, operation: "ADD", attr: { sequence: seq, timer: null } });
}

async function detach(contrail: ContrailClient, policyUuid: string, networkUuid: string): Promise<void> {
  try {
    await contrail.refUpdate({ type: "virtual-network", uuid: networkUuid, refType: "network-policy", refUuid: policyUuid, operation: "DELETE" });
  } catch (e) {
    // The network or the policy is already gone: nothing is attached any more.
    if (!isApiError(e, 404)) throw e;
  }
}

/**
 * Which of the given networks carry the policy with a sequence, from the policy's own GET: Contrail
 * returns `virtual_network_back_refs` with each attachment's `attr`, so a refresh needs one request
 * per policy, not one per network.
 */
export function attachedFromBackRefs(policy: Record<string, unknown>, networkUuids: string[]): string[] {
  const back = ((policy.virtual_network_back_refs as any[]) ?? []).filter((r) => r?.attr?.sequence);
  return Array.from(new Set(networkUuids)).filter((n) => back.some((r) => r.uuid === n));
}

function outputsFrom(i: ChainPolicyInputs, p: PolicyPlan, ruleUuids: string[], attachedTo: string[]): ChainPolicyOutputs {
  return {
    ...i,
    fqName: [...p.projectFqName, i.name],
    leftNetworkUuid: p.left.uuid,
    rightNetworkUuid: p.right.uuid,
    leftFqName: p.left.fqName.join(":"),
    rightFqName: p.right.fqName.join(":"),
    serviceFqNames: p.serviceFqNames,
    attachedTo,
    ruleUuids,
  };
}

function ruleUuidsOf(obj: any): string[] {
  return ((obj?.network_policy_entries?.policy_rule as any[]) ?? []).map((r) => r.rule_uuid ?? "");
}

export const chainPolicyProvider: pulumi.dynamic.ResourceProvider = {
  async configure(req) {
    await configureFromStack(req);
  },

  async check(olds, news) {
    return checkChainPolicy(olds, news);
  },

  async diff(_id, olds: ChainPolicyOutputs, news: ChainPolicyInputs) {
    const replaces = changedKeys(olds, news, POLICY_REPLACE_KEYS);
    const updates = changedKeys(olds, news, POLICY_UPDATE_KEYS);
    // Drift found by refresh: not attached to both networks any more.
    const want = [olds.leftNetworkUuid, olds.rightNetworkUuid].filter(Boolean);
    const detached = Array.isArray(olds.attachedTo) && want.some((n) => !olds.attachedTo.includes(n));
    return { changes: replaces.length + updates.length > 0 || detached, replaces, deleteBeforeReplace: true };
  },

  async create(inputs: ChainPolicyInputs) {
    const session = sessionFor(inputs.connection);
    const contrail = new ContrailClient(session);
    const p = await plan(session, contrail, inputs);
    const fqName = [...p.projectFqName, inputs.name];
    const created = await contrail.create("network-policy", {
      uuid: inputs.uuid,
      parent_type: "project",
      fq_name: fqName,
      display_name: inputs.name,
      network_policy_entries: policyEntries(inputs, p),
    });
    try {
      for (const n of [p.left.uuid, p.right.uuid]) await attach(contrail, { uuid: created.uuid, fqName }, n, inputs.sequence);
    } catch (e) {
      // Nothing half-created: detach what was attached and delete the policy, then report.
      for (const n of [p.left.uuid, p.right.uuid]) await detach(contrail, created.uuid, n).catch(() => undefined);
      await contrail.delete("network-policy", created.uuid).catch(() => undefined);
      throw new Error(`ChainPolicy ${fqName.join(":")}: attaching to the networks failed, the policy was removed again: ${(e as Error).message}`);
    }
    const obj = await contrail.read("network-policy", created.uuid);
    return { id: created.uuid, outs: outputsFrom({ ...inputs, uuid: created.uuid }, p, ruleUuidsOf(obj), [p.left.uuid, p.right.uuid]) };
  },

  async read(id, props: ChainPolicyOutputs) {
    const contrail = new ContrailClient(sessionFor(props.connection));
    const obj = await contrail.read("network-policy", id);
    if (!obj) return { id: "", props: {} }; // an empty id tells the engine the resource is gone (undefined breaks the gRPC reply)
    const attachedTo = attachedFromBackRefs(obj, [props.leftNetworkUuid, props.rightNetworkUuid].filter(Boolean));
    const rules = ((obj.network_policy_entries as any)?.policy_rule ?? []) as any[];
    return {
      id,
      props: {
        ...props,
        fqName: obj.fq_name,
        attachedTo,
        ruleUuids: ruleUuidsOf(obj),
        serviceFqNames: rules[0]?.action_list?.apply_service ?? [],
        rules: rules.map((r) => ({
          direction: r.direction,
          protocol: r.protocol,
          srcPorts: (r.src_ports ?? []).map((x: any) => ({ start: x.start_port, end: x.end_port })),
          dstPorts: (r.dst_ports ?? []).map((x: any) => ({ start: x.start_port, end: x.end_port })),
        })),
      },
    };
  },

  async update(id, olds: ChainPolicyOutputs, news: ChainPolicyInputs) {
    const session = sessionFor(news.connection);
    const contrail = new ContrailClient(session);
    const p = await plan(session, contrail, news);
    const fqName = olds.fqName ?? [...p.projectFqName, news.name];
    await contrail.update("network-policy", id, { network_policy_entries: policyEntries(news, p) });
    // Detach from networks that are no longer left or right, then (re)attach both: ADD overwrites the sequence.
    for (const n of [olds.leftNetworkUuid, olds.rightNetworkUuid]) {
      if (n && n !== p.left.uuid && n !== p.right.uuid) await detach(contrail, id, n);
    }
    for (const n of [p.left.uuid, p.right.uuid]) await attach(contrail, { uuid: id, fqName }, n, news.sequence);
    const obj = await contrail.read("network-policy", id);
    return { outs: outputsFrom({ ...news, uuid: id }, p, ruleUuidsOf(obj), [p.left.uuid, p.right.uuid]) };
  },

  async delete(id, props: ChainPolicyOutputs) {
    const contrail = new ContrailClient(sessionFor(props.connection));
    for (const n of Array.from(new Set([props.leftNetworkUuid, props.rightNetworkUuid, ...(props.attachedTo ?? [])].filter(Boolean)))) {
      await detach(contrail, id, n);
    }
    await contrail.delete("network-policy", id);
  },
};

/** A network policy that chains the left and right networks through service instances, attached to both. */
export class ChainPolicy extends pulumi.dynamic.Resource {
  declare readonly name: pulumi.Output<string>;
  declare readonly uuid: pulumi.Output<string>;
  declare readonly fqName: pulumi.Output<string[]>;
  declare readonly attachedTo: pulumi.Output<string[]>;
  declare readonly ruleUuids: pulumi.Output<string[]>;
  declare readonly serviceFqNames: pulumi.Output<string[]>;

  constructor(name: string, args: ChainPolicyArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      providerLoader(locate(__filename, "chainPolicyProvider")),
      name,
      {
        ...args,
        connection: args.connection ? pulumi.secret(args.connection) : undefined,
        uuid: undefined,
        stableUuid: stableUuidFor("ChainPolicy", name),
        fqName: undefined,
        leftNetworkUuid: undefined,
        rightNetworkUuid: undefined,
        leftFqName: undefined,
        rightFqName: undefined,
        serviceFqNames: undefined,
        attachedTo: undefined,
        ruleUuids: undefined,
      },
      opts,
      "dockwall",
      "ChainPolicy",
    );
  }
}
