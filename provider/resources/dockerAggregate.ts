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
 * Host preparation over SSH (the seed's steps, see `provider/host`): hosts listed in `hostAccess`
 * are made nova-docker hosts before they join the aggregate (nova-compute restarted only when
 * something changed, and waited for until Nova reports it up again); `glanceHost` gets `docker`
 * into Glance's container formats. What is found on the hosts is recorded in the (secret) outputs
 * `hostReports` / `glanceReport`: refresh reads it again, so a hand edit shows as drift and the
 * next `up` repairs it. `restoreOnDelete` puts the original files back on delete.
 */
import * as pulumi from "@pulumi/pulumi";
import type { ConnectionArgs } from "../config";
import { Aggregate, ComputeService, NovaClient } from "../clients/nova";
import { isApiError } from "../clients/http";
import { Checker, UNKNOWN, changedKeys, checkConnectionResolvable, configureFromStack, log, sessionFor, waitFor } from "./common";
import { locate, providerLoader } from "./loader";
import type { ComputeReport, ComputeSettings, GlanceReport, SshConnection } from "../host";
import {
  GLANCE_API_CONF,
  NOVA_COMPUTE_CONF,
  NOVA_DOCKER_DRIVER,
  OPENCONTRAIL_VIF_DRIVER,
  inspectComputeHost,
  inspectGlanceHost,
  prepareComputeHost,
  prepareGlanceHost,
  restoreComputeHost,
  restoreGlanceHost,
  sshProblems,
} from "../host";

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
  /**
   * SSH access to compute hosts to prepare, keyed by their nova-compute host name (secret as a
   * whole). Hosts without an entry are taken as already prepared by hand.
   */
  hostAccess?: pulumi.Input<Record<string, pulumi.Input<SshConnection>>>;
  /** SSH access to the controller running glance-api, to let Glance accept docker (secret). */
  glanceHost?: pulumi.Input<SshConnection>;
  /** nova-compute.conf settings. Defaults: the nova-docker driver and the OpenContrail VIF driver, other settings kept. */
  novaDocker?: pulumi.Input<{ computeDriver?: pulumi.Input<string>; vifDriver?: pulumi.Input<string>; replaceConfig?: pulumi.Input<boolean>; configPath?: pulumi.Input<string> }>;
  /** Path of glance-api.conf on glanceHost. Default /etc/glance/glance-api.conf. */
  glanceConfigPath?: pulumi.Input<string>;
  /** On delete, put back the files as they were before dockwall changed them. Default false. */
  restoreOnDelete?: pulumi.Input<boolean>;
}

export interface DockerAggregateInputs {
  connection?: ConnectionArgs;
  name: string;
  availabilityZone: string;
  hosts: string[];
  metadata: Record<string, string>;
  hostAccess?: Record<string, SshConnection>;
  glanceHost?: SshConnection;
  novaDocker: ComputeSettings;
  glanceConfigPath: string;
  restoreOnDelete: boolean;
}

export interface DockerAggregateOutputs extends DockerAggregateInputs {
  aggregateId: number;
  uuid?: string;
  /** Per prepared host: what is there (driver settings, docker group, Docker version) and the originals kept. Secret. */
  hostReports?: Record<string, ComputeReport>;
  /** The controller: Glance's container formats and the originals kept. Secret. */
  glanceReport?: GlanceReport;
}

export function checkDockerAggregate(_olds: unknown, news: any): { inputs: DockerAggregateInputs; failures: { property: string; reason: string }[] } {
  const c = new Checker();
  c.connection(news.connection);
  const name = news.name ?? "docker";
  c.novaName("name", name);
  const az = news.availabilityZone ?? "docker";
  if (c.novaName("availabilityZone", az)) {
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
  if (news.hostAccess !== undefined && news.hostAccess !== UNKNOWN) {
    if (typeof news.hostAccess !== "object" || news.hostAccess === null || Array.isArray(news.hostAccess)) {
      c.fail("hostAccess", "hostAccess must map nova-compute host names to SSH connections");
    } else {
      for (const [h, conn] of Object.entries(news.hostAccess)) {
        if (Array.isArray(hosts) && !hosts.includes(h)) c.fail(`hostAccess.${h}`, `hostAccess.${h}: "${h}" is not in hosts (${hosts.join(", ")})`);
        if (conn !== UNKNOWN && !JSON.stringify(conn ?? null).includes(UNKNOWN)) for (const p of sshProblems(conn, `hostAccess.${h}`)) c.fail(p.property, p.reason);
      }
    }
  }
  if (news.glanceHost !== undefined && news.glanceHost !== UNKNOWN && !JSON.stringify(news.glanceHost).includes(UNKNOWN)) {
    for (const p of sshProblems(news.glanceHost, "glanceHost")) c.fail(p.property, p.reason);
  }
  const nd = news.novaDocker ?? {};
  for (const k of ["computeDriver", "vifDriver", "configPath"]) {
    if (nd[k] !== undefined && nd[k] !== UNKNOWN && (typeof nd[k] !== "string" || !/^[A-Za-z0-9_./-]{1,255}$/.test(nd[k]))) {
      c.fail(`novaDocker.${k}`, `novaDocker.${k} must be a ${k === "configPath" ? "file path" : "Python class path such as " + NOVA_DOCKER_DRIVER}`);
    }
  }
  if (nd.replaceConfig !== undefined && nd.replaceConfig !== UNKNOWN) c.boolean("novaDocker.replaceConfig", nd.replaceConfig);
  if (news.restoreOnDelete !== undefined && news.restoreOnDelete !== UNKNOWN) c.boolean("restoreOnDelete", news.restoreOnDelete);
  if (!c.failures.length) checkConnectionResolvable(c, news.connection);
  return {
    inputs: {
      ...(news.connection !== undefined ? { connection: news.connection } : {}),
      name,
      availabilityZone: az,
      hosts: Array.isArray(hosts) ? hosts : hosts,
      metadata,
      ...(news.hostAccess !== undefined ? { hostAccess: news.hostAccess } : {}),
      ...(news.glanceHost !== undefined ? { glanceHost: news.glanceHost } : {}),
      novaDocker: {
        computeDriver: nd.computeDriver ?? NOVA_DOCKER_DRIVER,
        vifDriver: nd.vifDriver ?? OPENCONTRAIL_VIF_DRIVER,
        replaceConfig: nd.replaceConfig ?? false,
        configPath: nd.configPath ?? NOVA_COMPUTE_CONF,
      },
      glanceConfigPath: news.glanceConfigPath ?? GLANCE_API_CONF,
      restoreOnDelete: news.restoreOnDelete ?? false,
    },
    failures: c.failures,
  };
}

/** Prepare the hosts (idempotent): compute hosts first, each waited for in Nova after a restart, then Glance. */
async function prepareHosts(nova: NovaClient, i: DockerAggregateInputs, olds?: Partial<DockerAggregateOutputs>): Promise<{ hostReports?: Record<string, ComputeReport>; glanceReport?: GlanceReport }> {
  const out: { hostReports?: Record<string, ComputeReport>; glanceReport?: GlanceReport } = {};
  if (i.hostAccess && Object.keys(i.hostAccess).length) {
    out.hostReports = {};
    for (const [h, ssh] of Object.entries(i.hostAccess)) {
      const before = (await nova.listServices({ binary: "nova-compute", host: h }))[0];
      const t0 = Date.now();
      const r = await prepareComputeHost(h, ssh, i.novaDocker, olds?.hostReports?.[h]?.originals ?? {});
      if (r.restarted.length) {
        await waitFor(`nova-compute on ${h} to report up after its restart`, 120_000, async () => {
          const svc = (await nova.listServices({ binary: "nova-compute", host: h }))[0];
          return svc && svc.state === "up" && svc.updated_at !== before?.updated_at ? true : undefined;
        });
      }
      log(`host ${h}: ${r.changed.length ? `changed ${r.changed.join(", ")}; restarted ${r.restarted.join(", ")}` : "already a nova-docker host, nothing changed"} (Docker ${r.dockerVersion}, ${((Date.now() - t0) / 1000).toFixed(1)} s)`);
      out.hostReports[h] = r;
    }
  }
  if (i.glanceHost) {
    const r = await prepareGlanceHost(i.glanceHost, i.glanceConfigPath, olds?.glanceReport?.originals ?? {});
    log(`glance host: ${r.changed.length ? `container_formats = ${r.containerFormats}; restarted glance-api` : "already accepts docker"}`);
    out.glanceReport = r;
  }
  return out;
}

/** Hosts whose recorded state differs from what the inputs ask (found by refresh): offline. */
export function hostDrift(olds: Partial<DockerAggregateOutputs>, news: DockerAggregateInputs): string[] {
  const drift: string[] = [];
  for (const h of Object.keys(news.hostAccess ?? {})) {
    const r = olds.hostReports?.[h];
    if (!r) drift.push(`hostReports.${h}`);
    else if (r.computeDriver !== news.novaDocker.computeDriver || r.vifDriver !== news.novaDocker.vifDriver || !r.novaInDockerGroup) drift.push(`hostReports.${h}`);
  }
  if (news.glanceHost) {
    const formats = (olds.glanceReport?.containerFormats ?? "").split(",").map((x) => x.trim());
    if (!formats.includes("docker")) drift.push("glanceReport");
  }
  return drift;
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
    const changed = changedKeys(olds, news, ["name", "availabilityZone", "metadata", "connection", "hostAccess", "glanceHost", "novaDocker", "glanceConfigPath", "restoreOnDelete"]);
    const hostsChanged = containsUnknownHosts(news.hosts) || [...(olds.hosts ?? [])].sort().join(",") !== [...(news.hosts ?? [])].sort().join(",");
    const drift = hostDrift(olds, news);
    return { changes: changed.length > 0 || hostsChanged || drift.length > 0, replaces: [] };
  },

  async create(inputs: DockerAggregateInputs) {
    const nova = new NovaClient(sessionFor(inputs.connection));
    await validateHosts(nova, inputs.hosts, inputs.availabilityZone);
    // The hosts are made nova-docker hosts before they join the zone svc-monitor boots into.
    const reports = await prepareHosts(nova, inputs);
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
    return { id: String(agg.id), outs: { ...outputsFrom(inputs, agg), ...reports } };
  },

  async read(id, props: DockerAggregateOutputs) {
    const nova = new NovaClient(sessionFor(props.connection));
    const agg = await nova.getAggregate(Number(id));
    if (!agg) return { id: "", props: {} }; // an empty id tells the engine the resource is gone (undefined breaks the gRPC reply)
    // What is on the prepared hosts now: a hand edit shows as drift (see hostDrift).
    let hostReports = props.hostReports;
    if (props.hostAccess && props.novaDocker) {
      hostReports = {};
      for (const [h, ssh] of Object.entries(props.hostAccess)) {
        const prev = props.hostReports?.[h];
        hostReports[h] = { name: h, changed: [], restarted: [], originals: prev?.originals ?? {}, ...(await inspectComputeHost(h, ssh, props.novaDocker)) };
      }
    }
    let glanceReport = props.glanceReport;
    if (props.glanceHost) glanceReport = { changed: [], restarted: [], originals: props.glanceReport?.originals ?? {}, ...(await inspectGlanceHost(props.glanceHost, props.glanceConfigPath)) };
    return {
      id,
      props: {
        ...props,
        name: agg.name,
        availabilityZone: agg.availability_zone ?? "",
        hosts: agg.hosts,
        metadata: userMetadata(agg),
        aggregateId: agg.id,
        ...(hostReports ? { hostReports } : {}),
        ...(glanceReport ? { glanceReport } : {}),
      },
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
    const reports = await prepareHosts(nova, news, olds);
    for (const h of toRemove) agg = await nova.removeHost(aggId, h);
    const fields: { name?: string; availability_zone?: string } = {};
    if (agg.name !== news.name) fields.name = news.name;
    if ((agg.availability_zone ?? "") !== news.availabilityZone) fields.availability_zone = news.availabilityZone;
    if (Object.keys(fields).length) agg = await nova.updateAggregate(aggId, fields);
    for (const h of toAdd) agg = await nova.addHost(aggId, h);
    const patch = metadataPatch(userMetadata(agg), news.metadata);
    if (Object.keys(patch).length) agg = await nova.setMetadata(aggId, patch);
    return { outs: { ...outputsFrom(news, agg), ...reports } };
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
    if (props.restoreOnDelete) {
      for (const [h, ssh] of Object.entries(props.hostAccess ?? {})) {
        const restored = await restoreComputeHost(h, ssh, props.hostReports?.[h]?.originals ?? {});
        if (restored.length) log(`host ${h}: restored ${restored.join(", ")} and restarted nova-compute`);
      }
      if (props.glanceHost) {
        const restored = await restoreGlanceHost(props.glanceHost, props.glanceReport?.originals ?? {});
        if (restored.length) log(`glance host: restored ${restored.join(", ")} and restarted glance-api`);
      }
    }
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
  /** Per prepared host: driver settings found, Docker version, what changed (secret: it holds the original files). */
  declare readonly hostReports: pulumi.Output<Record<string, ComputeReport> | undefined>;
  declare readonly glanceReport: pulumi.Output<GlanceReport | undefined>;

  constructor(name: string, args: DockerAggregateArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      providerLoader(locate(__filename, "dockerAggregateProvider")),
      name,
      {
        name: undefined,
        availabilityZone: undefined,
        metadata: undefined,
        ...args,
        connection: args.connection ? pulumi.secret(args.connection) : undefined,
        hostAccess: args.hostAccess ? pulumi.secret(args.hostAccess) : undefined,
        glanceHost: args.glanceHost ? pulumi.secret(args.glanceHost) : undefined,
        aggregateId: undefined,
        uuid: undefined,
        hostReports: undefined,
        glanceReport: undefined,
      },
      // Config files can hold credentials (database URLs, RabbitMQ passwords): their originals stay secret.
      { ...opts, additionalSecretOutputs: [...(opts?.additionalSecretOutputs ?? []), "hostReports", "glanceReport"] },
      "dockwall",
      "DockerAggregate",
    );
  }
}
