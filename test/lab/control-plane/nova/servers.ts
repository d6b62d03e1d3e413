/** Nova's server routes: boot, show, list, delete. */
import { caller } from "../auth";
import { empty, json } from "../http/reply";
import type { RequestContext, Router } from "../http/router";
import type { Networking } from "../neutron/networking";
import { isObject } from "../util/ids";
import { parseIp } from "../util/ipv4";
import { novaError, type Compute, type Server } from "./compute";
import { schemaError, nameValue } from "./validation";

export function addServerRoutes(r: Router, compute: Compute, neutron: Networking, baseUrl: () => string): void {
  const serverView = (s: Server, detail: boolean): Record<string, unknown> => {
    const links = [{ rel: "self", href: `${baseUrl()}/v2.1/servers/${s.id}` }];
    if (!detail) return { id: s.id, name: s.name, links };
    const addresses: Record<string, unknown[]> = {};
    for (const portId of s.ports) {
      const port = neutron.ports.get(portId);
      if (!port) continue;
      const netName = neutron.networks.get(port.network_id)?.name ?? port.network_id;
      for (const ip of port.fixed_ips) {
        (addresses[netName] ??= []).push({ version: 4, addr: ip.ip_address, "OS-EXT-IPS:type": "fixed", "OS-EXT-IPS-MAC:mac_addr": port.mac_address });
      }
    }
    return {
      id: s.id,
      name: s.name,
      status: s.status,
      tenant_id: s.tenant_id,
      user_id: s.user_id,
      image: { id: s.imageId, links: [] },
      flavor: { id: s.flavorId, links: [] },
      addresses,
      metadata: { ...s.metadata },
      created: s.created,
      updated: s.updated,
      hostId: s.host ? s.host.replace(/[^a-z0-9]/gi, "") : "",
      progress: s.status === "ACTIVE" ? 100 : 0,
      accessIPv4: "",
      accessIPv6: "",
      key_name: null,
      security_groups: [],
      links,
      "OS-DCF:diskConfig": "MANUAL",
      "OS-EXT-AZ:availability_zone": s.zone,
      "OS-EXT-SRV-ATTR:host": s.host,
      "OS-EXT-SRV-ATTR:hypervisor_hostname": s.host,
      "OS-EXT-SRV-ATTR:instance_name": `instance-${s.id.slice(0, 8)}`,
      "OS-EXT-STS:vm_state": s.status === "ACTIVE" ? "active" : s.status === "ERROR" ? "error" : "building",
      "OS-EXT-STS:task_state": s.task_state,
      "OS-EXT-STS:power_state": s.status === "ACTIVE" ? 1 : 0,
      "os-extended-volumes:volumes_attached": [],
      ...(s.fault ? { fault: { ...s.fault } } : {}),
    };
  };
  const visibleServers = (ctx: RequestContext): Server[] => {
    const auth = caller(ctx);
    const all = auth.isAdmin && ctx.query.get("all_tenants") !== null;
    let servers = [...compute.servers.values()].filter((s) => all || s.tenant_id === auth.projectId);
    const name = ctx.query.get("name");
    if (name !== null) {
      let re: RegExp;
      try {
        re = new RegExp(name);
      } catch {
        throw novaError(400, `Invalid regular expression for name: ${name}`);
      }
      servers = servers.filter((s) => re.test(s.name));
    }
    const status = ctx.query.get("status");
    if (status !== null) servers = servers.filter((s) => s.status === status.toUpperCase());
    const host = ctx.query.get("host");
    if (host !== null) servers = servers.filter((s) => s.host === host);
    return servers;
  };
  const ownServer = (ctx: RequestContext): Server => {
    const auth = caller(ctx);
    const server = compute.server(ctx.params.id);
    if (!auth.isAdmin && server.tenant_id !== auth.projectId) throw novaError(404, `Instance ${ctx.params.id} could not be found.`);
    return server;
  };

  r.get("/v2.1/servers", (ctx) => json(200, { servers: visibleServers(ctx).map((s) => serverView(s, false)) }));
  r.get("/v2.1/servers/detail", (ctx) => json(200, { servers: visibleServers(ctx).map((s) => serverView(s, true)) }));
  r.get("/v2.1/servers/{id}", (ctx) => json(200, { server: serverView(ownServer(ctx), true) }));
  r.post("/v2.1/servers", async (ctx) => {
    const auth = caller(ctx);
    const body = await ctx.json();
    const s = isObject(body) ? body.server : undefined;
    if (!isObject(s)) throw schemaError("server", body, "'server' is a required property");
    const name = nameValue(s.name);
    const ref = (field: string) => {
      const v = s[field];
      if (typeof v !== "string" || v === "") throw schemaError(field, v, `'${field}' is a required property`);
      return v.split("/").pop() as string;
    };
    let networks: Array<{ port?: string; uuid?: string; fixed_ip?: string }> = [];
    if (Array.isArray(s.networks)) {
      networks = s.networks.map((n) => {
        if (!isObject(n)) throw schemaError("networks", n, "each network must be an object");
        for (const key of ["port", "uuid", "fixed_ip"]) {
          if (n[key] !== undefined && typeof n[key] !== "string") throw schemaError(key, n[key], `${JSON.stringify(n[key])} is not of type 'string'`);
        }
        if (typeof n.fixed_ip === "string" && parseIp(n.fixed_ip) === null) {
          throw schemaError("fixed_ip", n.fixed_ip, `'${n.fixed_ip}' is not valid under any of the given schemas`);
        }
        return {
          port: typeof n.port === "string" ? n.port : undefined,
          uuid: typeof n.uuid === "string" ? n.uuid : undefined,
          fixed_ip: typeof n.fixed_ip === "string" ? n.fixed_ip : undefined,
        };
      });
    } else if (s.networks !== undefined && s.networks !== "none" && s.networks !== "auto") {
      throw schemaError("networks", s.networks, "networks must be a list, 'auto' or 'none'");
    }
    if (s.availability_zone !== undefined && typeof s.availability_zone !== "string") {
      throw schemaError("availability_zone", s.availability_zone, "not a string");
    }
    const metadata = isObject(s.metadata) ? (s.metadata as Record<string, string>) : undefined;
    const server = await compute.createServer({
      name,
      tenantId: auth.projectId ?? "",
      userId: auth.userId,
      imageId: ref("imageRef"),
      flavorId: ref("flavorRef"),
      availabilityZone: s.availability_zone as string | undefined,
      networks,
      metadata,
      isAdmin: auth.isAdmin,
    });
    const links = [{ rel: "self", href: `${baseUrl()}/v2.1/servers/${server.id}` }];
    return json(202, { server: { id: server.id, links, "OS-DCF:diskConfig": "MANUAL", security_groups: [{ name: "default" }], adminPass: "dw-lab-unused" } }, {
      location: links[0].href,
    });
  });
  r.delete("/v2.1/servers/{id}", (ctx) => {
    void compute.deleteServer(ownServer(ctx).id);
    return empty(204);
  });
}
