/**
 * Keystone: token issue (v3 password, v3 application credential, v2.0 password), a per-process
 * token cache that honours expiry, endpoint selection from the catalog (service type, then
 * interface, then region), and `Session`, through which every other client sends its requests
 * (token added, one re-auth on 401).
 */
import type { ResolvedConnection } from "../config";
import { ApiError, HttpResponse, ServiceName, TransportOptions, isApiError, send } from "./http";

export interface CatalogEndpoint {
  type: string;
  interface: "public" | "internal" | "admin";
  region?: string;
  url: string;
}

export interface AuthState {
  token: string;
  /** Epoch ms. */
  expiresAt: number;
  catalog: CatalogEndpoint[];
  roles: string[];
  projectId?: string;
  projectName?: string;
  userId?: string;
}

/** Re-authenticate this long before the token's expiry. */
const EXPIRY_MARGIN_MS = 60_000;

function tokenCache(): Map<string, AuthState> {
  const key = Symbol.for("dockwall.keystone.tokenCache");
  const g = globalThis as any;
  if (!g[key]) g[key] = new Map<string, AuthState>();
  return g[key];
}

/** Logins in flight, per cache key: concurrent requests of one provider process share one login. */
function loginsInFlight(): Map<string, Promise<AuthState>> {
  const key = Symbol.for("dockwall.keystone.loginsInFlight");
  const g = globalThis as any;
  if (!g[key]) g[key] = new Map<string, Promise<AuthState>>();
  return g[key];
}

/** Cache key: a hash over everything that identifies the principal, never the secret in clear. */
export function cacheKey(c: ResolvedConnection): string {
  const crypto = require("crypto") as typeof import("crypto");
  const h = crypto.createHash("sha256");
  h.update(
    JSON.stringify([
      c.authUrl, c.identityApiVersion, c.authMethod, c.username, c.userId, c.userDomainName, c.userDomainId,
      c.projectName, c.projectId, c.projectDomainName, c.projectDomainId, c.applicationCredentialId,
      c.applicationCredentialName, c.password ?? "", c.applicationCredentialSecret ?? "",
    ]),
  );
  return h.digest("hex");
}

export function transportOf(c: ResolvedConnection, log?: (m: string) => void): TransportOptions {
  return { ca: c.cacert, insecure: c.insecure, timeoutMs: c.timeoutMs, retries: c.retries, log };
}

function identityBase(c: ResolvedConnection): string {
  // Accept an auth URL with or without the version path.
  const u = c.authUrl.replace(/\/+$/, "");
  if (c.identityApiVersion === "2.0") return /\/v2\.0$/.test(u) ? u : `${u}/v2.0`;
  return /\/v3$/.test(u) ? u : `${u.replace(/\/v2\.0$/, "")}/v3`;
}

/** Build the v3 `POST /auth/tokens` body. */
export function v3AuthBody(c: ResolvedConnection): unknown {
  const domain = (id?: string, name?: string) => (id ? { id } : name ? { name } : undefined);
  if (c.authMethod === "application_credential") {
    const ac: any = { secret: c.applicationCredentialSecret };
    if (c.applicationCredentialId) ac.id = c.applicationCredentialId;
    else {
      ac.name = c.applicationCredentialName;
      ac.user = c.userId ? { id: c.userId } : { name: c.username, domain: domain(c.userDomainId, c.userDomainName) };
    }
    // A scope must not be requested with an application credential.
    return { auth: { identity: { methods: ["application_credential"], application_credential: ac } } };
  }
  const user: any = c.userId ? { id: c.userId, password: c.password } : { name: c.username, domain: domain(c.userDomainId, c.userDomainName), password: c.password };
  const project: any = c.projectId ? { id: c.projectId } : { name: c.projectName, domain: domain(c.projectDomainId, c.projectDomainName) };
  return { auth: { identity: { methods: ["password"], password: { user } }, scope: { project } } };
}

/** Build the v2.0 `POST /tokens` body. */
export function v2AuthBody(c: ResolvedConnection): unknown {
  const auth: any = { passwordCredentials: { username: c.username ?? c.userId, password: c.password } };
  if (c.projectId) auth.tenantId = c.projectId;
  else auth.tenantName = c.projectName;
  return { auth };
}

export function parseV3Catalog(catalog: any[] | undefined): CatalogEndpoint[] {
  const out: CatalogEndpoint[] = [];
  for (const svc of catalog ?? []) {
    for (const ep of svc.endpoints ?? []) {
      if (!ep.url || !["public", "internal", "admin"].includes(ep.interface)) continue;
      out.push({ type: svc.type, interface: ep.interface, region: ep.region_id ?? ep.region ?? undefined, url: ep.url });
    }
  }
  return out;
}

export function parseV2Catalog(catalog: any[] | undefined): CatalogEndpoint[] {
  const out: CatalogEndpoint[] = [];
  for (const svc of catalog ?? []) {
    for (const ep of svc.endpoints ?? []) {
      for (const [iface, key] of [["public", "publicURL"], ["internal", "internalURL"], ["admin", "adminURL"]] as const) {
        if (ep[key]) out.push({ type: svc.type, interface: iface, region: ep.region ?? undefined, url: ep[key] });
      }
    }
  }
  return out;
}

/** Pick an endpoint: service type first, then interface, then region. */
export function selectEndpoint(catalog: CatalogEndpoint[], type: string, iface: "public" | "internal" | "admin", region?: string): string {
  const ofType = catalog.filter((e) => e.type === type);
  if (!ofType.length) {
    const types = Array.from(new Set(catalog.map((e) => e.type))).sort();
    throw new Error(`the Keystone catalog has no "${type}" service (it has: ${types.join(", ") || "nothing"})`);
  }
  const ofIface = ofType.filter((e) => e.interface === iface);
  if (!ofIface.length) throw new Error(`the "${type}" service has no ${iface} endpoint (it has: ${Array.from(new Set(ofType.map((e) => e.interface))).join(", ")})`);
  const ofRegion = region ? ofIface.filter((e) => e.region === region) : ofIface;
  if (!ofRegion.length) {
    const regions = Array.from(new Set(ofIface.map((e) => e.region ?? "(none)")));
    throw new Error(`the "${type}" service has no ${iface} endpoint in region "${region}" (regions: ${regions.join(", ")})`);
  }
  return ofRegion[0].url.replace(/\/+$/, "");
}

/** Issue a token (no cache). */
export async function authenticate(c: ResolvedConnection, log?: (m: string) => void): Promise<AuthState> {
  const base = identityBase(c);
  const t = transportOf(c, log);
  try {
    if (c.identityApiVersion === "2.0") {
      const res = await send({ service: "keystone", call: "issue token (v2.0)", method: "POST", url: `${base}/tokens`, json: v2AuthBody(c), idempotent: true, expect: [200] }, t);
      const a = res.json().access;
      return {
        token: a.token.id,
        expiresAt: Date.parse(a.token.expires),
        catalog: parseV2Catalog(a.serviceCatalog),
        roles: (a.user?.roles ?? []).map((r: any) => r.name),
        projectId: a.token.tenant?.id,
        projectName: a.token.tenant?.name,
        userId: a.user?.id,
      };
    }
    const res = await send({ service: "keystone", call: "issue token (v3)", method: "POST", url: `${base}/auth/tokens`, json: v3AuthBody(c), idempotent: true, expect: [201] }, t);
    const token = String(res.headers["x-subject-token"] ?? "");
    if (!token) throw new Error("Keystone answered 201 without an X-Subject-Token header");
    const b = res.json().token;
    return {
      token,
      expiresAt: Date.parse(b.expires_at),
      catalog: parseV3Catalog(b.catalog),
      roles: (b.roles ?? []).map((r: any) => r.name),
      projectId: b.project?.id,
      projectName: b.project?.name,
      userId: b.user?.id,
    };
  } catch (e) {
    if (isApiError(e, 401)) {
      throw new ApiError({ ...e, url: e.url, serverMessage: `${e.serverMessage} — check the credentials (from ${c.source})` });
    }
    throw e;
  }
}

const SERVICE_TYPES: Partial<Record<ServiceName, string>> = { keystone: "identity", nova: "compute", glance: "image", neutron: "network" };

export interface SessionRequest {
  call: string;
  method: string;
  /** Path below the service endpoint (starting with "/"), or an absolute URL. */
  path: string;
  query?: Record<string, string | number | boolean | undefined>;
  headers?: Record<string, string>;
  json?: unknown;
  body?: HttpRequestBody;
  idempotent?: boolean;
  expect?: number[];
  timeoutMs?: number;
}
type HttpRequestBody = Parameters<typeof send>[0]["body"];

/** Authenticated access to the cloud's APIs for one resolved connection. */
export class Session {
  readonly conn: ResolvedConnection;
  private readonly log?: (m: string) => void;
  private readonly key: string;

  constructor(conn: ResolvedConnection, log?: (m: string) => void) {
    this.conn = conn;
    this.log = log;
    this.key = cacheKey(conn);
    if (conn.insecure) log?.("WARNING: TLS certificate verification is OFF for this connection (insecure: true). Anyone on the path can read the credentials.");
  }

  get transport(): TransportOptions {
    return transportOf(this.conn, this.log);
  }

  /** The cached token state, issuing a new token when absent or about to expire. */
  async auth(force = false): Promise<AuthState> {
    const cache = tokenCache();
    const cached = cache.get(this.key);
    if (!force && cached && cached.expiresAt - EXPIRY_MARGIN_MS > Date.now()) return cached;
    const inflight = loginsInFlight();
    const pending = inflight.get(this.key);
    if (pending && !force) return pending;
    const login = authenticate(this.conn, this.log).then(
      (fresh) => {
        cache.set(this.key, fresh);
        return fresh;
      },
    );
    inflight.set(this.key, login);
    try {
      return await login;
    } finally {
      if (inflight.get(this.key) === login) inflight.delete(this.key);
    }
  }

  invalidate(): void {
    tokenCache().delete(this.key);
  }

  /** The service's endpoint, from `state`'s catalog when given (so one request authenticates at most once). */
  async endpoint(service: ServiceName, state?: AuthState): Promise<string> {
    if (service === "contrail") return this.conn.contrailApiUrl;
    const type = SERVICE_TYPES[service];
    if (!type) throw new Error(`no catalog type for service ${service}`);
    const a = state ?? (await this.auth());
    return selectEndpoint(a.catalog, type, this.conn.interface, this.conn.region);
  }

  /** Send a request to a service with the token; re-authenticates once on 401. */
  async request(service: ServiceName, r: SessionRequest): Promise<HttpResponse> {
    // Only a 401 from the service means "token refused": a 401 from Keystone itself (bad credentials) is
    // not retried, so a wrong password costs one failed login, not two (Keystone may lock accounts out).
    let tokenSent = false;
    const attempt = async (force: boolean) => {
      const a = await this.auth(force);
      tokenSent = true;
      const base = /^https?:\/\//.test(r.path) ? "" : await this.endpoint(service, a);
      let url = `${base}${r.path}`;
      const q = Object.entries(r.query ?? {}).filter(([, v]) => v !== undefined);
      if (q.length) url += (url.includes("?") ? "&" : "?") + q.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`).join("&");
      return send(
        {
          service,
          call: r.call,
          method: r.method,
          url,
          headers: { "x-auth-token": a.token, ...(r.headers ?? {}) },
          json: r.json,
          body: r.body,
          idempotent: r.idempotent,
          expect: r.expect,
          timeoutMs: r.timeoutMs,
        },
        this.transport,
      );
    };
    try {
      return await attempt(false);
    } catch (e) {
      if (tokenSent && isApiError(e, 401)) {
        this.log?.(`${service}: ${r.call}: token refused (401), authenticating again once`);
        this.invalidate();
        return attempt(true);
      }
      throw e;
    }
  }
}
