/** The five API listeners and the per-service settings: error format, body rules, auth step. */
import { authenticate } from "./auth";
import { contrailAuth, contrailError, contrailRouter, type ContrailHooks, type ContrailSettings } from "./contrail/routes";
import type { ConfigDb } from "./contrail/db";
import type { ContrailMirror } from "./contrail/mirror";
import type { LabBus } from "./core";
import type { Counters } from "./counters";
import type { FaultRegistry } from "./faults";
import { GLANCE_PUBLIC, glanceError, glanceRouter } from "./glance";
import type { ImageStore } from "./glance/images";
import { ServiceServer } from "./http/server";
import type { Identity } from "./keystone/identity";
import { buildCatalog, keystoneError, keystoneRouter } from "./keystone/routes";
import type { Networking } from "./neutron/networking";
import { neutronErrorReply, neutronRouter } from "./neutron/routes";
import type { Compute } from "./nova/compute";
import { negotiateMicroversion, normalizeNovaPath, novaErrorReply, novaRouter } from "./nova/routes";

export interface ServiceDeps {
  host: string;
  bus: LabBus;
  identity: Identity;
  compute: Compute;
  glance: ImageStore;
  neutron: Networking;
  db: ConfigDb;
  mirror: ContrailMirror;
  contrailSettings: ContrailSettings;
  faults: FaultRegistry;
  counters: Counters;
  tls?: { key: string; cert: string };
}

export interface Services {
  keystone: ServiceServer;
  nova: ServiceServer;
  glance: ServiceServer;
  neutron: ServiceServer;
  contrail: ServiceServer;
}

export function createServices(d: ServiceDeps): Services {
  const { bus, identity } = d;
  const keystoneUrl = () => bus.urls.keystone;
  const common = { host: d.host, faults: d.faults, counters: d.counters, log: (line: string) => bus.log("http", line), tls: d.tls };

  const contrailHooks: ContrailHooks = {
    projectOnDemand: (uuid) => d.mirror.projectOnDemand(uuid),
    virtualNetworkDeleted: (uuid) => d.neutron.forgetNetwork(uuid),
  };

  return {
    keystone: new ServiceServer({
      ...common,
      name: "keystone",
      router: keystoneRouter(identity, () => bus.urls, buildCatalog(() => bus.urls)),
      formatError: keystoneError,
      requestIds: true,
      jsonRules: {
        malformed: "The request you have made is malformed. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.",
        tooLarge: "Request is too large.",
        unsupportedType: {
          status: 400,
          message: "Expecting to find application/json in Content-Type header. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.",
        },
      },
    }),
    nova: new ServiceServer({
      ...common,
      name: "nova",
      router: novaRouter(d.compute, d.neutron, () => bus.urls.nova),
      formatError: novaErrorReply,
      normalizePath: normalizeNovaPath,
      // Nova's routes carry method conditions: a method no route has is a 404.
      wrongMethodStatus: 404,
      requestIds: true,
      jsonRules: {
        malformed: "Malformed request body",
        tooLarge: "Request is too large.",
        unsupportedType: { status: 415, message: "Unsupported Content-Type" },
        // Nova reads text/plain (eventlet's default) as no Content-Type, and parses the body as JSON.
        accept: ["application/vnd.openstack.compute+json", "text/plain"],
      },
      before: (ctx, template) => {
        if (template === "/" || template === "/v2.1") return;
        authenticate(identity, keystoneUrl, ctx);
        return negotiateMicroversion(ctx);
      },
    }),
    glance: new ServiceServer({
      ...common,
      name: "glance",
      router: glanceRouter(d.glance, () => bus.urls.glance),
      formatError: glanceError,
      requestIds: true,
      jsonRules: { malformed: "Malformed JSON in request body.", tooLarge: "Request Entity Too Large", unsupportedType: null },
      before: (ctx, template) => {
        if (!GLANCE_PUBLIC.has(template)) authenticate(identity, keystoneUrl, ctx);
      },
    }),
    neutron: new ServiceServer({
      ...common,
      name: "neutron",
      router: neutronRouter(d.neutron, d.mirror),
      formatError: neutronErrorReply,
      requestIds: true,
      // Neutron (legacy WSGI and pecan alike) parses a request body as JSON whatever its Content-Type.
      jsonRules: { malformed: "Malformed request body: Cannot understand JSON", tooLarge: "Request Entity Too Large", unsupportedType: null },
      before: (ctx, template) => {
        if (template !== "/") authenticate(identity, keystoneUrl, ctx);
      },
    }),
    contrail: new ServiceServer({
      ...common,
      name: "contrail",
      router: contrailRouter(d.db, d.contrailSettings, contrailHooks),
      formatError: contrailError,
      requestIds: false,
      jsonRules: { malformed: "Invalid JSON", tooLarge: "Request entity too large", unsupportedType: null },
      before: (ctx) => contrailAuth(identity, keystoneUrl, d.contrailSettings, ctx),
    }),
  };
}
