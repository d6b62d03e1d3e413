/** A tiny HTTP client for the control plane's own tests. */
import type { ChainSpec, DataPlane, LabNetwork, LabPort, SpawnRequest } from "../contracts";
import type { Lab } from "./index";

export interface Response {
  status: number;
  headers: Headers;
  text: string;
  json(): any;
}

export interface CallOptions {
  method?: string;
  token?: string;
  json?: unknown;
  body?: string | Buffer | Uint8Array;
  headers?: Record<string, string>;
}

export async function call(url: string, opts: CallOptions = {}): Promise<Response> {
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  if (opts.token) headers["x-auth-token"] = opts.token;
  let body: string | Uint8Array | undefined;
  if (opts.json !== undefined) {
    body = JSON.stringify(opts.json);
    headers["content-type"] ??= "application/json";
  } else if (opts.body !== undefined) {
    body = typeof opts.body === "string" ? opts.body : new Uint8Array(opts.body);
  }
  const res = await fetch(url, { method: opts.method ?? (body === undefined ? "GET" : "POST"), headers, body });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) };
}

/** A project-scoped v3 token. */
export async function token(lab: Lab, user: "admin" | "member" = "admin"): Promise<string> {
  const creds = user === "admin" ? lab.admin : { ...lab.member, userDomainName: "Default", projectDomainName: "Default" };
  const res = await call(`${lab.urls.keystone}/v3/auth/tokens`, {
    json: {
      auth: {
        identity: { methods: ["password"], password: { user: { name: creds.username, domain: { name: "Default" }, password: creds.password } } },
        scope: { project: { name: creds.projectName, domain: { name: "Default" } } },
      },
    },
  });
  if (res.status !== 201) throw new Error(`token: ${res.status} ${res.text}`);
  return res.headers.get("x-subject-token") as string;
}

/** Creates a Neutron network with one subnet; returns the network id. */
export async function network(lab: Lab, tok: string, name: string, cidr: string): Promise<string> {
  const net = await call(`${lab.urls.neutron}/v2.0/networks`, { token: tok, json: { network: { name } } });
  if (net.status !== 201) throw new Error(`network: ${net.status} ${net.text}`);
  const id = net.json().network.id as string;
  const sub = await call(`${lab.urls.neutron}/v2.0/subnets`, { token: tok, json: { subnet: { network_id: id, cidr, ip_version: 4 } } });
  if (sub.status !== 201) throw new Error(`subnet: ${sub.status} ${sub.text}`);
  return id;
}

/** Uploads an image through Glance v2; returns its id. */
export async function image(lab: Lab, tok: string, name: string, data: Buffer, containerFormat = "docker"): Promise<string> {
  const created = await call(`${lab.urls.glance}/v2/images`, {
    token: tok,
    json: { name, container_format: containerFormat, disk_format: "raw", visibility: "public" },
  });
  if (created.status !== 201) throw new Error(`image: ${created.status} ${created.text}`);
  const id = created.json().id as string;
  const up = await call(`${lab.urls.glance}/v2/images/${id}/file`, {
    method: "PUT",
    token: tok,
    body: data,
    headers: { "content-type": "application/octet-stream" },
  });
  if (up.status !== 204) throw new Error(`upload: ${up.status} ${up.text}`);
  return id;
}

/** Polls `check` until it returns a value other than undefined. */
export async function eventually<T>(check: () => Promise<T | undefined> | T | undefined, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A data plane that records every call; `spawn` can be told to fail once. */
export class RecordingDataPlane implements DataPlane {
  readonly calls: string[] = [];
  readonly networks = new Map<string, LabNetwork>();
  readonly ports: LabPort[] = [];
  readonly spawned: SpawnRequest[] = [];
  readonly destroyed: string[] = [];
  readonly chainUpdates: ChainSpec[][] = [];
  failNextSpawn: string | null = null;

  async networkChanged(net: LabNetwork): Promise<void> {
    this.calls.push(`networkChanged ${net.id}`);
    this.networks.set(net.id, net);
  }
  async networkDeleted(id: string): Promise<void> {
    this.calls.push(`networkDeleted ${id}`);
  }
  async portCreated(port: LabPort): Promise<void> {
    this.calls.push(`portCreated ${port.id}`);
    this.ports.push(port);
  }
  async portDeleted(port: LabPort): Promise<void> {
    this.calls.push(`portDeleted ${port.id}`);
  }
  async spawn(req: SpawnRequest): Promise<void> {
    this.calls.push(`spawn ${req.serverId}`);
    this.spawned.push(req);
    if (this.failNextSpawn) {
      const message = this.failNextSpawn;
      this.failNextSpawn = null;
      throw new Error(message);
    }
  }
  async destroy(serverId: string): Promise<void> {
    this.calls.push(`destroy ${serverId}`);
    this.destroyed.push(serverId);
  }
  async chainsChanged(chains: ChainSpec[]): Promise<void> {
    this.calls.push(`chainsChanged ${chains.length}`);
    this.chainUpdates.push(chains);
  }
}
