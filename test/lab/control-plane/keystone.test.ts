import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLab, type Lab } from "./index";
import { call, token } from "./test-helpers";

let lab: Lab;
let shortLab: Lab;

beforeAll(async () => {
  lab = await startLab();
  shortLab = await startLab({ tokenTtlSeconds: 0.3 });
});
afterAll(async () => {
  await lab.stop();
  await shortLab.stop();
});

const passwordAuth = (l: Lab, password: string, scope?: unknown) => ({
  auth: {
    identity: { methods: ["password"], password: { user: { name: l.admin.username, domain: { name: "Default" }, password } } },
    ...(scope === undefined ? {} : { scope }),
  },
});

describe("keystone v3", () => {
  it("issues a project-scoped token in X-Subject-Token with roles, expiry and a catalog", async () => {
    const res = await call(`${lab.urls.keystone}/v3/auth/tokens`, {
      json: passwordAuth(lab, lab.admin.password, { project: { name: "admin", domain: { id: "default" } } }),
    });
    expect(res.status).toBe(201);
    expect(res.headers.get("x-subject-token")).toMatch(/^gAAAAA/);
    const body = res.json().token;
    expect(body.project).toMatchObject({ id: lab.admin.projectId, name: "admin", domain: { id: "default", name: "Default" } });
    expect(body.roles.map((r: { name: string }) => r.name)).toContain("admin");
    expect(body.expires_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    const types = body.catalog.map((s: { type: string }) => s.type).sort();
    expect(types).toEqual(["compute", "identity", "image", "network"]);
    const compute = body.catalog.find((s: { type: string }) => s.type === "compute");
    expect(compute.endpoints.map((e: { interface: string }) => e.interface).sort()).toEqual(["admin", "internal", "public"]);
    expect(compute.endpoints[0]).toMatchObject({ region: "RegionOne", region_id: "RegionOne", url: `${lab.urls.nova}/v2.1` });
  });

  it("scopes by project id and leaves the catalog out with ?nocatalog", async () => {
    const res = await call(`${lab.urls.keystone}/v3/auth/tokens?nocatalog`, {
      json: passwordAuth(lab, lab.admin.password, { project: { id: lab.admin.projectId } }),
    });
    expect(res.status).toBe(201);
    expect(res.json().token.catalog).toBeUndefined();
  });

  it("refuses a bad password with Keystone's 401 body", async () => {
    const res = await call(`${lab.urls.keystone}/v3/auth/tokens`, { json: passwordAuth(lab, "wrong") });
    expect(res.status).toBe(401);
    expect(res.json()).toEqual({
      error: { code: 401, message: "The request you have made requires authentication.", title: "Unauthorized" },
    });
  });

  it("refuses a scope on a project the user has no role in", async () => {
    const res = await call(`${lab.urls.keystone}/v3/auth/tokens`, {
      json: {
        auth: {
          identity: { methods: ["password"], password: { user: { name: lab.member.username, domain: { name: "Default" }, password: lab.member.password } } },
          scope: { project: { name: "admin", domain: { name: "Default" } } },
        },
      },
    });
    expect(res.status).toBe(401);
  });

  it("authenticates an application credential by id and by name + user, and refuses a scope", async () => {
    const { id, secret } = lab.admin.applicationCredential;
    const byId = await call(`${lab.urls.keystone}/v3/auth/tokens`, {
      json: { auth: { identity: { methods: ["application_credential"], application_credential: { id, secret } } } },
    });
    expect(byId.status).toBe(201);
    expect(byId.json().token.project.id).toBe(lab.admin.projectId);
    expect(byId.json().token.application_credential.id).toBe(id);

    const byName = await call(`${lab.urls.keystone}/v3/auth/tokens`, {
      json: {
        auth: {
          identity: {
            methods: ["application_credential"],
            application_credential: { name: "dw-lab", secret, user: { name: lab.admin.username, domain: { name: "Default" } } },
          },
        },
      },
    });
    expect(byName.status).toBe(201);

    const scoped = await call(`${lab.urls.keystone}/v3/auth/tokens`, {
      json: {
        auth: {
          identity: { methods: ["application_credential"], application_credential: { id, secret } },
          scope: { project: { id: lab.admin.projectId } },
        },
      },
    });
    expect(scoped.status).toBe(401);
    const wrong = await call(`${lab.urls.keystone}/v3/auth/tokens`, {
      json: { auth: { identity: { methods: ["application_credential"], application_credential: { id, secret: "nope" } } } },
    });
    expect(wrong.status).toBe(401);
  });

  it("validates tokens with GET /v3/auth/tokens (404 for an unknown subject, 401 without a caller token)", async () => {
    const t = await token(lab);
    const ok = await call(`${lab.urls.keystone}/v3/auth/tokens`, { token: t, headers: { "x-subject-token": t } });
    expect(ok.status).toBe(200);
    expect(ok.json().token.user.name).toBe("admin");
    const unknown = await call(`${lab.urls.keystone}/v3/auth/tokens`, { token: t, headers: { "x-subject-token": "bogus" } });
    expect(unknown.status).toBe(404);
    const anonymous = await call(`${lab.urls.keystone}/v3/auth/tokens`, { headers: { "x-subject-token": t } });
    expect(anonymous.status).toBe(401);
  });

  it("answers discovery on / (300) and /v3", async () => {
    const root = await call(`${lab.urls.keystone}/`);
    expect(root.status).toBe(300);
    expect(root.json().versions.values.map((v: { id: string }) => v.id)).toEqual(["v3.14", "v2.0"]);
    const v3 = await call(`${lab.urls.keystone}/v3`);
    expect(v3.json().version.status).toBe("stable");
  });

  it("lists projects for an admin token", async () => {
    const res = await call(`${lab.urls.keystone}/v3/projects?name=demo`, { token: await token(lab) });
    expect(res.status).toBe(200);
    expect(res.json().projects.map((p: { name: string }) => p.name)).toEqual(["demo"]);
  });
});

describe("keystone v2.0", () => {
  it("answers POST /v2.0/tokens with 200, the token in the body and a v2 catalog", async () => {
    const res = await call(`${lab.urls.keystone}/v2.0/tokens`, {
      json: { auth: { tenantName: "admin", passwordCredentials: { username: "admin", password: lab.admin.password } } },
    });
    expect(res.status).toBe(200);
    const access = res.json().access;
    expect(access.token.id).toMatch(/^gAAAAA/);
    expect(access.token.expires).toMatch(/Z$/);
    expect(access.token.tenant).toMatchObject({ id: lab.admin.projectId, name: "admin" });
    const image = access.serviceCatalog.find((s: { type: string }) => s.type === "image");
    expect(image.endpoints[0]).toMatchObject({ region: "RegionOne", publicURL: lab.urls.glance, internalURL: lab.urls.glance, adminURL: lab.urls.glance });
    expect(access.user.roles.map((r: { name: string }) => r.name)).toContain("admin");
    // The v2 token works against the other services.
    const nova = await call(`${lab.urls.nova}/v2.1/os-services`, { token: access.token.id });
    expect(nova.status).toBe(200);
  });

  it("refuses bad credentials with 401", async () => {
    const res = await call(`${lab.urls.keystone}/v2.0/tokens`, {
      json: { auth: { tenantName: "admin", passwordCredentials: { username: "admin", password: "nope" } } },
    });
    expect(res.status).toBe(401);
    expect(res.json().error.title).toBe("Unauthorized");
  });
});

describe("token expiry", () => {
  it("turns an expired token into 401 everywhere", async () => {
    const t = await token(shortLab);
    const before = await call(`${shortLab.urls.neutron}/v2.0/networks`, { token: t });
    expect(before.status).toBe(200);
    await new Promise((r) => setTimeout(r, 400));
    for (const url of [
      `${shortLab.urls.neutron}/v2.0/networks`,
      `${shortLab.urls.nova}/v2.1/os-aggregates`,
      `${shortLab.urls.glance}/v2/images`,
      `${shortLab.urls.contrail}/service-templates`,
    ]) {
      const res = await call(url, { token: t });
      expect(res.status, url).toBe(401);
      expect(res.json().error.message).toBe("The request you have made requires authentication.");
      expect(res.headers.get("www-authenticate")).toContain(shortLab.urls.keystone);
    }
  });
});
