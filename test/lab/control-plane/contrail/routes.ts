/** The Contrail 2.x configuration API (port 8082 in real deployments). */
import type { IncomingMessage } from "node:http";
import { authenticate } from "../auth";
import { mediaType, readCapped, MAX_JSON_BYTES } from "../http/body";
import { HttpError, statusTitle } from "../http/errors";
import { empty, json, text, type Reply } from "../http/reply";
import { Router, type RequestContext } from "../http/router";
import type { Identity } from "../keystone/identity";
import { isCanonicalUuid, isObject, pyList } from "../util/ids";
import { ConfigDb, InternalServerError, type CObject, type Writer } from "./db";
import { TYPES, typeDef } from "./schema";

export interface ContrailSettings {
  multiTenancy: boolean;
}

export interface ContrailHooks {
  /** `GET /project/<uuid>` of a project Contrail does not have yet (vnc_openstack's pre_project_read). */
  projectOnDemand(uuid: string): CObject | null;
  /** Deleting a virtual-network that mirrors a Neutron network must also drop the Neutron side. */
  virtualNetworkDeleted(uuid: string): Promise<void>;
}

/**
 * Bottle parses a body as JSON only when the Content-Type says so; anything else reads as None,
 * which the 2.x handlers then fail on with a 500.
 */
async function readBody(ctx: RequestContext): Promise<unknown> {
  if (mediaType(ctx.req) !== "application/json") {
    await drain(ctx.req);
    return undefined;
  }
  return ctx.json();
}

async function drain(req: IncomingMessage): Promise<void> {
  await readCapped(req, MAX_JSON_BYTES, "Request entity too large");
}

function bodyFor(body: unknown, type: string): Record<string, unknown> {
  if (!isObject(body)) throw new InternalServerError("TypeError: 'NoneType' object is not subscriptable");
  const inner = body[type];
  if (!isObject(inner)) throw new InternalServerError(`KeyError: '${type}'`);
  return inner;
}

function csv(v: string | null): string[] | undefined {
  return v === null || v === "" ? undefined : v.split(",").map((s) => s.trim()).filter((s) => s !== "");
}

function truthy(v: string | null | undefined | unknown): boolean {
  return v === true || (typeof v === "string" && ["true", "1", "yes"].includes(v.toLowerCase()));
}

export function contrailRouter(db: ConfigDb, settings: ContrailSettings, hooks: ContrailHooks): Router {
  const r = new Router();

  const writer = (ctx: RequestContext): Writer | null =>
    settings.multiTenancy && ctx.auth ? { user: ctx.auth.userName, role: ctx.auth.roles[0] ?? "" } : null;

  r.get("/", (ctx) => {
    const links: unknown[] = [];
    for (const def of TYPES.values()) {
      links.push({ link: { rel: "collection", href: `${ctx.baseUrl}/${def.plural}`, name: def.type } });
      links.push({ link: { rel: "resource-base", href: `${ctx.baseUrl}/${def.type}`, name: def.type } });
    }
    for (const action of ["fqname-to-id", "id-to-fqname", "ref-update", "list-bulk-collection", "multi-tenancy"]) {
      links.push({ link: { rel: "action", href: `${ctx.baseUrl}/${action}`, name: action } });
    }
    return json(200, { href: ctx.baseUrl, links });
  });

  for (const def of TYPES.values()) {
    const { type, plural } = def;

    r.post(`/${plural}`, async (ctx) => {
      const obj = db.create(type, bodyFor(await readBody(ctx), type), writer(ctx));
      const out: Record<string, unknown> = { name: obj.fq_name[obj.fq_name.length - 1], fq_name: obj.fq_name, uuid: obj.uuid, href: db.href(obj) };
      if (obj.parent_uuid && obj.parent_type) {
        out.parent_uuid = obj.parent_uuid;
        out.parent_href = db.href({ type: obj.parent_type, uuid: obj.parent_uuid });
      }
      return json(200, { [type]: out });
    });

    r.get(`/${plural}`, (ctx) => {
      const q = ctx.query;
      return listReply(db, type, {
        parentIds: csv(q.get("parent_id")),
        parentFqName: q.get("parent_fq_name_str")?.split(":"),
        parentType: q.get("parent_type") ?? undefined,
        backRefIds: csv(q.get("back_ref_id")),
        objUuids: csv(q.get("obj_uuids")),
        detail: truthy(q.get("detail")),
        count: truthy(q.get("count")),
        fields: csv(q.get("fields")),
        filters: q.get("filters") ?? undefined,
      });
    });

    r.get(`/${type}/{uuid}`, (ctx) => {
      const { uuid } = ctx.params;
      let obj = db.get(uuid);
      if (!obj && type === "project" && isCanonicalUuid(uuid)) obj = hooks.projectOnDemand(uuid) ?? undefined;
      if (!obj || obj.type !== type) throw new HttpError(404, `No ${type} object found for id ${uuid}`);
      const etag = `"${String((obj.props.id_perms as Record<string, unknown>).last_modified)}"`;
      if (ctx.headers["if-none-match"] === etag) return empty(304, { etag });
      const view = db.view(obj, {
        fields: csv(ctx.query.get("fields")),
        excludeBackRefs: ctx.query.has("exclude_back_refs"),
        excludeChildren: ctx.query.has("exclude_children"),
      });
      return json(200, { [type]: view }, { etag });
    });

    r.put(`/${type}/{uuid}`, async (ctx) => {
      db.mustGet(type, ctx.params.uuid);
      const obj = db.update(type, ctx.params.uuid, bodyFor(await readBody(ctx), type));
      return json(200, { [type]: { uuid: obj.uuid, href: db.href(obj) } });
    });

    r.delete(`/${type}/{uuid}`, async (ctx) => {
      db.delete(type, ctx.params.uuid);
      if (type === "virtual-network") await hooks.virtualNetworkDeleted(ctx.params.uuid);
      return text(200, "", "text/html; charset=UTF-8");
    });
  }

  r.post("/fqname-to-id", async (ctx) => {
    const body = await readBody(ctx);
    if (!isObject(body)) throw new InternalServerError("TypeError: 'NoneType' object is not subscriptable");
    const type = String(body.type);
    if (!typeDef(type)) throw new HttpError(404, `Resource type '${type}' not found`);
    const fq = Array.isArray(body.fq_name) ? (body.fq_name as string[]) : [];
    const obj = db.byFqName(type, fq);
    if (!obj) throw new HttpError(404, `Name ${pyList(fq)} not found`);
    return json(200, { uuid: obj.uuid });
  });

  r.post("/id-to-fqname", async (ctx) => {
    const body = await readBody(ctx);
    if (!isObject(body)) throw new InternalServerError("TypeError: 'NoneType' object is not subscriptable");
    const obj = typeof body.uuid === "string" ? db.get(body.uuid) : undefined;
    if (!obj) throw new HttpError(404, `UUID ${String(body.uuid)} not found`);
    return json(200, { fq_name: obj.fq_name, type: obj.type });
  });

  r.post("/ref-update", async (ctx) => refUpdate(db, await readBody(ctx)));

  r.post("/list-bulk-collection", async (ctx) => {
    const body = await readBody(ctx);
    if (!isObject(body)) throw new InternalServerError("TypeError: 'NoneType' object is not subscriptable");
    const given = String(body.type);
    const def = typeDef(given) ?? [...TYPES.values()].find((d) => d.plural === given);
    if (!def) throw new HttpError(404, `Resource type '${given}' not found`);
    const ids = (v: unknown) => (Array.isArray(v) ? v.map(String) : typeof v === "string" ? csv(v) : undefined);
    return listReply(db, def.type, {
      parentIds: ids(body.parent_id),
      backRefIds: ids(body.back_ref_id),
      objUuids: ids(body.obj_uuids),
      detail: truthy(body.detail),
      count: truthy(body.count),
      fields: ids(body.fields),
      filters: typeof body.filters === "string" ? body.filters : undefined,
    });
  });

  r.get("/multi-tenancy", () => json(200, { enabled: settings.multiTenancy }));
  r.put("/multi-tenancy", async (ctx) => {
    const body = await readBody(ctx);
    if (!isObject(body) || typeof body.enabled !== "boolean") throw new HttpError(400, "Bad Request, enabled must be a boolean");
    settings.multiTenancy = body.enabled;
    return json(200, { enabled: settings.multiTenancy });
  });

  return r;
}

interface ListQuery {
  parentIds?: string[];
  parentFqName?: string[];
  parentType?: string;
  backRefIds?: string[];
  objUuids?: string[];
  detail: boolean;
  count: boolean;
  fields?: string[];
  filters?: string;
}

function listReply(db: ConfigDb, type: string, q: ListQuery): Reply {
  const plural = (typeDef(type) as { plural: string }).plural;
  let objects = db.list(type);
  let parentIds = q.parentIds;
  if (!parentIds && q.parentFqName && q.parentType) {
    const parent = db.byFqName(q.parentType, q.parentFqName);
    parentIds = parent ? [parent.uuid] : [];
  }
  if (parentIds) objects = objects.filter((o) => o.parent_uuid !== null && parentIds.includes(o.parent_uuid));
  if (q.backRefIds) {
    const ids = q.backRefIds;
    objects = objects.filter((o) => Object.values(o.refs).some((links) => links.some((l) => ids.includes(l.uuid))));
  }
  if (q.objUuids) {
    const ids = q.objUuids;
    objects = objects.filter((o) => ids.includes(o.uuid));
  }
  if (q.filters) {
    for (const clause of q.filters.split(",")) {
      const [key, raw] = clause.split("==");
      if (key === undefined || raw === undefined) continue;
      let want: unknown = raw;
      try {
        want = JSON.parse(raw);
      } catch {
        // plain string value
      }
      objects = objects.filter((o) => JSON.stringify(o.props[key]) === JSON.stringify(want) || o.props[key] === raw);
    }
  }
  if (q.count) return json(200, { [plural]: { count: objects.length } });
  if (q.detail) return json(200, { [plural]: objects.map((o) => ({ [type]: db.view(o, { fields: undefined }) })) });
  return json(200, {
    [plural]: objects.map((o) => {
      const entry: Record<string, unknown> = { href: db.href(o), fq_name: o.fq_name, uuid: o.uuid };
      if (q.fields) {
        const full = db.view(o);
        for (const f of q.fields) if (full[f] !== undefined) entry[f] = full[f];
      }
      return entry;
    }),
  });
}

function refUpdate(db: ConfigDb, body: unknown): Reply {
  if (!isObject(body)) throw new InternalServerError("TypeError: 'NoneType' object is not subscriptable");
  const { type, uuid, operation } = body;
  const refType = body["ref-type"];
  const refUuid = body["ref-uuid"];
  const refFqName = body["ref-fq-name"];
  if (!type || !uuid || !refType || !operation) {
    throw new HttpError(400, `Bad Request: type/uuid/ref-type/operation is null: ${String(type ?? "None")}, ${String(uuid ?? "None")}, ${String(refType ?? "None")}, ${String(operation ?? "None")}`);
  }
  const op = String(operation).toUpperCase();
  if (op !== "ADD" && op !== "DELETE") throw new HttpError(400, `Bad Request: operation should be add or delete: ${String(operation)}`);
  if (!refUuid && !refFqName) throw new HttpError(400, "Either ref-uuid or ref-fq-name must be specified");
  const objDef = typeDef(String(type));
  const targetType = String(refType);
  if (!objDef || !typeDef(targetType)) throw new HttpError(400, `Bad Request: unknown type ${objDef ? targetType : String(type)}`);
  if (!objDef.refs[targetType]) throw new HttpError(400, `Bad Request: ${String(type)} has no reference to ${targetType}`);

  let targetUuid = typeof refUuid === "string" ? refUuid : undefined;
  if (!targetUuid) {
    const fq = Array.isArray(refFqName) ? (refFqName as string[]) : String(refFqName).split(":");
    const target = db.byFqName(targetType, fq);
    if (!target) throw new HttpError(404, `Name ${pyList(fq)} not found`);
    targetUuid = target.uuid;
  }
  let target: CObject | undefined;
  if (op === "ADD") {
    target = db.get(targetUuid);
    if (!target || target.type !== targetType) throw new HttpError(404, `Object Not Found: ${targetUuid}`);
  }
  const obj = db.get(String(uuid));
  if (!obj || obj.type !== objDef.type) throw new HttpError(404, `uuid ${String(uuid)} not found`);
  if (op === "ADD") db.addRef(obj, target as CObject, body.attr === undefined ? null : body.attr);
  else db.removeRef(obj, targetType, targetUuid);
  return json(200, { uuid: obj.uuid });
}

/** Plain-text error bodies; a 500 is bottle's default error page. */
export function contrailError(err: HttpError): Reply {
  if (err.status === 500 && err.message !== "Injected fault") {
    const page =
      '<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">\n<html>\n    <head>\n' +
      `        <title>Error: ${err.status} ${statusTitle(err.status)}</title>\n    </head>\n    <body>\n` +
      `        <h1>Error: ${err.status} ${statusTitle(err.status)}</h1>\n` +
      `        <p>Sorry, the requested URL caused an error:</p>\n        <pre>${statusTitle(err.status)}</pre>\n    </body>\n</html>\n`;
    return text(err.status, page, "text/html; charset=UTF-8");
  }
  return text(err.status, err.message);
}

/** The 2.x auth step: with multi-tenancy on, a valid token with the admin role. */
export function contrailAuth(identity: Identity, keystoneUrl: () => string, settings: ContrailSettings, ctx: RequestContext): void {
  if (!settings.multiTenancy) return;
  const auth = authenticate(identity, keystoneUrl, ctx);
  if (!auth.isAdmin) throw new HttpError(403, "Permission Denied");
}
