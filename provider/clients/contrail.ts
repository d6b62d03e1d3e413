/**
 * Contrail VNC config API client (contrail-api, port 8082): typed CRUD for the object types a
 * service chain uses, `fqname-to-id`, `id-to-fqname` and `ref-update`.
 *
 * Facts this client relies on (reference/contrail-vnc-api.md): creates and deletes answer 200;
 * error bodies are plain text; collections are `/<type>s` (so `/network-policys`); a create may
 * carry a client-chosen uuid; PUT is a partial update in which a present ref list replaces all refs
 * of that type.
 */
import { ApiError, isApiError } from "./http";
import type { Session } from "./keystone";

export type ContrailType =
  | "domain"
  | "project"
  | "virtual-network"
  | "service-template"
  | "service-instance"
  | "network-policy"
  | "virtual-machine"
  | "virtual-machine-interface"
  | "instance-ip";

export interface ContrailRef {
  to: string[];
  uuid?: string;
  href?: string;
  attr?: unknown;
}

/** The fields every Contrail object carries, plus whatever its type has. */
export interface ContrailObject {
  uuid: string;
  fq_name: string[];
  name?: string;
  parent_type?: string;
  parent_uuid?: string;
  href?: string;
  display_name?: string;
  [field: string]: unknown;
}

export interface RefUpdate {
  type: ContrailType;
  uuid: string;
  refType: ContrailType;
  refUuid?: string;
  refFqName?: string[];
  operation: "ADD" | "DELETE";
  attr?: unknown;
}

/** `"<uuid> already exists with fq_name: ..."`: a create with this uuid already happened. */
export function isUuidConflict(e: unknown, uuid: string): boolean {
  return isApiError(e, 409) && e.serverMessage.includes(uuid) && /already exists with fq_name/.test(e.serverMessage);
}

/** `"[...] already exists with uuid: <other>"`: the name is taken by some object. */
export function isNameConflict(e: unknown): boolean {
  return isApiError(e, 409) && /already exists with uuid/.test(e.serverMessage);
}

export const CONTRAIL_HEADERS = { "content-type": 'application/json; charset="UTF-8"', "x-contrail-useragent": "dockwall" };

export class ContrailClient {
  constructor(private readonly session: Session) {}

  private async req(call: string, method: string, path: string, extra: { json?: unknown; query?: Record<string, string | undefined>; idempotent?: boolean; expect?: number[] } = {}) {
    try {
      return await this.session.request("contrail", { call, method, path, headers: CONTRAIL_HEADERS, ...extra });
    } catch (e) {
      if (isApiError(e, 403)) {
        // Contrail's "Permission Denied" says nothing about why; with multi-tenancy on, the API
        // server wants a Keystone token with the admin role for templates, instances and policies.
        e.message += `. The Contrail API refused the token of user "${this.session.conn.username ?? this.session.conn.userId ?? "(application credential)"}": with multi-tenancy it needs a token with the admin role (in Keystone: the user needs the "admin" role on its project, e.g. \`openstack role add --user <user> --project <project> admin\`), or credentials of a user that has it.`;
      }
      throw e;
    }
  }

  /**
   * POST `/<type>s`. With `body.uuid` set, the create is safe to retry: a retry that meets
   * `409 <uuid> already exists` is answered with the existing object (adopted), after checking that
   * it has the fq-name we asked for.
   */
  async create(type: ContrailType, body: Partial<ContrailObject> & { fq_name: string[] }): Promise<ContrailObject> {
    const call = `create ${type} ${body.fq_name.join(":")}`;
    try {
      const res = await this.req(call, "POST", `/${type}s`, { json: { [type]: body }, idempotent: !!body.uuid });
      return res.json()[type];
    } catch (e) {
      if (body.uuid && isUuidConflict(e, body.uuid)) {
        const existing = await this.read(type, body.uuid);
        if (existing && JSON.stringify(existing.fq_name) === JSON.stringify(body.fq_name)) return existing;
      }
      throw e;
    }
  }

  /** GET `/<type>/<uuid>`; undefined when it does not exist. */
  async read(type: ContrailType, uuid: string, fields?: string[]): Promise<ContrailObject | undefined> {
    try {
      const res = await this.req(`read ${type} ${uuid}`, "GET", `/${type}/${encodeURIComponent(uuid)}`, { query: { fields: fields?.join(",") } });
      return res.json()[type];
    } catch (e) {
      if (isApiError(e, 404)) return undefined;
      throw e;
    }
  }

  /** PUT `/<type>/<uuid>` with the fields to change (partial update). */
  async update(type: ContrailType, uuid: string, fields: Record<string, unknown>): Promise<void> {
    await this.req(`update ${type} ${uuid}`, "PUT", `/${type}/${encodeURIComponent(uuid)}`, { json: { [type]: fields } });
  }

  /** DELETE `/<type>/<uuid>`; resolves false when it was already gone. */
  async delete(type: ContrailType, uuid: string): Promise<boolean> {
    try {
      await this.req(`delete ${type} ${uuid}`, "DELETE", `/${type}/${encodeURIComponent(uuid)}`);
      return true;
    } catch (e) {
      if (isApiError(e, 404)) return false;
      throw e;
    }
  }

  /** List objects (detail), optionally by parent or back-ref. */
  async list(type: ContrailType, opts: { parentId?: string; backRefId?: string; fields?: string[] } = {}): Promise<ContrailObject[]> {
    const res = await this.req(`list ${type}s`, "GET", `/${type}s`, {
      query: { parent_id: opts.parentId, back_ref_id: opts.backRefId, detail: "true", fields: opts.fields?.join(",") },
    });
    const items: any[] = res.json()[`${type}s`] ?? [];
    return items.map((i) => i[type] ?? i);
  }

  /** POST `/fqname-to-id`; undefined when the name does not exist. */
  async fqnameToId(type: ContrailType, fqName: string[]): Promise<string | undefined> {
    try {
      const res = await this.req(`look up ${type} ${fqName.join(":")}`, "POST", "/fqname-to-id", { json: { type, fq_name: fqName }, idempotent: true });
      return res.json().uuid;
    } catch (e) {
      if (isApiError(e, 404)) return undefined;
      throw e;
    }
  }

  /** POST `/id-to-fqname`; undefined when the uuid does not exist. */
  async idToFqname(uuid: string): Promise<{ fqName: string[]; type: string } | undefined> {
    try {
      const res = await this.req(`look up uuid ${uuid}`, "POST", "/id-to-fqname", { json: { uuid }, idempotent: true });
      const b = res.json();
      return { fqName: b.fq_name, type: b.type };
    } catch (e) {
      if (isApiError(e, 404)) return undefined;
      throw e;
    }
  }

  /** POST `/ref-update`: ADD (overwrites the attr) or DELETE (no-op when absent) one ref. Idempotent. */
  async refUpdate(u: RefUpdate): Promise<void> {
    const body: Record<string, unknown> = { type: u.type, uuid: u.uuid, "ref-type": u.refType, operation: u.operation, attr: u.attr ?? null };
    if (u.refUuid) body["ref-uuid"] = u.refUuid;
    if (u.refFqName) body["ref-fq-name"] = u.refFqName;
    await this.req(`${u.operation === "ADD" ? "attach" : "detach"} ${u.refType} ${u.refUuid ?? u.refFqName?.join(":")} ${u.operation === "ADD" ? "to" : "from"} ${u.type} ${u.uuid}`, "POST", "/ref-update", {
      json: body,
      idempotent: true,
    });
  }

  /** Make sure a Keystone project exists in Contrail (GET `/project/<uuid>` creates it on demand) and return it. */
  async ensureProject(keystoneProjectId: string): Promise<ContrailObject> {
    const uuid = dashedUuid(keystoneProjectId);
    const p = await this.read("project", uuid);
    if (!p) throw new ApiError({ service: "contrail", call: `read project ${uuid}`, method: "GET", url: `${this.session.conn.contrailApiUrl}/project/${uuid}`, status: 404, serverMessage: `the Keystone project ${keystoneProjectId} is not known to Contrail` });
    return p;
  }
}

/** Keystone project ids are uuids without dashes; Contrail's are dashed. */
export function dashedUuid(id: string): string {
  const h = id.replace(/-/g, "").toLowerCase();
  if (!/^[0-9a-f]{32}$/.test(h)) return id;
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
