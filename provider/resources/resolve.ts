/**
 * Name and id resolution against Contrail, done at create/update time (never in check or diff):
 * Neutron network ids → virtual-network fq-names with `id-to-fqname` (never built from names),
 * template and instance references given as uuid or fq-name, and the Contrail project.
 */
import { ContrailClient } from "../clients/contrail";
import type { Session } from "../clients/keystone";
import { UUID_RE } from "./common";

export interface Resolved {
  uuid: string;
  fqName: string[];
}

/** Resolve a uuid or "a:b:c" reference to an object of `type`; throws naming the property. */
export async function resolveRef(contrail: ContrailClient, property: string, type: "virtual-network" | "service-template" | "service-instance", ref: string): Promise<Resolved> {
  if (UUID_RE.test(ref)) {
    const r = await contrail.idToFqname(ref);
    if (!r) throw new Error(`${property}: no Contrail object has uuid ${ref}${type === "virtual-network" ? " (is it a Neutron network id of this cloud?)" : ""}`);
    if (r.type !== type) throw new Error(`${property}: uuid ${ref} is a ${r.type}, not a ${type}`);
    return { uuid: ref, fqName: r.fqName };
  }
  const fqName = ref.split(":");
  const uuid = await contrail.fqnameToId(type, fqName);
  if (!uuid) throw new Error(`${property}: no ${type} named ${ref}`);
  return { uuid, fqName };
}

/** The Contrail project fq-name: `[domain, project]` when given, else the token's project (created in Contrail on demand). */
export async function resolveProject(contrail: ContrailClient, session: Session, domain: string, project?: string): Promise<Resolved> {
  if (project) {
    const fqName = [domain, project];
    const uuid = await contrail.fqnameToId("project", fqName);
    if (!uuid) throw new Error(`project: Contrail has no project ${fqName.join(":")}`);
    return { uuid, fqName };
  }
  const auth = await session.auth();
  if (!auth.projectId) throw new Error("project: the token is not scoped to a project; set the project input");
  const p = await contrail.ensureProject(auth.projectId);
  return { uuid: p.uuid, fqName: p.fq_name };
}
