/** A plain-JSON snapshot of every object each service holds, for tests and `lab status`. */
import type { ConfigDb } from "./contrail/db";
import type { Image, ImageStore } from "./glance/images";
import type { Identity } from "./keystone/identity";
import type { Network, Networking, Port, Subnet } from "./neutron/networking";
import type { Aggregate, Compute, Server } from "./nova/compute";
import { toPlainJson } from "./util/json";

export interface LabInventory {
  keystone: {
    projects: Array<{ id: string; name: string; domainId: string }>;
    users: Array<{ id: string; name: string; domainId: string; defaultProjectId: string | null }>;
  };
  nova: {
    aggregates: Aggregate[];
    services: Array<{ binary: string; host: string; zone: string; hypervisorType: string }>;
    servers: Server[];
  };
  glance: { images: Image[] };
  neutron: { networks: Network[]; subnets: Subnet[]; ports: Port[] };
  /** By type: `{uuid, fq_name, parent_type, parent_uuid, <props>, <type>_refs: [{to, uuid, attr}]}`. */
  contrail: Record<string, Array<Record<string, unknown>>>;
}

export interface InventorySources {
  identity: Identity;
  compute: Compute;
  glance: ImageStore;
  neutron: Networking;
  db: ConfigDb;
}

export function takeInventory(s: InventorySources): LabInventory {
  const contrail: Record<string, Array<Record<string, unknown>>> = {};
  for (const obj of s.db.list()) {
    const entry: Record<string, unknown> = {
      uuid: obj.uuid,
      fq_name: obj.fq_name,
      parent_type: obj.parent_type,
      parent_uuid: obj.parent_uuid,
      ...obj.props,
    };
    for (const [target, links] of Object.entries(obj.refs)) {
      if (links.length > 0) entry[`${target.replace(/-/g, "_")}_refs`] = links;
    }
    (contrail[obj.type] ??= []).push(entry);
  }
  const inventory: LabInventory = {
    keystone: {
      projects: [...s.identity.projects.values()].map((p) => ({ id: p.id, name: p.name, domainId: p.domainId })),
      users: [...s.identity.users.values()].map((u) => ({ id: u.id, name: u.name, domainId: u.domainId, defaultProjectId: u.defaultProjectId })),
    },
    nova: {
      aggregates: [...s.compute.aggregates.values()],
      services: [...s.compute.hosts.values()].map((h) => ({
        binary: "nova-compute",
        host: h.host,
        zone: s.compute.hostZone(h.host),
        hypervisorType: h.docker ? "docker" : "QEMU",
      })),
      servers: [...s.compute.servers.values()],
    },
    glance: { images: [...s.glance.images.values()] },
    neutron: { networks: [...s.neutron.networks.values()], subnets: [...s.neutron.subnets.values()], ports: [...s.neutron.ports.values()] },
    contrail,
  };
  return toPlainJson(inventory);
}
