/**
 * The lab's control plane: a miniature Keystone, Nova, Glance, Neutron and Contrail config API in
 * one process, each service on its own loopback port, plus svc-monitor and the schema transformer.
 * Tests and the demo start it with `startLab()`; `test/lab/cli.ts` runs it in the foreground.
 */
import type { EventEmitter } from "node:events";
import { NullDataPlane, type DataPlane } from "../contracts";
import { ConfigDb } from "./contrail/db";
import { ContrailMirror } from "./contrail/mirror";
import { LabBus, type LabUrls } from "./core";
import { Counters } from "./counters";
import { DataPlaneBridge } from "./dataplane-bridge";
import { FaultRegistry, type FaultRule } from "./faults";
import { ImageStore, JUNO_CONTAINER_FORMATS } from "./glance/images";
import { takeInventory, type LabInventory } from "./inventory";
import { Identity } from "./keystone/identity";
import { REGION } from "./keystone/routes";
import { Networking } from "./neutron/networking";
import { Compute } from "./nova/compute";
import { SchemaTransformer } from "./schema-transformer";
import { createServices } from "./services";
import { SvcMonitor } from "./svc-monitor";
import { newSecret } from "./util/ids";
import { makeLabTls } from "./util/tls";

export type { FaultRule } from "./faults";
export type { LabInventory } from "./inventory";
export type { ChangeEvent, LabUrls } from "./core";

export interface LabOptions {
  /** Default: NullDataPlane. */
  dataPlane?: DataPlane;
  /** nova-compute service host names; default ["dw-compute-1"]. */
  computeHosts?: string[];
  /** Glance `container_formats`; default Juno's (no `docker`). */
  glanceContainerFormats?: string[];
  /** Contrail 2.x auth (token with the admin role required); default true. */
  multiTenancy?: boolean;
  /** Keystone token lifetime; default 3600. Fractions are allowed (tests). */
  tokenTtlSeconds?: number;
  /** Delay before svc-monitor acts on a change; default 200 ms. */
  svcMonitorDelayMs?: number;
  /** Listen address; default 127.0.0.1. */
  host?: string;
  /** Receives every log line (svc-monitor, schema transformer, data-plane failures, 5xx). */
  log?: (line: string) => void;
  /** Serve every API over HTTPS with the lab's own CA (see `caCert`). Default false. */
  tls?: boolean;
}

export interface LabCredentials {
  username: string;
  password: string;
  projectName: string;
  projectId: string;
  userDomainName: string;
  projectDomainName: string;
  /** An application credential of the admin user, scoped to the admin project. */
  applicationCredential: { id: string; secret: string };
}

export interface Lab {
  urls: LabUrls;
  /** With `tls`: the PEM of the lab's CA (what OS_CACERT must name). */
  caCert?: string;
  admin: LabCredentials;
  /** A user without the admin role. */
  member: { username: string; password: string; projectName: string };
  env(): Record<string, string>;
  inventory(): LabInventory;
  counters: { total(): number; byRoute(): Record<string, number>; reset(): void };
  faults: { add(rule: FaultRule): string; remove(id: string): void; clear(): void; fired(id: string): number };
  setGlanceContainerFormats(formats: string[]): void;
  setComputeDriverEnabled(host: string, enabled: boolean, message?: string): void;
  restartService(binary: "nova-compute" | "glance-api", host: string): void;
  /** `change` events: {service, type, op, id}. */
  events: EventEmitter;
  /** Resolves once svc-monitor, the schema transformer, Nova's boots/deletes and the data-plane calls are all quiet. */
  whenIdle(): Promise<void>;
  /** The log lines so far (svc-monitor, schema transformer, data plane, server errors). */
  logs(): string[];
  /** Closes every listener and socket and removes Glance's files; safe to call twice. */
  stop(): Promise<void>;
}

export async function startLab(opts: LabOptions = {}): Promise<Lab> {
  const host = opts.host ?? "127.0.0.1";
  if (!["127.0.0.1", "localhost", "::1"].includes(host) && !host.startsWith("127.")) {
    throw new Error(`the lab listens on loopback only, not ${host}`);
  }
  const bus = new LabBus(opts.log);

  const identity = new Identity(opts.tokenTtlSeconds ?? 3600);
  for (const role of ["admin", "member", "_member_", "reader"]) identity.createRole(role);
  const adminProject = identity.createProject("admin", "Cloud administration");
  const demoProject = identity.createProject("demo", "A project without administrators");
  const serviceProject = identity.createProject("service", "Service users");
  const admin = identity.createUser("admin", newSecret(12), adminProject.id);
  for (const p of [adminProject, demoProject, serviceProject]) identity.grant(admin.id, p.id, "admin");
  const member = identity.createUser("demo", newSecret(12), demoProject.id);
  identity.grant(member.id, demoProject.id, "member");
  identity.grant(member.id, demoProject.id, "_member_");
  const appCred = identity.createApplicationCredential(admin.id, adminProject.id, "dw-lab");

  const db = new ConfigDb(bus, () => bus.urls.contrail);
  const mirror = new ContrailMirror(db, identity, bus);
  mirror.provisionDefaults();
  const dataPlane = new DataPlaneBridge(opts.dataPlane ?? new NullDataPlane(), bus);
  const glance = new ImageStore(bus, opts.glanceContainerFormats ?? JUNO_CONTAINER_FORMATS);
  const neutron = new Networking(bus, mirror, dataPlane);
  const compute = new Compute(bus, glance, neutron, dataPlane, opts.computeHosts ?? ["dw-compute-1"]);
  const contrailSettings = { multiTenancy: opts.multiTenancy ?? true };
  const faults = new FaultRegistry();
  const counters = new Counters();

  const svcMonitor = new SvcMonitor({
    bus,
    db,
    mirror,
    identity,
    glance,
    neutron,
    compute,
    admin,
    delayMs: opts.svcMonitorDelayMs ?? 200,
  });
  const transformer = new SchemaTransformer(db, compute, dataPlane, bus);

  const tls = opts.tls ? makeLabTls(host) : undefined;
  const services = createServices({ host, bus, identity, compute, glance, neutron, db, mirror, contrailSettings, faults, counters, tls: tls && { key: tls.key, cert: tls.cert } });
  const all = Object.values(services);
  try {
    for (const [name, server] of Object.entries(services)) bus.urls[name as keyof LabUrls] = await server.listen();
  } catch (err) {
    await Promise.all(all.map((s) => s.close()));
    glance.dispose();
    throw err;
  }
  svcMonitor.start();
  transformer.start();

  let stopping: Promise<void> | null = null;
  const lab: Lab = {
    urls: bus.urls,
    admin: {
      username: admin.name,
      password: admin.password,
      projectName: adminProject.name,
      projectId: adminProject.id,
      userDomainName: "Default",
      projectDomainName: "Default",
      applicationCredential: { id: appCred.id, secret: appCred.secret },
    },
    member: { username: member.name, password: member.password, projectName: demoProject.name },
    caCert: tls?.caCert,
    env: () => ({
      OS_AUTH_URL: `${bus.urls.keystone}/v3`,
      OS_USERNAME: admin.name,
      OS_PASSWORD: admin.password,
      OS_PROJECT_NAME: adminProject.name,
      OS_USER_DOMAIN_NAME: "Default",
      OS_PROJECT_DOMAIN_NAME: "Default",
      OS_REGION_NAME: REGION,
      OS_IDENTITY_API_VERSION: "3",
      DOCKWALL_CONTRAIL_API_URL: bus.urls.contrail,
    }),
    inventory: () => takeInventory({ identity, compute, glance, neutron, db }),
    counters: {
      total: () => counters.total(),
      byRoute: () => counters.byRoute(),
      reset: () => counters.reset(),
    },
    faults: {
      add: (rule) => faults.add(rule),
      remove: (id) => faults.remove(id),
      clear: () => faults.clear(),
      fired: (id) => faults.fired(id),
    },
    setGlanceContainerFormats: (formats) => {
      glance.containerFormats = [...formats];
    },
    setComputeDriverEnabled: (h, enabled, message) => compute.setComputeDriverEnabled(h, enabled, message),
    restartService: (binary, h) => {
      if (binary === "nova-compute") compute.restartComputeService(h);
      else bus.log("glance", `glance-api on ${h} restarted with container_formats ${glance.containerFormats.join(",")}`);
    },
    events: bus.events,
    whenIdle: async () => {
      for (let settled = false; !settled; ) {
        await svcMonitor.idle();
        await compute.idle();
        await transformer.idle();
        await dataPlane.idle();
        // Work can trigger more work (a boot finishing triggers the transformer); go round until quiet.
        await new Promise((r) => setImmediate(r));
        settled = !svcMonitor.busy && !compute.busy && !transformer.busy && !dataPlane.busy;
      }
    },
    logs: () => bus.logs(),
    stop: () => {
      stopping ??= (async () => {
        bus.stopped = true;
        svcMonitor.stop();
        transformer.stop();
        dataPlane.close();
        await Promise.all(all.map((s) => s.close()));
        glance.dispose();
      })();
      return stopping;
    },
  };
  return lab;
}
