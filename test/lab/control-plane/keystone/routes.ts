/** Keystone v3 and v2.0: version discovery, token issue/validation, projects. */
import { HttpError, statusTitle } from "../http/errors";
import { empty, json, type Reply } from "../http/reply";
import { Router, type RequestContext } from "../http/router";
import { isObject, isoMicros, isoSeconds } from "../util/ids";
import { UNAUTHORIZED_MESSAGE } from "../auth";
import { DEFAULT_DOMAIN_ID, type AuthContext, type Identity, type NameOrId, type Project, type TokenRecord, type User } from "./identity";
import type { LabUrls } from "../core";

export const REGION = "RegionOne";

export interface CatalogService {
  id: string;
  type: string;
  name: string;
  /** Per-version URL: v3 catalogs may differ from v2.0 catalogs (identity). */
  url(version: "v3" | "v2.0"): string;
}

export function buildCatalog(urls: () => LabUrls): CatalogService[] {
  const svc = (type: string, name: string, url: (v: "v3" | "v2.0") => string): CatalogService => ({
    id: `${type}-service`,
    type,
    name,
    url,
  });
  return [
    svc("identity", "keystone", (v) => `${urls().keystone}/${v}`),
    svc("compute", "nova", () => `${urls().nova}/v2.1`),
    svc("image", "glance", () => urls().glance),
    svc("network", "neutron", () => urls().neutron),
  ];
}

const INTERFACES = ["public", "internal", "admin"] as const;

function v3Catalog(catalog: CatalogService[]): unknown[] {
  return catalog.map((s) => ({
    id: s.id,
    type: s.type,
    name: s.name,
    endpoints: INTERFACES.map((i) => ({
      id: `${s.type}-${i}`,
      interface: i,
      region: REGION,
      region_id: REGION,
      url: s.url("v3"),
    })),
  }));
}

function v2Catalog(catalog: CatalogService[]): unknown[] {
  return catalog.map((s) => ({
    type: s.type,
    name: s.name,
    endpoints_links: [],
    endpoints: [
      {
        id: `${s.type}-endpoint`,
        region: REGION,
        publicURL: s.url("v2.0"),
        internalURL: s.url("v2.0"),
        adminURL: s.url("v2.0"),
      },
    ],
  }));
}

function validationError(attribute: string, target: string): HttpError {
  return new HttpError(
    400,
    `Expecting to find ${attribute} in ${target}. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.`,
  );
}

function keystoneUnauthorized(message = UNAUTHORIZED_MESSAGE): HttpError {
  return new HttpError(401, message);
}

export function keystoneRouter(identity: Identity, urls: () => LabUrls, catalog: CatalogService[]): Router {
  const r = new Router();

  const domainJson = (id: string) => ({ id, name: identity.domains.get(id)?.name ?? id });
  const projectJson = (p: Project) => ({
    id: p.id,
    name: p.name,
    domain_id: p.domainId,
    description: p.description,
    enabled: true,
    is_domain: false,
    parent_id: p.domainId,
    tags: [],
    links: { self: `${urls().keystone}/v3/projects/${p.id}` },
  });

  const v3Token = (token: TokenRecord, withCatalog: boolean) => {
    const user = identity.users.get(token.userId) as User;
    const project = token.projectId ? identity.projects.get(token.projectId) : undefined;
    const body: Record<string, unknown> = {
      methods: token.methods,
      user: { id: user.id, name: user.name, domain: domainJson(user.domainId), password_expires_at: null },
      audit_ids: [token.auditId],
      expires_at: isoMicros(token.expiresAt),
      issued_at: isoMicros(token.issuedAt),
    };
    if (project) {
      body.project = { id: project.id, name: project.name, domain: domainJson(project.domainId) };
      body.is_domain = false;
      body.roles = token.roleIds.map((id) => ({ id, name: identity.roles.get(id)?.name }));
      if (withCatalog) body.catalog = v3Catalog(catalog);
    }
    if (token.applicationCredentialId) {
      const cred = identity.applicationCredentials.get(token.applicationCredentialId);
      body.application_credential = { id: cred?.id, name: cred?.name, restricted: true };
    }
    return { token: body };
  };

  const requireCaller = (ctx: RequestContext): AuthContext => {
    const auth = identity.context(header(ctx, "x-auth-token"));
    if (!auth) throw keystoneUnauthorized();
    return auth;
  };

  // ---- version discovery
  const v3Version = () => ({
    id: "v3.14",
    status: "stable",
    updated: "2020-04-07T00:00:00Z",
    links: [{ rel: "self", href: `${urls().keystone}/v3/` }],
    "media-types": [{ base: "application/json", type: "application/vnd.openstack.identity-v3+json" }],
  });
  const v2Version = () => ({
    id: "v2.0",
    status: "deprecated",
    updated: "2016-08-04T00:00:00Z",
    links: [{ rel: "self", href: `${urls().keystone}/v2.0/` }],
    "media-types": [{ base: "application/json", type: "application/vnd.openstack.identity-v2.0+json" }],
  });
  r.get("/", () => json(300, { versions: { values: [v3Version(), v2Version()] } }));
  r.get("/v3", () => json(200, { version: v3Version() }));
  r.get("/v2.0", () => json(200, { version: v2Version() }));

  // ---- v3 tokens
  r.post("/v3/auth/tokens", async (ctx) => {
    const body = await ctx.json();
    const auth = isObject(body) ? body.auth : undefined;
    if (!isObject(auth)) throw validationError("auth", "the request body");
    const identityPart = auth.identity;
    if (!isObject(identityPart)) throw validationError("identity", "auth");
    const methods = identityPart.methods;
    if (!Array.isArray(methods) || methods.length === 0) throw validationError("methods", "identity");

    let user: User | null = null;
    let appCredId: string | null = null;
    let forcedProject: string | null = null;
    let inheritedScope: string | null | undefined;
    for (const method of methods) {
      const part = identityPart[String(method)];
      if (!isObject(part)) throw validationError(String(method), "identity");
      if (method === "password") {
        const u = part.user;
        if (!isObject(u)) throw validationError("user", "password");
        if (typeof u.id !== "string" && typeof u.name !== "string") throw validationError("id or name", "user");
        if (typeof u.id !== "string" && !isObject(u.domain)) throw validationError("domain", "user");
        const found = identity.findUser(u as NameOrId);
        if (!found || found.password !== u.password) throw keystoneUnauthorized();
        user = found;
      } else if (method === "token") {
        const t = identity.validate(typeof part.id === "string" ? part.id : undefined);
        if (!t) throw keystoneUnauthorized();
        user = identity.users.get(t.userId) ?? null;
        inheritedScope = t.projectId;
      } else if (method === "application_credential") {
        const cred = findApplicationCredential(identity, part);
        if (!cred || cred.secret !== part.secret) throw keystoneUnauthorized();
        if (auth.scope !== undefined) {
          throw keystoneUnauthorized("Error authenticating with application credential: You are not allowed to request a scope");
        }
        user = identity.users.get(cred.userId) ?? null;
        appCredId = cred.id;
        forcedProject = cred.projectId;
      } else {
        throw keystoneUnauthorized(`Attempted to authenticate with an unsupported method.`);
      }
    }
    if (!user) throw keystoneUnauthorized();

    let projectId: string | null;
    if (forcedProject) projectId = forcedProject;
    else if (auth.scope === "unscoped") projectId = null;
    else if (auth.scope === undefined) projectId = inheritedScope !== undefined ? inheritedScope : user.defaultProjectId;
    else if (isObject(auth.scope) && isObject(auth.scope.project)) {
      const ref = auth.scope.project;
      if (typeof ref.id !== "string" && typeof ref.name !== "string") throw validationError("id or name", "project");
      if (typeof ref.id !== "string" && !isObject(ref.domain)) throw validationError("domain", "project");
      const project = identity.findProject(ref as NameOrId);
      if (!project) throw keystoneUnauthorized();
      projectId = project.id;
    } else if (isObject(auth.scope) && (isObject(auth.scope.domain) || isObject(auth.scope.system))) {
      // The lab grants no domain or system roles.
      throw keystoneUnauthorized();
    } else {
      throw validationError("project, domain or system", "scope");
    }

    let roleIds: string[] = [];
    if (projectId) {
      roleIds = appCredId ? (identity.applicationCredentials.get(appCredId)?.roleIds ?? []) : identity.roleIdsOn(user.id, projectId);
      if (roleIds.length === 0) throw keystoneUnauthorized();
    }
    const token = identity.issue(user.id, projectId, methods.map(String), roleIds, appCredId);
    return json(201, v3Token(token, !ctx.query.has("nocatalog")), { "x-subject-token": token.id });
  });

  const subject = (ctx: RequestContext): TokenRecord => {
    requireCaller(ctx);
    const id = header(ctx, "x-subject-token");
    const token = identity.validate(id);
    if (!token) throw new HttpError(404, `Could not find token: ${id ?? ""}.`);
    return token;
  };
  r.get("/v3/auth/tokens", (ctx) => {
    const token = subject(ctx);
    return json(200, v3Token(token, !ctx.query.has("nocatalog")), { "x-subject-token": token.id });
  });
  r.delete("/v3/auth/tokens", (ctx) => {
    identity.revoke(subject(ctx).id);
    return empty(204);
  });
  r.get("/v3/auth/catalog", (ctx) => {
    requireCaller(ctx);
    return json(200, { catalog: v3Catalog(catalog), links: { self: `${urls().keystone}/v3/auth/catalog` } });
  });
  r.get("/v3/auth/projects", (ctx) => {
    const auth = requireCaller(ctx);
    return json(200, { projects: identity.projectsOf(auth.userId).map(projectJson) });
  });

  // ---- v3 projects (enough for Contrail's mirroring and for clients resolving names)
  r.get("/v3/projects", (ctx) => {
    const auth = requireCaller(ctx);
    let projects = auth.isAdmin ? [...identity.projects.values()] : identity.projectsOf(auth.userId);
    const name = ctx.query.get("name");
    if (name !== null) projects = projects.filter((p) => p.name === name);
    const domainId = ctx.query.get("domain_id");
    if (domainId !== null) projects = projects.filter((p) => p.domainId === domainId);
    return json(200, { projects: projects.map(projectJson), links: { self: `${urls().keystone}/v3/projects`, next: null, previous: null } });
  });
  r.get("/v3/projects/{id}", (ctx) => {
    const auth = requireCaller(ctx);
    const project = identity.projects.get(ctx.params.id);
    const visible = project && (auth.isAdmin || identity.projectsOf(auth.userId).some((p) => p.id === project.id));
    if (!project || !visible) throw new HttpError(404, `Could not find project: ${ctx.params.id}.`);
    return json(200, { project: projectJson(project) });
  });
  r.get("/v3/users/{id}/projects", (ctx) => {
    const auth = requireCaller(ctx);
    if (!auth.isAdmin && auth.userId !== ctx.params.id) throw new HttpError(403, "You are not authorized to perform the requested action: identity:list_user_projects.");
    if (!identity.users.has(ctx.params.id)) throw new HttpError(404, `Could not find user: ${ctx.params.id}.`);
    return json(200, { projects: identity.projectsOf(ctx.params.id).map(projectJson) });
  });

  // ---- v2.0
  r.post("/v2.0/tokens", async (ctx) => {
    const body = await ctx.json();
    const auth = isObject(body) ? body.auth : undefined;
    if (!isObject(auth)) throw validationError("auth", "the request body");
    let user: User | null = null;
    let inheritedScope: string | null = null;
    if (isObject(auth.passwordCredentials)) {
      const pc = auth.passwordCredentials;
      if (typeof pc.username !== "string" && typeof pc.userId !== "string") throw validationError("username", "passwordCredentials");
      const found = identity.findUser(typeof pc.userId === "string" ? { id: pc.userId } : { name: pc.username }, DEFAULT_DOMAIN_ID);
      if (!found || found.domainId !== DEFAULT_DOMAIN_ID || found.password !== pc.password) throw keystoneUnauthorized();
      user = found;
    } else if (isObject(auth.token)) {
      const t = identity.validate(typeof auth.token.id === "string" ? auth.token.id : undefined);
      if (!t) throw keystoneUnauthorized();
      user = identity.users.get(t.userId) ?? null;
      inheritedScope = t.projectId;
    } else {
      throw validationError("passwordCredentials or token", "auth");
    }
    if (!user) throw keystoneUnauthorized();
    let project: Project | null = null;
    if (typeof auth.tenantId === "string") project = identity.projects.get(auth.tenantId) ?? null;
    else if (typeof auth.tenantName === "string") project = identity.findProject({ name: auth.tenantName }, DEFAULT_DOMAIN_ID);
    else if (inheritedScope) project = identity.projects.get(inheritedScope) ?? null;
    if ((auth.tenantId !== undefined || auth.tenantName !== undefined) && !project) throw keystoneUnauthorized();
    const roleIds = project ? identity.roleIdsOn(user.id, project.id) : [];
    if (project && roleIds.length === 0) throw keystoneUnauthorized();
    const token = identity.issue(user.id, project?.id ?? null, ["password"], roleIds);
    const access: Record<string, unknown> = {
      token: {
        id: token.id,
        issued_at: isoMicros(token.issuedAt),
        expires: isoSeconds(token.expiresAt),
        audit_ids: [token.auditId],
        ...(project ? { tenant: { id: project.id, name: project.name, enabled: true, description: project.description } } : {}),
      },
      serviceCatalog: project ? v2Catalog(catalog) : [],
      user: {
        id: user.id,
        name: user.name,
        username: user.name,
        roles: roleIds.map((id) => ({ name: identity.roles.get(id)?.name })),
        roles_links: [],
      },
      metadata: { is_admin: 0, roles: roleIds },
    };
    return json(200, { access });
  });
  r.get("/v2.0/tenants", (ctx) => {
    const auth = requireCaller(ctx);
    const tenants = identity.projectsOf(auth.userId).map((p) => ({ id: p.id, name: p.name, enabled: true, description: p.description }));
    return json(200, { tenants, tenants_links: [] });
  });

  return r;
}

function findApplicationCredential(identity: Identity, part: Record<string, unknown>) {
  if (typeof part.id === "string") return identity.applicationCredentials.get(part.id) ?? null;
  if (typeof part.name !== "string" || !isObject(part.user)) return null;
  const user = identity.findUser(part.user as NameOrId);
  if (!user) return null;
  return [...identity.applicationCredentials.values()].find((c) => c.name === part.name && c.userId === user.id) ?? null;
}

function header(ctx: RequestContext, name: string): string | undefined {
  const v = ctx.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Keystone's JSON error body: {"error": {"code", "message", "title"}}. */
export function keystoneError(err: HttpError): Reply {
  return json(err.status, { error: { code: err.status, message: err.message, title: statusTitle(err.status) } });
}
