/**
 * The Contrail configuration database: objects by uuid and fq_name, parent/child links, references
 * and back-references, with the 2.x API server's create/update/delete rules and messages.
 */
import type { LabBus } from "../core";
import { HttpError } from "../http/errors";
import { clone, isCanonicalUuid, isObject, isoNaiveMicros, newUuid, pyList, uuidHalves } from "../util/ids";
import { backRefField, childrenField, refField, TYPES, typeDef, type TypeDef } from "./schema";
import { validateProps } from "./validate";

export interface RefLink {
  uuid: string;
  /** fq_name of the target at the time of linking (fq_names never change). */
  to: string[];
  attr: unknown;
}

export interface CObject {
  type: string;
  uuid: string;
  fq_name: string[];
  parent_type: string | null;
  parent_uuid: string | null;
  /** Properties by field name (display_name, id_perms and the type's own). */
  props: Record<string, unknown>;
  /** Forward references by target type. */
  refs: Record<string, RefLink[]>;
}

/** Who is writing: becomes id_perms owner/group when multi-tenancy is on. */
export interface Writer {
  user: string;
  role: string;
}

export interface ViewOptions {
  fields?: string[];
  excludeBackRefs?: boolean;
  excludeChildren?: boolean;
}

/** Thrown for 2.x failures that surface as bottle's 500 page. */
export class InternalServerError extends HttpError {
  constructor(message: string) {
    super(500, message);
  }
}

// XML 1.0 forbids these; the API refuses them in names, and ':' separates fq_name parts.
const ILLEGAL_NAME = /[:\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff<>&"']/;

export class ConfigDb {
  private readonly objects = new Map<string, CObject>();
  private readonly byName = new Map<string, string>();

  constructor(
    private readonly bus: LabBus,
    private readonly baseUrl: () => string,
  ) {}

  // ---------------------------------------------------------------- reads

  get(uuid: string): CObject | undefined {
    return this.objects.get(uuid);
  }

  /** The object if it exists and is of `type`, else 404 `No <type> object found for id <uuid>`. */
  mustGet(type: string, uuid: string): CObject {
    const obj = this.objects.get(uuid);
    if (!obj || obj.type !== type) throw new HttpError(404, `No ${type} object found for id ${uuid}`);
    return obj;
  }

  byFqName(type: string, fqName: readonly string[]): CObject | undefined {
    const uuid = this.byName.get(nameKey(type, fqName));
    return uuid ? this.objects.get(uuid) : undefined;
  }

  list(type?: string): CObject[] {
    const all = [...this.objects.values()];
    return type ? all.filter((o) => o.type === type) : all;
  }

  href(obj: { type: string; uuid: string }): string {
    return `${this.baseUrl()}/${obj.type}/${obj.uuid}`;
  }

  children(obj: CObject): CObject[] {
    return this.list().filter((o) => o.parent_uuid === obj.uuid);
  }

  /** Objects referring to `obj`, with the link attr. */
  backRefs(obj: CObject): Array<{ from: CObject; attr: unknown }> {
    const out: Array<{ from: CObject; attr: unknown }> = [];
    for (const from of this.objects.values()) {
      for (const link of from.refs[obj.type] ?? []) if (link.uuid === obj.uuid) out.push({ from, attr: link.attr });
    }
    return out;
  }

  /** The object as GET returns it. */
  view(obj: CObject, opts: ViewOptions = {}): Record<string, unknown> {
    const out: Record<string, unknown> = {
      uuid: obj.uuid,
      fq_name: [...obj.fq_name],
      name: obj.fq_name[obj.fq_name.length - 1],
      href: this.href(obj),
    };
    if (obj.parent_type) out.parent_type = obj.parent_type;
    if (obj.parent_uuid) {
      out.parent_uuid = obj.parent_uuid;
      out.parent_href = this.href({ type: obj.parent_type as string, uuid: obj.parent_uuid });
    }
    const extra: Record<string, unknown> = { ...clone(obj.props) };
    for (const [target, links] of Object.entries(obj.refs)) {
      if (links.length === 0) continue;
      extra[refField(target)] = links.map((l) => ({ to: [...l.to], href: this.href({ type: target, uuid: l.uuid }), uuid: l.uuid, attr: clone(l.attr) }));
    }
    if (!opts.excludeBackRefs) {
      for (const { from, attr } of this.backRefs(obj)) {
        const key = backRefField(from.type);
        const list = (extra[key] as unknown[] | undefined) ?? [];
        list.push({ to: [...from.fq_name], href: this.href(from), uuid: from.uuid, attr: clone(attr) });
        extra[key] = list;
      }
    }
    if (!opts.excludeChildren) {
      for (const child of this.children(obj)) {
        const key = childrenField(child.type);
        const list = (extra[key] as unknown[] | undefined) ?? [];
        list.push({ to: [...child.fq_name], href: this.href(child), uuid: child.uuid });
        extra[key] = list;
      }
    }
    for (const [k, v] of Object.entries(extra)) {
      if (opts.fields && !opts.fields.includes(k) && !["display_name", "id_perms"].includes(k)) continue;
      out[k] = v;
    }
    return out;
  }

  // ---------------------------------------------------------------- writes

  /** POST /<type>s: validates and stores `body` (the value under the type key). */
  create(type: string, body: Record<string, unknown>, writer: Writer | null): CObject {
    const def = this.def(type);
    const fq = body.fq_name;
    if (fq === undefined || fq === null) throw new HttpError(400, "Bad Request, no fq_name in POST body");
    if (!Array.isArray(fq) || fq.length === 0 || fq.some((p) => typeof p !== "string")) {
      throw new HttpError(400, "Bad Request, fq_name must be a list of strings");
    }
    const fqName = fq as string[];
    const name = fqName[fqName.length - 1];
    if (name === "" || ILLEGAL_NAME.test(name)) throw new HttpError(400, `Invalid name: ${JSON.stringify(name)} contains illegal characters`);

    const { parentType, parentUuid } = this.resolveParent(def, body.parent_type, fqName);

    // A client-chosen uuid is checked first, so that a retried create meets its own object as
    // "<uuid> already exists with fq_name" (contrail-vnc-api.md §2.4, §13.3).
    let uuid = newUuid();
    if (body.uuid !== undefined && body.uuid !== null) {
      if (!isCanonicalUuid(body.uuid)) throw new HttpError(400, `Invalid UUID format: ${String(body.uuid)}`);
      const other = this.objects.get(body.uuid);
      if (other) throw new HttpError(409, `${body.uuid} already exists with fq_name: ${pyList(other.fq_name)}`);
      uuid = body.uuid;
    }
    const existing = this.byName.get(nameKey(type, fqName));
    if (existing) throw new HttpError(409, `${pyList(fqName)} already exists with uuid: ${existing}`);

    const props = this.pickProps(def, body);
    validateProps(type, props);
    const refs = this.resolveRefs(def, body, true);
    const now = isoNaiveMicros();
    props.id_perms = this.idPerms(uuid, body.id_perms, writer, now);
    if (props.display_name === undefined || props.display_name === null) props.display_name = name;

    const obj: CObject = { type, uuid, fq_name: [...fqName], parent_type: parentType, parent_uuid: parentUuid, props, refs };
    this.objects.set(uuid, obj);
    this.byName.set(nameKey(type, fqName), uuid);
    this.bus.change("contrail", type, "create", uuid);
    return obj;
  }

  /** PUT /<type>/<uuid>: a partial update; a ref list that is present replaces that type's refs. */
  update(type: string, uuid: string, body: Record<string, unknown>): CObject {
    const def = this.def(type);
    const obj = this.mustGet(type, uuid);
    const props = this.pickProps(def, body);
    delete props.id_perms;
    validateProps(type, props);
    const refs = this.resolveRefs(def, body, false);
    Object.assign(obj.props, props);
    Object.assign(obj.refs, refs);
    const idPerms = obj.props.id_perms as Record<string, unknown>;
    if (isObject(body.id_perms)) {
      if (body.id_perms.enable !== undefined) idPerms.enable = body.id_perms.enable;
      if (body.id_perms.description !== undefined) idPerms.description = body.id_perms.description;
    }
    this.touch(obj);
    return obj;
  }

  /** DELETE /<type>/<uuid>, refused while non-derived back-refs or children exist. */
  delete(type: string, uuid: string): void {
    const obj = this.mustGet(type, uuid);
    const children = this.children(obj);
    if (children.length > 0) {
      throw new HttpError(409, `Children ${children.map((c) => this.href(c)).join(", ")} still exist`);
    }
    const blocking = this.backRefs(obj).filter(({ from }) => !typeDef(from.type)?.refs[obj.type]?.derived);
    if (blocking.length > 0) {
      throw new HttpError(409, `Back-References from ${blocking.map(({ from }) => this.href(from)).join(", ")} still exist`);
    }
    this.objects.delete(uuid);
    this.byName.delete(nameKey(type, obj.fq_name));
    this.bus.change("contrail", type, "delete", uuid);
  }

  /** Adds or replaces one reference (ref-update ADD). */
  addRef(obj: CObject, target: CObject, attr: unknown): void {
    const links = (obj.refs[target.type] ??= []);
    const existing = links.find((l) => l.uuid === target.uuid);
    if (existing) existing.attr = clone(attr);
    else links.push({ uuid: target.uuid, to: [...target.fq_name], attr: clone(attr) });
    this.touch(obj);
  }

  /** Removes one reference if present (ref-update DELETE); returns whether one was removed. */
  removeRef(obj: CObject, targetType: string, targetUuid: string): boolean {
    const links = obj.refs[targetType] ?? [];
    const i = links.findIndex((l) => l.uuid === targetUuid);
    if (i < 0) return false;
    links.splice(i, 1);
    this.touch(obj);
    return true;
  }

  /** Deletes `obj` and its whole subtree of children, ignoring back-refs (internal cleanups only). */
  purge(obj: CObject): void {
    for (const child of this.children(obj)) this.purge(child);
    for (const { from } of this.backRefs(obj)) {
      const links = from.refs[obj.type] ?? [];
      from.refs[obj.type] = links.filter((l) => l.uuid !== obj.uuid);
    }
    if (!this.objects.delete(obj.uuid)) return;
    this.byName.delete(nameKey(obj.type, obj.fq_name));
    this.bus.change("contrail", obj.type, "delete", obj.uuid);
  }

  /** Marks an object modified: new last_modified (ETag) and a change event. */
  touch(obj: CObject): void {
    const idPerms = obj.props.id_perms as Record<string, unknown> | undefined;
    if (idPerms) idPerms.last_modified = isoNaiveMicros();
    this.bus.change("contrail", obj.type, "update", obj.uuid);
  }

  // ---------------------------------------------------------------- helpers

  private def(type: string): TypeDef {
    const def = typeDef(type);
    if (!def) throw new HttpError(404, `Resource type '${type}' not found`);
    return def;
  }

  private resolveParent(def: TypeDef, parentType: unknown, fqName: string[]): { parentType: string | null; parentUuid: string | null } {
    const rootOnly = def.parents.length === 1 && def.parents[0] === "config-root";
    if (rootOnly && (parentType === undefined || parentType === null || parentType === "config-root")) {
      if (fqName.length !== 1) throw new HttpError(400, `Parent ${pyList(fqName.slice(0, -1))} type config-root does not exist`);
      return { parentType: null, parentUuid: null };
    }
    if (typeof parentType !== "string" || !def.parents.includes(parentType)) {
      throw new HttpError(400, `Invalid parent type: ${parentType === undefined || parentType === null ? "None" : String(parentType)}`);
    }
    const parentFq = fqName.slice(0, -1);
    const parent = this.byFqName(parentType, parentFq);
    if (!parent) throw new HttpError(400, `Parent ${pyList(parentFq)} type ${parentType} does not exist`);
    return { parentType, parentUuid: parent.uuid };
  }

  private pickProps(def: TypeDef, body: Record<string, unknown>): Record<string, unknown> {
    const props: Record<string, unknown> = {};
    for (const p of def.props) if (body[p] !== undefined) props[p] = clone(body[p]);
    return props;
  }

  /** Resolves `<type>_refs` lists by `to`, as 2.x does; a dangling ref is a 500 there. */
  private resolveRefs(def: TypeDef, body: Record<string, unknown>, creating: boolean): Record<string, RefLink[]> {
    const refs: Record<string, RefLink[]> = {};
    for (const [target, refDef] of Object.entries(def.refs)) {
      const given = body[refField(target)];
      if (given === undefined) {
        if (creating) refs[target] = [];
        continue;
      }
      if (given === null) {
        refs[target] = [];
        continue;
      }
      if (!Array.isArray(given)) throw new InternalServerError(`${refField(target)} must be a list`);
      refs[target] = given.map((ref) => {
        if (!isObject(ref) || !Array.isArray(ref.to)) throw new InternalServerError(`KeyError: 'to' in ${refField(target)}`);
        const to = ref.to as string[];
        const obj = this.byFqName(target, to);
        if (!obj) throw new InternalServerError(`NoIdError: Name ${pyList(to)} not found`);
        const attr = ref.attr === undefined ? null : ref.attr;
        if (refDef.attrType && attr === null) {
          throw new InternalServerError(`AttributeError: ${refDef.attrType} attr of ${refField(target)} is None`);
        }
        return { uuid: obj.uuid, to: [...obj.fq_name], attr: clone(attr) };
      });
    }
    return refs;
  }

  private idPerms(uuid: string, given: unknown, writer: Writer | null, now: string): Record<string, unknown> {
    const client = isObject(given) ? given : {};
    const perms: Record<string, unknown> = {
      permissions: {
        owner: writer?.user ?? "cloud-admin",
        owner_access: 7,
        group: writer?.role ?? "cloud-admin-group",
        group_access: 7,
        other_access: 7,
      },
      uuid: uuidHalves(uuid),
      enable: client.enable ?? true,
      created: now,
      last_modified: now,
      description: client.description ?? null,
      user_visible: client.user_visible ?? true,
      creator: client.creator ?? null,
    };
    return perms;
  }

  /** Every type the lab knows (for the home page). */
  static types(): TypeDef[] {
    return [...TYPES.values()];
  }
}

function nameKey(type: string, fqName: readonly string[]): string {
  return `${type}\u0000${fqName.join("\u0000")}`;
}
