/** Neutron client: the network and subnet reads the chain needs. */
import { isApiError } from "./http";
import type { Session } from "./keystone";

export interface Network {
  id: string;
  name: string;
  subnets: string[];
  tenant_id?: string;
  project_id?: string;
  status?: string;
  "contrail:fq_name"?: string[];
}

export interface Subnet {
  id: string;
  network_id: string;
  cidr: string;
  gateway_ip: string | null;
  ip_version: number;
  enable_dhcp: boolean;
}

export class NeutronClient {
  constructor(private readonly session: Session) {}

  private async prefix(): Promise<string> {
    const base = await this.session.endpoint("neutron");
    return /\/v2\.0$/.test(base) ? "" : "/v2.0";
  }

  async getNetwork(id: string): Promise<Network | undefined> {
    try {
      const res = await this.session.request("neutron", { call: `read network ${id}`, method: "GET", path: `${await this.prefix()}/networks/${encodeURIComponent(id)}` });
      return res.json().network;
    } catch (e) {
      if (isApiError(e, 404)) return undefined;
      throw e;
    }
  }

  async listNetworks(filter: { name?: string } = {}): Promise<Network[]> {
    const res = await this.session.request("neutron", { call: "list networks", method: "GET", path: `${await this.prefix()}/networks`, query: { name: filter.name } });
    return res.json().networks ?? [];
  }

  async getSubnet(id: string): Promise<Subnet | undefined> {
    try {
      const res = await this.session.request("neutron", { call: `read subnet ${id}`, method: "GET", path: `${await this.prefix()}/subnets/${encodeURIComponent(id)}` });
      return res.json().subnet;
    } catch (e) {
      if (isApiError(e, 404)) return undefined;
      throw e;
    }
  }
}
