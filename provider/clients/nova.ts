/**
 * Nova client: host aggregates (`os-aggregates`), compute services (`os-services`) and the server
 * reads a service-instance wait needs. Aggregate ids are integers in the path.
 */
import { isApiError } from "./http";
import type { Session } from "./keystone";

export interface Aggregate {
  id: number;
  name: string;
  availability_zone: string | null;
  hosts: string[];
  metadata: Record<string, string>;
  uuid?: string;
}

export interface ComputeService {
  id: number | string;
  binary: string;
  host: string;
  zone: string;
  status: "enabled" | "disabled";
  state: "up" | "down";
  updated_at?: string | null;
}

export interface Server {
  id: string;
  name: string;
  status: string;
  fault?: { message?: string; code?: number };
  "OS-EXT-SRV-ATTR:host"?: string;
  "OS-EXT-AZ:availability_zone"?: string;
}

/** Microversion 2.41: aggregates carry their uuid. */
const NOVA_HEADERS = { "openstack-api-version": "compute 2.41", "x-openstack-nova-api-version": "2.41" };

function normalize(a: any): Aggregate {
  return { id: a.id, name: a.name, availability_zone: a.availability_zone ?? null, hosts: a.hosts ?? [], metadata: a.metadata ?? {}, uuid: a.uuid };
}

export class NovaClient {
  constructor(private readonly session: Session) {}

  private req(call: string, method: string, path: string, extra: { json?: unknown; query?: Record<string, string | undefined>; idempotent?: boolean; expect?: number[] } = {}) {
    return this.session.request("nova", { call, method, path, headers: NOVA_HEADERS, ...extra });
  }

  async createAggregate(name: string, availabilityZone: string | null): Promise<Aggregate> {
    const res = await this.req(`create aggregate ${name}`, "POST", "/os-aggregates", { json: { aggregate: { name, availability_zone: availabilityZone } } });
    return normalize(res.json().aggregate);
  }

  async getAggregate(id: number): Promise<Aggregate | undefined> {
    try {
      const res = await this.req(`read aggregate ${id}`, "GET", `/os-aggregates/${id}`);
      return normalize(res.json().aggregate);
    } catch (e) {
      if (isApiError(e, 404)) return undefined;
      throw e;
    }
  }

  async listAggregates(): Promise<Aggregate[]> {
    const res = await this.req("list aggregates", "GET", "/os-aggregates");
    return (res.json().aggregates ?? []).map(normalize);
  }

  async updateAggregate(id: number, fields: { name?: string; availability_zone?: string }): Promise<Aggregate> {
    const res = await this.req(`update aggregate ${id}`, "PUT", `/os-aggregates/${id}`, { json: { aggregate: fields } });
    return normalize(res.json().aggregate);
  }

  /** DELETE; false when already gone. Nova refuses (400) while hosts remain. */
  async deleteAggregate(id: number): Promise<boolean> {
    try {
      await this.req(`delete aggregate ${id}`, "DELETE", `/os-aggregates/${id}`);
      return true;
    } catch (e) {
      if (isApiError(e, 404)) return false;
      throw e;
    }
  }

  async addHost(id: number, host: string): Promise<Aggregate> {
    const res = await this.req(`add host ${host} to aggregate ${id}`, "POST", `/os-aggregates/${id}/action`, { json: { add_host: { host } } });
    return normalize(res.json().aggregate);
  }

  async removeHost(id: number, host: string): Promise<Aggregate> {
    const res = await this.req(`remove host ${host} from aggregate ${id}`, "POST", `/os-aggregates/${id}/action`, { json: { remove_host: { host } } });
    return normalize(res.json().aggregate);
  }

  /** Merge metadata; a null value deletes that key. Idempotent. */
  async setMetadata(id: number, metadata: Record<string, string | null>): Promise<Aggregate> {
    const res = await this.req(`set metadata of aggregate ${id}`, "POST", `/os-aggregates/${id}/action`, { json: { set_metadata: { metadata } }, idempotent: true });
    return normalize(res.json().aggregate);
  }

  async listServices(filter: { binary?: string; host?: string } = {}): Promise<ComputeService[]> {
    const res = await this.req("list compute services", "GET", "/os-services", { query: { binary: filter.binary, host: filter.host } });
    return res.json().services ?? [];
  }

  async getServer(id: string): Promise<Server | undefined> {
    try {
      const res = await this.req(`read server ${id}`, "GET", `/servers/${encodeURIComponent(id)}`);
      return res.json().server;
    } catch (e) {
      if (isApiError(e, 404)) return undefined;
      throw e;
    }
  }
}
