/**
 * Keystone (provider/clients/keystone.ts): auth bodies (reference/openstack-apis.md §1.1, §1.2,
 * §2.1), catalog parsing and endpoint selection (§1.3, §2.2), the token cache key, and `Session`
 * against a tiny fake Keystone + compute service on 127.0.0.1: token caching, expiry (§1.4),
 * exactly one re-auth on a 401, and the v2.0 flow.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as http from "http";
import type { AddressInfo } from "net";
import { ResolvedConnection, resolveConnection } from "../../provider/config";
import { CatalogEndpoint, Session, cacheKey, parseV2Catalog, parseV3Catalog, selectEndpoint, v2AuthBody, v3AuthBody } from "../../provider/clients/keystone";
import { ApiError, isApiError } from "../../provider/clients/http";

const PASSWORD = "Kp-4Rt9!keystone-DISTINCTIVE";
const SECRET = "AC-secret-77Zq-DISTINCTIVE";

function conn(over: Partial<ResolvedConnection> = {}): ResolvedConnection {
  return {
    authUrl: "http://keystone.test:5000/v3",
    identityApiVersion: "3",
    authMethod: "password",
    username: "admin",
    password: PASSWORD,
    projectName: "demo",
    userDomainName: "Default",
    projectDomainName: "Default",
    interface: "public",
    insecure: false,
    contrailApiUrl: "http://keystone.test:8082",
    timeoutMs: 2000,
    retries: 0,
    source: "test",
    ...over,
  };
}

describe("v3AuthBody", () => {
  it("password: user by name + domain, project scope by name + domain", () => {
    expect(v3AuthBody(conn())).toEqual({
      auth: {
        identity: { methods: ["password"], password: { user: { name: "admin", domain: { name: "Default" }, password: PASSWORD } } },
        scope: { project: { name: "demo", domain: { name: "Default" } } },
      },
    });
  });

  it("password: domains by id", () => {
    const b: any = v3AuthBody(conn({ userDomainName: undefined, userDomainId: "default", projectDomainName: undefined, projectDomainId: "d-2" }));
    expect(b.auth.identity.password.user.domain).toEqual({ id: "default" });
    expect(b.auth.scope.project.domain).toEqual({ id: "d-2" });
  });

  it("password: user and project by id (no domains needed)", () => {
    const b = v3AuthBody(conn({ username: undefined, userId: "u-1", projectName: undefined, projectId: "p-1", userDomainName: undefined, projectDomainName: undefined }));
    expect(b).toEqual({
      auth: { identity: { methods: ["password"], password: { user: { id: "u-1", password: PASSWORD } } }, scope: { project: { id: "p-1" } } },
    });
  });

  it("application credential by id: id + secret, no scope", () => {
    const b: any = v3AuthBody(conn({ authMethod: "application_credential", applicationCredentialId: "ac-1", applicationCredentialSecret: SECRET, password: undefined }));
    expect(b).toEqual({ auth: { identity: { methods: ["application_credential"], application_credential: { id: "ac-1", secret: SECRET } } } });
    expect(b.auth.scope).toBeUndefined();
  });

  it("application credential by name: name + secret + user (by id, or by name + domain), no scope", () => {
    const byUserId: any = v3AuthBody(
      conn({ authMethod: "application_credential", applicationCredentialName: "ci", applicationCredentialSecret: SECRET, userId: "u-9", username: undefined, password: undefined }),
    );
    expect(byUserId.auth.identity.application_credential).toEqual({ name: "ci", secret: SECRET, user: { id: "u-9" } });
    expect(byUserId.auth.scope).toBeUndefined();
    const byName: any = v3AuthBody(conn({ authMethod: "application_credential", applicationCredentialName: "ci", applicationCredentialSecret: SECRET, username: "alice", userDomainName: "Corp" }));
    expect(byName.auth.identity.application_credential).toEqual({ name: "ci", secret: SECRET, user: { name: "alice", domain: { name: "Corp" } } });
    expect(byName.auth.identity.methods).toEqual(["application_credential"]);
    expect(byName.auth.scope).toBeUndefined();
  });

  it("application credential by name resolved from OS_* carries the default user domain", () => {
    const c = resolveConnection({
      env: { OS_AUTH_URL: "http://k:5000/v3", OS_APPLICATION_CREDENTIAL_NAME: "ci", OS_APPLICATION_CREDENTIAL_SECRET: SECRET, OS_USERNAME: "alice" },
    });
    const b: any = v3AuthBody(c);
    expect(b.auth.identity.application_credential.user).toEqual({ name: "alice", domain: { name: "Default" } });
  });
});

describe("v2AuthBody", () => {
  it("passwordCredentials + tenantName", () => {
    expect(v2AuthBody(conn({ identityApiVersion: "2.0", userDomainName: undefined, projectDomainName: undefined }))).toEqual({
      auth: { tenantName: "demo", passwordCredentials: { username: "admin", password: PASSWORD } },
    });
  });

  it("tenantId when a project id is given", () => {
    const b: any = v2AuthBody(conn({ identityApiVersion: "2.0", projectId: "t-1", projectName: undefined }));
    expect(b.auth.tenantId).toBe("t-1");
    expect(b.auth.tenantName).toBeUndefined();
  });
});

const V3_CATALOG = [
  {
    type: "compute",
    name: "nova",
    endpoints: [
      { interface: "public", region_id: "RegionOne", region: "legacy-region-name", url: "http://nova-pub-1:8774/v2.1/" },
      { interface: "internal", region_id: "RegionOne", url: "http://nova-int-1:8774/v2.1" },
      { interface: "public", region: "RegionTwo", url: "http://nova-pub-2:8774/v2.1" },
    ],
  },
  { type: "image", name: "glance", endpoints: [{ interface: "admin", region_id: "RegionOne", url: "http://glance-adm:9292" }, { interface: "bogus", url: "http://x" }] },
];

describe("catalog parsing", () => {
  it("v3: one entry per endpoint, region_id first then region, unknown interfaces dropped", () => {
    const c = parseV3Catalog(V3_CATALOG);
    expect(c).toEqual([
      { type: "compute", interface: "public", region: "RegionOne", url: "http://nova-pub-1:8774/v2.1/" },
      { type: "compute", interface: "internal", region: "RegionOne", url: "http://nova-int-1:8774/v2.1" },
      { type: "compute", interface: "public", region: "RegionTwo", url: "http://nova-pub-2:8774/v2.1" },
      { type: "image", interface: "admin", region: "RegionOne", url: "http://glance-adm:9292" },
    ]);
    expect(parseV3Catalog(undefined)).toEqual([]);
  });

  it("v2.0: publicURL/internalURL/adminURL become the three interfaces", () => {
    const c = parseV2Catalog([
      { type: "compute", name: "nova", endpoints: [{ region: "RegionOne", publicURL: "http://h:8774/v2/t1", internalURL: "http://i:8774/v2/t1", adminURL: "http://a:8774/v2/t1" }] },
      { type: "image", name: "glance", endpoints: [{ region: "RegionOne", publicURL: "http://h:9292" }] },
    ]);
    expect(c).toEqual([
      { type: "compute", interface: "public", region: "RegionOne", url: "http://h:8774/v2/t1" },
      { type: "compute", interface: "internal", region: "RegionOne", url: "http://i:8774/v2/t1" },
      { type: "compute", interface: "admin", region: "RegionOne", url: "http://a:8774/v2/t1" },
      { type: "image", interface: "public", region: "RegionOne", url: "http://h:9292" },
    ]);
  });
});

describe("selectEndpoint: type, then interface, then region", () => {
  const catalog: CatalogEndpoint[] = parseV3Catalog(V3_CATALOG);

  it("selects by type and interface, strips the trailing slash", () => {
    expect(selectEndpoint(catalog, "compute", "public")).toBe("http://nova-pub-1:8774/v2.1");
    expect(selectEndpoint(catalog, "compute", "internal")).toBe("http://nova-int-1:8774/v2.1");
  });

  it("selects by region", () => {
    expect(selectEndpoint(catalog, "compute", "public", "RegionTwo")).toBe("http://nova-pub-2:8774/v2.1");
  });

  it("no service of that type: names the type and lists what there is", () => {
    expect(() => selectEndpoint(catalog, "network", "public")).toThrow('the Keystone catalog has no "network" service (it has: compute, image)');
  });

  it("no endpoint with that interface: names the interface and lists what there is", () => {
    expect(() => selectEndpoint(catalog, "image", "public")).toThrow('the "image" service has no public endpoint (it has: admin)');
  });

  it("no endpoint in that region: names the region and lists the regions", () => {
    expect(() => selectEndpoint(catalog, "compute", "public", "RegionNine")).toThrow('the "compute" service has no public endpoint in region "RegionNine" (regions: RegionOne, RegionTwo)');
  });
});

describe("cacheKey", () => {
  it("is stable for the same principal", () => {
    expect(cacheKey(conn())).toBe(cacheKey(conn()));
    expect(cacheKey(conn({ timeoutMs: 9, region: "X" }))).toBe(cacheKey(conn()));
  });

  it("differs per principal", () => {
    const k = cacheKey(conn());
    for (const other of [
      conn({ username: "someone" }),
      conn({ projectName: "other" }),
      conn({ authUrl: "http://other:5000/v3" }),
      conn({ userDomainName: "Corp" }),
      conn({ projectDomainName: "Corp" }),
      conn({ password: "another-password" }),
      conn({ authMethod: "application_credential", applicationCredentialId: "ac", applicationCredentialSecret: SECRET }),
    ]) {
      expect(cacheKey(other)).not.toBe(k);
    }
  });

  it("is a hash that does not contain the secret", () => {
    const k = cacheKey(conn());
    expect(k).toMatch(/^[0-9a-f]{64}$/);
    expect(k).not.toContain(PASSWORD);
    const ac = cacheKey(conn({ authMethod: "application_credential", applicationCredentialId: "ac", applicationCredentialSecret: SECRET }));
    expect(ac).not.toContain(SECRET);
  });
});

// ---------------------------------------------------------------------------------------------
// Session against a fake Keystone (v3 and v2.0) + one compute service.

interface Fake {
  base: string;
  /** Tokens issued, in order. */
  issued: string[];
  /** Auth request bodies received. */
  authBodies: any[];
  /** Tokens the compute service saw, in order. */
  serviceTokens: string[];
  /** Validity of the next tokens, in ms from now (may be negative). */
  ttlMs: number;
  /** How many of the next service calls answer 401. */
  unauthorized: number;
  /** Answer auth requests with 401. */
  refuseAuth: boolean;
  server: http.Server;
}

function startFake(): Promise<Fake> {
  const fake: Fake = { base: "", issued: [], authBodies: [], serviceTokens: [], ttlMs: 3_600_000, unauthorized: 0, refuseAuth: false, server: undefined as any };
  const valid = new Set<string>();
  fake.server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString("utf8")) : undefined;
      const json = (status: number, v: unknown, headers: Record<string, string> = {}) => {
        res.writeHead(status, { "content-type": "application/json", ...headers });
        res.end(JSON.stringify(v));
      };
      const expires = () => new Date(Date.now() + fake.ttlMs).toISOString();
      if (req.method === "POST" && req.url === "/v3/auth/tokens") {
        fake.authBodies.push(body);
        if (fake.refuseAuth) return json(401, { error: { code: 401, message: "The request you have made requires authentication.", title: "Unauthorized" } });
        const token = `v3tok-${fake.issued.length + 1}`;
        fake.issued.push(token);
        valid.add(token);
        return json(
          201,
          {
            token: {
              methods: ["password"],
              expires_at: expires(),
              project: { id: "p-1", name: "demo", domain: { id: "default", name: "Default" } },
              user: { id: "u-1", name: "admin" },
              roles: [{ id: "r", name: "admin" }],
              catalog: [
                { type: "identity", name: "keystone", endpoints: [{ interface: "public", region_id: "RegionOne", url: `${fake.base}/v3` }] },
                { type: "compute", name: "nova", endpoints: [{ interface: "public", region_id: "RegionOne", region: "RegionOne", url: `${fake.base}/compute/` }] },
              ],
            },
          },
          { "x-subject-token": token },
        );
      }
      if (req.method === "POST" && req.url === "/v2.0/tokens") {
        fake.authBodies.push(body);
        const token = `v2tok-${fake.issued.length + 1}`;
        fake.issued.push(token);
        valid.add(token);
        return json(200, {
          access: {
            token: { id: token, expires: expires(), tenant: { id: "t-1", name: "demo", enabled: true } },
            serviceCatalog: [{ type: "compute", name: "nova", endpoints: [{ region: "RegionOne", publicURL: `${fake.base}/compute`, internalURL: "http://127.0.0.1:1/x", adminURL: "http://127.0.0.1:1/y" }] }],
            user: { id: "u-1", name: "admin", roles: [{ name: "admin" }] },
          },
        });
      }
      if (req.url?.startsWith("/compute/")) {
        const tok = String(req.headers["x-auth-token"] ?? "");
        fake.serviceTokens.push(tok);
        if (fake.unauthorized > 0) {
          fake.unauthorized--;
          return json(401, { error: { code: 401, message: "token expired or revoked" } });
        }
        if (!valid.has(tok)) return json(401, { error: { code: 401, message: "unknown token" } });
        return json(200, { ok: true, path: req.url });
      }
      json(404, { itemNotFound: { code: 404, message: `no route ${req.method} ${req.url}` } });
    });
  });
  return new Promise((resolve) => {
    fake.server.listen(0, "127.0.0.1", () => {
      fake.base = `http://127.0.0.1:${(fake.server.address() as AddressInfo).port}`;
      resolve(fake);
    });
  });
}

describe("Session against a fake Keystone", () => {
  let fake: Fake;
  let n = 0;
  beforeAll(async () => {
    fake = await startFake();
  });
  afterAll(() => {
    fake.server.closeAllConnections();
    return new Promise<void>((r) => fake.server.close(() => r()));
  });

  /** A fresh principal (the token cache is process-wide), with counters reset. */
  function session(version: "3" | "2.0" = "3", over: Record<string, unknown> = {}): Session {
    fake.issued.length = 0;
    fake.authBodies.length = 0;
    fake.serviceTokens.length = 0;
    fake.ttlMs = 3_600_000;
    fake.unauthorized = 0;
    fake.refuseAuth = false;
    n++;
    const c = resolveConnection({
      connection: { authUrl: `${fake.base}/${version === "3" ? "v3" : "v2.0"}`, username: `user-${n}`, password: PASSWORD, projectName: "demo", retries: 0, timeoutMs: 5000, ...over },
      env: {},
    });
    return new Session(c);
  }

  const ping = (s: Session, call = "ping") => s.request("nova", { call, method: "GET", path: "/ping" });

  it("issues a v3 token with the password body and reuses it across requests", async () => {
    const s = session();
    const r1 = await ping(s);
    const r2 = await ping(s);
    expect(r1.status).toBe(200);
    expect(r2.json().path).toBe("/compute/ping");
    expect(fake.issued).toEqual(["v3tok-1"]);
    expect(fake.serviceTokens).toEqual(["v3tok-1", "v3tok-1"]);
    expect(fake.authBodies[0]).toEqual({
      auth: {
        identity: { methods: ["password"], password: { user: { name: `user-${n}`, domain: { name: "Default" }, password: PASSWORD } } },
        scope: { project: { name: "demo", domain: { name: "Default" } } },
      },
    });
  });

  it("auth(true) issues a new token even when a valid one is cached", async () => {
    const s = session();
    const a = await s.auth();
    const b = await s.auth(true);
    expect(a.token).toBe("v3tok-1");
    expect(b.token).toBe("v3tok-2");
    expect((await s.auth()).token).toBe("v3tok-2");
  });

  it("concurrent requests of one principal share one login (a refresh of many resources logs in once)", async () => {
    const s = session();
    const others = [new Session(s.conn), new Session(s.conn)];
    const rs = await Promise.all([ping(s, "a"), ping(s, "b"), ...others.map((o) => ping(o, "c"))]);
    expect(rs.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    expect(fake.issued).toEqual(["v3tok-1"]);
    expect(fake.serviceTokens).toEqual(["v3tok-1", "v3tok-1", "v3tok-1", "v3tok-1"]);
  });

  it("a failed shared login fails every waiter, and the next request logs in again", async () => {
    const s = session();
    fake.refuseAuth = true;
    const results = await Promise.allSettled([ping(s, "a"), ping(s, "b")]);
    expect(results.map((r) => r.status)).toEqual(["rejected", "rejected"]);
    fake.refuseAuth = false;
    expect((await ping(s, "c")).status).toBe(200);
    expect(fake.issued).toEqual(["v3tok-1"]);
  });

  it("shares the token between two sessions of the same principal", async () => {
    const s = session();
    await ping(s);
    const again = new Session(s.conn);
    await ping(again);
    expect(fake.issued).toHaveLength(1);
  });

  it("re-issues the token when it is within the expiry margin", async () => {
    const s = session();
    fake.ttlMs = 30_000; // expires in 30 s: inside the 60 s margin, so never reused
    await ping(s);
    await ping(s);
    expect(fake.issued).toEqual(["v3tok-1", "v3tok-2"]);
    expect(fake.serviceTokens).toEqual(["v3tok-1", "v3tok-2"]);
  });

  it("re-issues the token when it has expired", async () => {
    const s = session();
    fake.ttlMs = -5_000;
    await ping(s);
    fake.ttlMs = 3_600_000;
    await ping(s);
    await ping(s);
    expect(fake.issued).toEqual(["v3tok-1", "v3tok-2"]);
    expect(fake.serviceTokens).toEqual(["v3tok-1", "v3tok-2", "v3tok-2"]);
  });

  it("re-authenticates exactly once on a 401 from the service, then succeeds", async () => {
    const s = session();
    await ping(s);
    fake.unauthorized = 1;
    const r = await ping(s);
    expect(r.status).toBe(200);
    expect(fake.issued).toEqual(["v3tok-1", "v3tok-2"]);
    expect(fake.serviceTokens).toEqual(["v3tok-1", "v3tok-1", "v3tok-2"]);
  });

  it("a second 401 surfaces as an ApiError (no third attempt)", async () => {
    const s = session();
    fake.unauthorized = 5;
    let err: unknown;
    try {
      await ping(s, "list servers");
    } catch (e) {
      err = e;
    }
    expect(isApiError(err, 401)).toBe(true);
    const e = err as ApiError;
    expect(e).toBeInstanceOf(ApiError);
    expect(e.service).toBe("nova");
    expect(e.call).toBe("list servers");
    expect(e.serverMessage).toBe("token expired or revoked");
    expect(fake.serviceTokens).toHaveLength(2);
    expect(fake.issued).toHaveLength(2);
  });

  it("a refused authentication says to check the credentials and does not echo the password", async () => {
    const s = session();
    fake.refuseAuth = true;
    let err: unknown;
    try {
      await ping(s);
    } catch (e) {
      err = e;
    }
    expect(isApiError(err, 401)).toBe(true);
    const e = err as ApiError;
    expect(e.service).toBe("keystone");
    expect(e.message).toMatch(/check the credentials \(from connection\)/);
    expect(e.message).not.toContain(PASSWORD);
    expect(e.serverMessage).not.toContain(PASSWORD);
    // Bad credentials are tried once, not twice (the re-auth is for a token the service refused).
    expect(fake.authBodies).toHaveLength(1);
    expect(fake.serviceTokens).toHaveLength(0);
  });

  it("v2.0: POST /v2.0/tokens (200), token from the body, publicURL from serviceCatalog", async () => {
    const s = session("2.0");
    const r = await ping(s);
    await ping(s);
    expect(r.status).toBe(200);
    expect(fake.issued).toEqual(["v2tok-1"]);
    expect(fake.serviceTokens).toEqual(["v2tok-1", "v2tok-1"]);
    expect(fake.authBodies[0]).toEqual({ auth: { tenantName: "demo", passwordCredentials: { username: `user-${n}`, password: PASSWORD } } });
    const a = await s.auth();
    expect(a.projectId).toBe("t-1");
    expect(a.roles).toEqual(["admin"]);
  });

  it("endpoint(): picks from the catalog, and the Contrail URL from the connection", async () => {
    const s = session("3", { contrailApiUrl: "http://vnc.test:8082" });
    expect(await s.endpoint("nova")).toBe(`${fake.base}/compute`);
    expect(await s.endpoint("contrail")).toBe("http://vnc.test:8082");
    await expect(s.endpoint("neutron")).rejects.toThrow(/no "network" service/);
  });

  it("endpoint(): an unknown region fails with the region in the message", async () => {
    const s = session("3", { region: "RegionX" });
    await expect(s.endpoint("nova")).rejects.toThrow(/region "RegionX"/);
  });
});
