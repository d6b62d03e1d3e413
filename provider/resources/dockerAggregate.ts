/**
 * `DockerAggregate`: the Nova host aggregate (with its availability zone, `docker` by default) that
 * dedicates compute hosts to nova-docker, as the seed's `nova aggregate-create docker docker` and
 * `nova aggregate-add-host docker computedocker` do.
 *
 * Hosts are nova-compute service host names; `check` validates their form and `create`/`update`
 * validate them against `os-services` (and the zone they are already in) before changing
 * anything. Hosts and metadata are updated in place (remove first, then add); name and zone are
 * updated with PUT. Delete removes every host first (Nova refuses to delete a non-empty aggregate).
 *
 * Host preparation over SSH (making each host a nova-docker host, letting Glance accept docker)
 * plugs in through `provider/host` (`prepareHosts`); see that module.
 */
import * as pulumi from "@pulumi/pulumi";
import type { ConnectionArgs } from "../config";
import { Aggregate, ComputeService, NovaClient } from "../clients/nova";
import { isApiError } from "../clients/http";
import { Checker, UNKNOWN, changedKeys, checkConnectionResolvable, configureFromStack, log, sessionFor } from "./common";

export interface DockerAggregateArgs {
  /** Connection settings (secret as a whole); default: stack config, then OS_* variables, then clouds.yaml. */
  connection?: pulumi.Input<ConnectionArgs>;
  /** Aggregate name. Default "docker". */
  name?: pulumi.Input<string>;
  /** Availability zone of the aggregate. Default "docker". No ":"; not "nova" (the default zone). */
  availabilityZone?: pulumi.Input<string>;
  /** nova-compute service host names (`os-services[].host`) dedicated to nova-docker. */
  hosts: pulumi.Input<pulumi.Input<string>[]>;
  /** Extra aggregate metadata (string values, at most 255 bytes). */
  metadata?: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

export interface DockerAggregateInputs {
  connection?: ConnectionArgs;
  name: string;
  availabilityZone: string;
  hosts: string[];
  metadata: Record<string, string>;
}

export interface DockerAggregateOutputs extends DockerAggregateInputs {
  aggregateId: number;
  uuid?: string;
}

export function checkDockerAggregate(_olds: unknown, news: any): { inputs: DockerAggregateInputs; failures: { property: string; reason: string }[] } {
  const c = new Checker();
  c.connection(news.connection);
  const name = news.name ?? "docker";
  c.requiredString("name", name);
  const az = news.availabilityZone ?? "docker";
  if (c.requiredString("availabilityZone", az)) {
    if (az.includes(":")) c.fail("availabilityZone", `availabilityZone must not contain ":" (Nova reads "zone:host"); got "${az}"`);
    if (az === "nova") c.fail("availabilityZone", 'availabilityZone must not be "nova": that is the default zone every other host is in');
  }
  const hosts = news.hosts;
  if (hosts !== UNKNOWN) {
    if (!Array.isArray(hosts) || hosts.length === 0) c.fail("hosts", "hosts must list at least one nova-compute service host name");
    else {
      hosts.forEach((h: unknown, i: number) => {
        if (h === UNKNOWN) return;
        if (typeof h !== "string" || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/.test(h)) {
          c.fail(`hosts[${i}]`, `hosts[${i}] must be a nova-compute service host name (letters, digits, ".", "_", "-"); got ${JSON.stringify(h)?.slice(0, 80)}`);
        }
      });
      const known = hosts.filter((h: unknown) => h !== UNKNOWN);
      const dup = known.find((h: string, i: number) => known.indexOf(h) !== i);
      if (dup) c.fail("hosts", `hosts lists "${dup}" more than once`);
    }
  }
  const metadata = news.metadata ?? {};
  c.stringMap("metadata", metadata);
  if (metadata && typeof metadata === "object" && "availability_zone" in metadata) {
    c.fail("metadata.availability_zone", "metadata must not set availability_zone: use the availabilityZone input");
  }
  if (!c.failures.length) checkConnectionResolvable(c, news.connection);
  return {
    inputs: {
      ...(news.connection !== undefined ? { connection: news.connection } : {}),
      name,
      availabilityZone: az,
      hosts: Array.isArray(hosts) ? hosts : hosts,
      metadata,
    },
    failures: c.failures,
  };
}

/** Metadata without the key Nova adds for the zone. */
function userMetadata(a: Aggregate): Record<string, string> {
  const m = { ...a.metadata };
  delete m.availability_zone;
  return m;
}

/** The `set_metadata` body that turns `from` into `to` (null deletes a key). */
export function metadataPatch(from: Record<string, string>, to: Record<string, string>): Record<string, string | null> {
  const patch: Record<string, string | null> = {};
  for (const k of Object.keys(from)) if (!(k in to)) patch[k] = null;
  for (const [k, v] of Object.entries(to)) if (from[k] !== v) patch[k] = v;
  return patch;
}

/** Check every host is a known nova-compute service not already in another zone. */
export async function validateHosts(nova: NovaClient, hosts: string[], zone: string, currentAggregateHosts: string[] = []): Promise<ComputeService[]> {
  const services = await nova.listServices({ binary: "nova-compute" });
  const problems: string[] = [];
  const found: ComputeService[] = [];
  for (const h of hosts) {
    const svc = services.find((s) => s.host === h);
    if (!svc) {
      problems.push(`"${h}" is not a nova-compute service host (known: ${services.map((s) => s.host).join(", ") || "none"})`);
      continue;
    }
    if (!currentAggregateHosts.includes(h) && svc.zone && svc.zone !== "nova" && svc.zone !== zone && svc.zone !== "internal") {
      problems.push(`"${h}" is already in availability zone "${svc.zone}"; a host can be in only one zone`);
    }
    found.push(svc);
  }
  if (problems.length) throw new Error(`hosts: ${problems.join("; ")}`);
  return found;
}

function outputsFrom(i: DockerAggregateInputs, a: Aggregate): DockerAggregateOutputs {
  return { ...i, aggregateId: a.id, ...(a.uuid ? { uuid: a.uuid } : {}) };
}

export const dockerAggregateProvider: pulumi.dynamic.ResourceProvider = {
  async configure(req) {
    await configureFromStack(req);
  },

  async check(olds, news) {
    return checkDockerAggregate(olds, news);
  },

  async diff(_id, olds: DockerAggregateOutputs, news: DockerAggregateInputs) {
    const changed = changedKeys(olds, news, ["name", "availabilityZone", "metadata", "connection"]);
    const hostsChanged = containsUnknownHosts(news.hosts) || [...(olds.hosts ?? [])].sort().join(",") !== [...(news.hosts ?? [])].sort().join(",");
    return { changes: changed.length > 0 || hostsChanged, replaces: [] };
  },

  async create(inputs: DockerAggregateInputs) {
    const nova = new NovaClient(sessionFor(inputs.connection));
    await validateHosts(nova, inputs.hosts, inputs.availabilityZone);
    let agg: Aggregate;
    try {
      agg = await nova.createAggregate(inputs.name, inputs.availabilityZone);
    } catch (e) {
      // A create that reached Nova but lost its answer: adopt the empty aggregate it made.
      if (!isApiError(e) || e.status !== 0) throw e;
      const again = (await nova.listAggregates()).find((a) => a.name === inputs.name && a.availability_zone === inputs.availabilityZone && a.hosts.length === 0);
      if (!again) throw e;
      log(`aggregate ${inputs.name}: the create's answer was lost; adopting aggregate ${again.id} it made`);
      agg = again;
    }
    try {
      for (const h of inputs.hosts) agg = await nova.addHost(agg.id, h);
      if (Object.keys(inputs.metadata).length) agg = await nova.setMetadata(agg.id, inputs.metadata);
    } catch (e) {
      // Nothing half-created: empty and delete the aggregate again.
      const current = (await nova.getAggregate(agg.id).catch(() => undefined)) ?? agg;
      for (const h of current.hosts) await nova.removeHost(agg.id, h).catch(() => undefined);
      await nova.deleteAggregate(agg.id).catch(() => undefined);
      throw new Error(`DockerAggregate ${inputs.name}: ${(e as Error).message} (the aggregate was removed again)`);
    }
    return { id: String(agg.id), outs: outputsFrom(inputs, agg) };
  },

  async read(id, props: DockerAggregateOutputs) {
    const nova = new NovaClient(sessionFor(props.connection));
    const agg = await nova.getAggregate(Number(id));
    if (!agg) return { id: "", props: {} }; // an empty id tells the engine the resource is gone (undefined breaks the gRPC reply)
    return {
      id,
      props: { ...props, name: agg.name, availabilityZone: agg.availability_zone ?? "", hosts: agg.hosts, metadata: userMetadata(agg), aggregateId: agg.id },
    };
  },

  async update(id, olds: DockerAggregateOutputs, news: DockerAggregateInputs) {
    const nova = new NovaClient(sessionFor(news.connection));
    const aggId = Number(id);
    let agg = await nova.getAggregate(aggId);
    if (!agg) throw new Error(`DockerAggregate ${olds.name}: aggregate ${id} no longer exists; run pulumi refresh`);
    const toRemove = agg.hosts.filter((h) => !news.hosts.includes(h));
    const toAdd = news.hosts.filter((h) => !agg!.hosts.includes(h));
    await validateHosts(nova, toAdd, news.availabilityZone, agg.hosts);
    for (const h of toRemove) agg = await nova.removeHost(aggId, h);
    const fields: { name?: string; availability_zone?: string } = {};
    if (agg.name !== news.name) fields.name = news.name;
    if ((agg.availability_zone ?? "") !== news.availabilityZone) fields.availability_zone = news.availabilityZone;
    if (Object.keys(fields).length) agg = await nova.updateAggregate(aggId, fields);
    for (const h of toAdd) agg = await nova.addHost(aggId, h);
    const patch = metadataPatch(userMetadata(agg), news.metadata);
    if (Object.keys(patch).length) agg = await nova.setMetadata(aggId, patch);
    return { outs: outputsFrom(news, agg) };
  },

  async delete(id, props: DockerAggregateOutputs) {
    const nova = new NovaClient(sessionFor(props.connection));
    const agg = await nova.getAggregate(Number(id));
    if (!agg) return;
    for (const h of agg.hosts) {
      try {
        await nova.removeHost(agg.id, h);
      } catch (e) {
        if (!isApiError(e, 404)) throw e;
      }
    }
    await nova.deleteAggregate(agg.id);
  },
};

function containsUnknownHosts(hosts: unknown): boolean {
  return hosts === UNKNOWN || (Array.isArray(hosts) && hosts.includes(UNKNOWN));
}

/** A Nova host aggregate + availability zone for the docker compute hosts. */
export class DockerAggregate extends pulumi.dynamic.Resource {
  declare readonly name: pulumi.Output<string>;
  declare readonly availabilityZone: pulumi.Output<string>;
  declare readonly hosts: pulumi.Output<string[]>;
  declare readonly metadata: pulumi.Output<Record<string, string>>;
  declare readonly aggregateId: pulumi.Output<number>;

  constructor(name: string, args: DockerAggregateArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      dockerAggregateProvider,
      name,
      { name: undefined, availabilityZone: undefined, metadata: undefined, ...args, connection: args.connection ? pulumi.secret(args.connection) : undefined, aggregateId: undefined, uuid: undefined },
      opts,
      "dockwall",
      "DockerAggregate",
    );
  }
}
