/** Nova v2.1: versions, aggregates, services, hypervisors, availability zones, flavors, servers. */
import { caller } from "../auth";
import type { HttpError } from "../http/errors";
import { empty, json, type Reply } from "../http/reply";
import { Router, type RequestContext } from "../http/router";
import type { Networking } from "../neutron/networking";
import { isObject } from "../util/ids";
import { CONTROLLER_HOST, FLAVORS, INTERNAL_AZ, novaError, type Aggregate, type Compute, type Flavor } from "./compute";
import { atLeast, MAX_VERSION, MIN_VERSION } from "./microversion";
import { addServerRoutes } from "./servers";
import { nameValue, noExtraKeys, schemaError, zoneValue } from "./validation";

export { negotiateMicroversion, normalizeNovaPath } from "./microversion";

function adminOnly(ctx: RequestContext, rule: string): void {
  if (!caller(ctx).isAdmin) throw novaError(403, `Policy doesn't allow os_compute_api:${rule} to be performed.`);
}

/** What an aggregate create or update body may hold. */
const AGGREGATE_FIELDS = ["name", "availability_zone"];

function aggregateId(ctx: RequestContext): number {
  const raw = ctx.params.id;
  if (!/^\d+$/.test(raw)) throw novaError(400, `Invalid aggregate id ${raw}: id must be an integer`);
  return Number(raw);
}

export function novaRouter(compute: Compute, neutron: Networking, baseUrl: () => string): Router {
  const r = new Router();

  const aggregateView = (ctx: RequestContext, agg: Aggregate, full = true) => {
    const out: Record<string, unknown> = {
      availability_zone: agg.metadata.availability_zone ?? null,
      created_at: agg.created_at,
      deleted: false,
      deleted_at: null,
      id: agg.id,
      name: agg.name,
      updated_at: agg.updated_at,
    };
    if (full) {
      out.hosts = [...agg.hosts];
      out.metadata = { ...agg.metadata };
    }
    if (atLeast(ctx, 41)) out.uuid = agg.uuid;
    return out;
  };

  const versionDoc = () => ({
    id: "v2.1",
    status: "CURRENT",
    version: MAX_VERSION.join("."),
    min_version: MIN_VERSION.join("."),
    updated: "2013-07-23T11:33:21Z",
    links: [{ rel: "self", href: `${baseUrl()}/v2.1/` }],
  });
  r.get("/", () => json(300, { versions: [versionDoc()] }));
  r.get("/v2.1", () => json(200, { version: versionDoc() }));

  // ---- aggregates
  r.get("/v2.1/os-aggregates", (ctx) => {
    adminOnly(ctx, "os-aggregates:index");
    return json(200, { aggregates: [...compute.aggregates.values()].map((a) => aggregateView(ctx, a)) });
  });
  r.post("/v2.1/os-aggregates", async (ctx) => {
    adminOnly(ctx, "os-aggregates:create");
    const body = await ctx.json();
    if (!isObject(body) || !isObject(body.aggregate)) throw schemaError("aggregate", body, "'aggregate' is a required property");
    noExtraKeys(body, ["aggregate"]);
    noExtraKeys(body.aggregate, AGGREGATE_FIELDS, "aggregate");
    const agg = compute.createAggregate(nameValue(body.aggregate.name), zoneValue(body.aggregate.availability_zone) ?? null);
    return json(200, { aggregate: aggregateView(ctx, agg, false) });
  });
  r.get("/v2.1/os-aggregates/{id}", (ctx) => {
    adminOnly(ctx, "os-aggregates:show");
    return json(200, { aggregate: aggregateView(ctx, compute.aggregate(aggregateId(ctx))) });
  });
  r.put("/v2.1/os-aggregates/{id}", async (ctx) => {
    adminOnly(ctx, "os-aggregates:update");
    const id = aggregateId(ctx);
    const body = await ctx.json();
    const agg = isObject(body) ? body.aggregate : undefined;
    if (!isObject(agg) || (agg.name === undefined && agg.availability_zone === undefined)) {
      throw schemaError("aggregate", agg, "{} does not have enough properties");
    }
    noExtraKeys(body as Record<string, unknown>, ["aggregate"]);
    noExtraKeys(agg, AGGREGATE_FIELDS, "aggregate");
    const name = agg.name === undefined ? undefined : nameValue(agg.name);
    const updated = compute.updateAggregate(id, name, zoneValue(agg.availability_zone));
    return json(200, { aggregate: aggregateView(ctx, updated) });
  });
  r.delete("/v2.1/os-aggregates/{id}", (ctx) => {
    adminOnly(ctx, "os-aggregates:delete");
    compute.deleteAggregate(aggregateId(ctx));
    return empty(200);
  });
  r.post("/v2.1/os-aggregates/{id}/action", async (ctx) => {
    const id = aggregateId(ctx);
    const body = await ctx.json();
    if (!isObject(body) || Object.keys(body).length !== 1) throw schemaError("action", body, "exactly one action is required");
    const [action, args] = Object.entries(body)[0];
    adminOnly(ctx, `os-aggregates:${action}`);
    let agg: Aggregate;
    if (action === "add_host" || action === "remove_host") {
      if (!isObject(args)) throw schemaError(action, args, `'${action}' must be an object`);
      const host = nameValue(args.host, "host");
      agg = action === "add_host" ? compute.addHost(id, host) : compute.removeHost(id, host);
    } else if (action === "set_metadata") {
      const metadata = isObject(args) ? args.metadata : undefined;
      if (!isObject(metadata)) throw schemaError("set_metadata", args, "'metadata' is a required property");
      for (const [k, v] of Object.entries(metadata)) {
        if (v !== null && (typeof v !== "string" || v.length > 255)) throw schemaError(`metadata/${k}`, v, `${JSON.stringify(v)} is not a valid metadata value`);
        if (k.length < 1 || k.length > 255) throw schemaError("metadata", k, `${JSON.stringify(k)} is not a valid metadata key`);
      }
      if (typeof metadata.availability_zone === "string") zoneValue(metadata.availability_zone);
      agg = compute.setMetadata(id, metadata as Record<string, string | null>);
    } else {
      throw schemaError("action", body, `Additional properties are not allowed ('${action}' was unexpected)`);
    }
    return json(200, { aggregate: aggregateView(ctx, agg) });
  });

  // ---- services and hypervisors
  r.get("/v2.1/os-services", (ctx) => {
    adminOnly(ctx, "os-services:list");
    const services = [
      { id: 1, uuid: "0e8b4a2c-3a30-4f5e-8f6c-000000000001", binary: "nova-scheduler", host: CONTROLLER_HOST, zone: INTERNAL_AZ, updated_at: null as string | null },
      { id: 2, uuid: "0e8b4a2c-3a30-4f5e-8f6c-000000000002", binary: "nova-conductor", host: CONTROLLER_HOST, zone: INTERNAL_AZ, updated_at: null as string | null },
      ...[...compute.hosts.values()].map((h) => ({
        id: h.serviceId,
        uuid: h.serviceUuid,
        binary: "nova-compute",
        host: h.host,
        zone: compute.hostZone(h.host),
        updated_at: h.updatedAt as string | null,
      })),
    ];
    const binary = ctx.query.get("binary");
    const host = ctx.query.get("host");
    const list = services
      .filter((s) => (binary === null || s.binary === binary) && (host === null || s.host === host))
      .map((s) => ({
        id: atLeast(ctx, 53) ? s.uuid : s.id,
        binary: s.binary,
        host: s.host,
        zone: s.zone,
        status: "enabled",
        state: "up",
        updated_at: s.updated_at ?? new Date().toISOString().replace(/Z$/, "000"),
        disabled_reason: null,
        ...(atLeast(ctx, 11) ? { forced_down: false } : {}),
      }));
    return json(200, { services: list });
  });

  const hypervisorView = (ctx: RequestContext, host: string, detail: boolean) => {
    const h = compute.hosts.get(host);
    if (!h) throw novaError(404, `Hypervisor with ID ${host} could not be found.`);
    const base: Record<string, unknown> = {
      id: atLeast(ctx, 53) ? h.serviceUuid : h.hypervisorId,
      hypervisor_hostname: h.host,
      state: "up",
      status: "enabled",
    };
    if (!detail) return base;
    const running = [...compute.servers.values()].filter((s) => s.host === h.host).length;
    return {
      ...base,
      hypervisor_type: h.docker ? "docker" : "QEMU",
      hypervisor_version: h.docker ? 1013000 : 2011000,
      host_ip: "127.0.0.1",
      service: { host: h.host, id: atLeast(ctx, 53) ? h.serviceUuid : h.serviceId, disabled_reason: null },
      vcpus: 8,
      memory_mb: 16384,
      local_gb: 100,
      vcpus_used: running,
      memory_mb_used: 512,
      local_gb_used: 0,
      free_ram_mb: 15872,
      free_disk_gb: 100,
      current_workload: 0,
      running_vms: running,
      disk_available_least: 100,
      cpu_info: "{}",
    };
  };
  const hypervisorList = (ctx: RequestContext, detail: boolean) => {
    const pattern = ctx.query.get("hypervisor_hostname_pattern");
    const hosts = [...compute.hosts.keys()].filter((h) => pattern === null || h.includes(pattern));
    if (pattern !== null && hosts.length === 0) throw novaError(404, `No hypervisor matching '${pattern}' could be found.`);
    return json(200, { hypervisors: hosts.map((h) => hypervisorView(ctx, h, detail)) });
  };
  r.get("/v2.1/os-hypervisors", (ctx) => {
    adminOnly(ctx, "os-hypervisors:list");
    return hypervisorList(ctx, false);
  });
  r.get("/v2.1/os-hypervisors/detail", (ctx) => {
    adminOnly(ctx, "os-hypervisors:list-detail");
    return hypervisorList(ctx, true);
  });
  r.get("/v2.1/os-hypervisors/{pattern}/search", (ctx) => {
    adminOnly(ctx, "os-hypervisors:search");
    const hosts = [...compute.hosts.keys()].filter((h) => h.includes(ctx.params.pattern));
    if (hosts.length === 0) throw novaError(404, `No hypervisor matching '${ctx.params.pattern}' could be found.`);
    return json(200, { hypervisors: hosts.map((h) => hypervisorView(ctx, h, false)) });
  });

  r.get("/v2.1/os-availability-zone", () =>
    json(200, { availabilityZoneInfo: compute.zones().map((zoneName) => ({ zoneName, zoneState: { available: true }, hosts: null })) }),
  );

  // ---- flavors
  const flavorView = (f: Flavor, detail: boolean) => ({
    id: f.id,
    name: f.name,
    links: [{ rel: "self", href: `${baseUrl()}/v2.1/flavors/${f.id}` }],
    ...(detail
      ? { vcpus: f.vcpus, ram: f.ram, disk: f.disk, "OS-FLV-EXT-DATA:ephemeral": 0, swap: "", rxtx_factor: 1.0, "os-flavor-access:is_public": true }
      : {}),
  });
  r.get("/v2.1/flavors", () => json(200, { flavors: FLAVORS.map((f) => flavorView(f, false)) }));
  r.get("/v2.1/flavors/detail", () => json(200, { flavors: FLAVORS.map((f) => flavorView(f, true)) }));
  r.get("/v2.1/flavors/{id}", (ctx) => {
    const f = FLAVORS.find((x) => x.id === ctx.params.id);
    if (!f) throw novaError(404, `Flavor ${ctx.params.id} could not be found.`);
    return json(200, { flavor: flavorView(f, true) });
  });

  addServerRoutes(r, compute, neutron, baseUrl);
  return r;
}

/** Nova's fault bodies: {"<faultName>": {"code", "message"}}. */
export function novaErrorReply(err: HttpError): Reply {
  const names: Record<number, string> = {
    400: "badRequest",
    401: "unauthorized",
    403: "forbidden",
    404: "itemNotFound",
    405: "badMethod",
    409: "conflictingRequest",
    413: "overLimit",
    415: "badMediaType",
    429: "overLimit",
    501: "notImplemented",
    503: "serviceUnavailable",
  };
  const key = names[err.status] ?? "computeFault";
  return json(err.status, { [key]: { code: err.status, message: err.message } });
}
