/**
 * Glance client. v2: create (201, queued) → `PUT /file` (204, streamed, never buffered) → poll until
 * active. v1 (Juno era): one `POST /v1/images` with `x-image-meta-*` headers and the data.
 * Checksums: `os_hash_value` (multihash) when offered, else the MD5 `checksum`.
 */
import type { Readable } from "stream";
import { isApiError } from "./http";
import type { Session } from "./keystone";

export interface Image {
  id: string;
  name: string;
  status: string;
  container_format: string | null;
  disk_format: string | null;
  visibility?: string;
  checksum?: string | null;
  os_hash_algo?: string | null;
  os_hash_value?: string | null;
  size?: number | null;
  /** ISO time Glance created the image. */
  created_at?: string | null;
  /** Custom properties (v2: top-level keys; v1: `properties`). */
  properties: Record<string, string>;
}

export interface ImageCreate {
  name: string;
  containerFormat: string;
  diskFormat: string;
  visibility: "public" | "private" | "shared" | "community";
  properties: Record<string, string>;
}

// A plain array, not a Set: Pulumi's closure serializer turns a captured Set into a plain object.
const V2_BASE_KEYS: readonly string[] = [
  "id", "name", "status", "container_format", "disk_format", "visibility", "checksum", "os_hash_algo", "os_hash_value", "size",
  "virtual_size", "min_disk", "min_ram", "protected", "tags", "owner", "created_at", "updated_at", "file", "schema", "self",
  "direct_url", "locations", "os_hidden", "os_glance_import_task", "stores",
];

function fromV2(b: any): Image {
  const properties: Record<string, string> = {};
  for (const [k, v] of Object.entries(b)) if (!V2_BASE_KEYS.includes(k) && typeof v === "string") properties[k] = v;
  return {
    id: b.id, name: b.name, status: b.status, container_format: b.container_format ?? null, disk_format: b.disk_format ?? null,
    visibility: b.visibility, checksum: b.checksum ?? null, os_hash_algo: b.os_hash_algo ?? null, os_hash_value: b.os_hash_value ?? null,
    size: b.size ?? null, created_at: b.created_at ?? null, properties,
  };
}

function fromV1(b: any): Image {
  return {
    id: b.id, name: b.name, status: b.status, container_format: b.container_format ?? null, disk_format: b.disk_format ?? null,
    visibility: b.is_public ? "public" : "private", checksum: b.checksum ?? null, size: b.size ?? null, created_at: b.created_at ?? null, properties: b.properties ?? {},
  };
}

function fromV1Headers(h: Record<string, any>): Image {
  const g = (k: string) => (h[`x-image-meta-${k}`] as string | undefined) ?? undefined;
  const properties: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) if (k.startsWith("x-image-meta-property-")) properties[k.slice("x-image-meta-property-".length)] = String(v);
  return {
    id: g("id")!, name: g("name") ?? "", status: g("status") ?? "", container_format: g("container_format") ?? null,
    disk_format: g("disk_format") ?? null, visibility: g("is_public") === "True" || g("is_public") === "true" ? "public" : "private",
    checksum: g("checksum") ?? null, size: g("size") ? Number(g("size")) : null, properties,
  };
}

export class GlanceClient {
  constructor(private readonly session: Session) {}

  /** "2" when the v2 API answers, else "1". */
  async detectVersion(): Promise<"1" | "2"> {
    try {
      await this.session.request("glance", { call: "probe image API v2", method: "GET", path: "/v2/images", query: { limit: 1 } });
      return "2";
    } catch (e) {
      if (isApiError(e, 404) || isApiError(e, 300)) return "1";
      throw e;
    }
  }

  // ---- v2 ----
  async createV2(c: ImageCreate): Promise<Image> {
    const res = await this.session.request("glance", {
      call: `create image ${c.name}`, method: "POST", path: "/v2/images", expect: [201],
      json: { name: c.name, container_format: c.containerFormat, disk_format: c.diskFormat, visibility: c.visibility, ...c.properties },
    });
    return fromV2(res.json());
  }

  /** Stream data into a queued image. `open` is called once per attempt. */
  async uploadV2(id: string, open: () => Readable, timeoutMs?: number): Promise<void> {
    await this.session.request("glance", {
      call: `upload data of image ${id}`, method: "PUT", path: `/v2/images/${id}/file`, expect: [204],
      headers: { "content-type": "application/octet-stream" }, body: open, idempotent: true, timeoutMs,
    });
  }

  async getV2(id: string): Promise<Image | undefined> {
    try {
      const res = await this.session.request("glance", { call: `read image ${id}`, method: "GET", path: `/v2/images/${id}` });
      return fromV2(res.json());
    } catch (e) {
      if (isApiError(e, 404)) return undefined;
      throw e;
    }
  }

  async findByNameV2(name: string): Promise<Image[]> {
    const res = await this.session.request("glance", { call: `find images named ${name}`, method: "GET", path: "/v2/images", query: { name } });
    return (res.json().images ?? []).map(fromV2);
  }

  async updatePropertiesV2(id: string, ops: { op: "add" | "replace" | "remove"; path: string; value?: string }[]): Promise<Image> {
    const res = await this.session.request("glance", {
      call: `update image ${id}`, method: "PATCH", path: `/v2/images/${id}`, idempotent: true,
      headers: { "content-type": "application/openstack-images-v2.1-json-patch" }, body: JSON.stringify(ops),
    });
    return fromV2(res.json());
  }

  async deleteV2(id: string): Promise<boolean> {
    try {
      await this.session.request("glance", { call: `delete image ${id}`, method: "DELETE", path: `/v2/images/${id}`, expect: [204, 200] });
      return true;
    } catch (e) {
      if (isApiError(e, 404)) return false;
      throw e;
    }
  }

  // ---- v1 ----
  async createV1(c: ImageCreate, open: () => Readable, timeoutMs?: number): Promise<Image> {
    const headers: Record<string, string> = {
      "content-type": "application/octet-stream",
      "x-image-meta-name": c.name,
      "x-image-meta-container_format": c.containerFormat,
      "x-image-meta-disk_format": c.diskFormat,
      "x-image-meta-is_public": c.visibility === "public" ? "true" : "false",
    };
    for (const [k, v] of Object.entries(c.properties)) headers[`x-image-meta-property-${k}`] = v;
    const res = await this.session.request("glance", { call: `create image ${c.name} (v1)`, method: "POST", path: "/v1/images", headers, body: open, expect: [201], timeoutMs });
    return fromV1(res.json().image);
  }

  async getV1(id: string): Promise<Image | undefined> {
    try {
      const res = await this.session.request("glance", { call: `read image ${id} (v1)`, method: "HEAD", path: `/v1/images/${id}` });
      return fromV1Headers(res.headers as Record<string, any>);
    } catch (e) {
      if (isApiError(e, 404)) return undefined;
      throw e;
    }
  }

  async findByNameV1(name: string): Promise<Image[]> {
    const res = await this.session.request("glance", { call: `find images named ${name} (v1)`, method: "GET", path: "/v1/images/detail", query: { name } });
    return (res.json().images ?? []).map(fromV1);
  }

  async deleteV1(id: string): Promise<boolean> {
    try {
      await this.session.request("glance", { call: `delete image ${id} (v1)`, method: "DELETE", path: `/v1/images/${id}`, expect: [200, 204] });
      return true;
    } catch (e) {
      if (isApiError(e, 404)) return false;
      throw e;
    }
  }
}
