/** Glance v2: create, upload, download, list, show, patch and delete images. */
import type { IncomingMessage } from "node:http";
import { caller } from "../auth";
import { mediaType } from "../http/body";
import { HttpError } from "../http/errors";
import { empty, json, stream } from "../http/reply";
import type { Router } from "../http/router";
import { isObject } from "../util/ids";
import { canSee, ownerOf, requireModify, visibleImage } from "./access";
import { ImageGoneError, type Image, type ImageStore } from "./images";
import { BASE, READ_ONLY, validateImageDocument } from "./schema";

const PATCH_TYPES = ["application/openstack-images-v2.1-json-patch", "application/openstack-images-v2.0-json-patch"];

export function v2View(image: Image): Record<string, unknown> {
  return {
    ...image.properties,
    id: image.id,
    name: image.name,
    status: image.status,
    container_format: image.container_format,
    disk_format: image.disk_format,
    visibility: image.visibility,
    protected: image.protected,
    min_disk: image.min_disk,
    min_ram: image.min_ram,
    owner: image.owner,
    size: image.size,
    virtual_size: null,
    checksum: image.checksum,
    os_hash_algo: image.os_hash_algo,
    os_hash_value: image.os_hash_value,
    os_hidden: false,
    created_at: image.created_at,
    updated_at: image.updated_at,
    tags: [...image.tags],
    self: `/v2/images/${image.id}`,
    file: `/v2/images/${image.id}/file`,
    schema: "/v2/schemas/image",
  };
}

const notFound = (id: string) => `No image found with ID ${id}`;

export function addGlanceV2Routes(r: Router, store: ImageStore): void {
  const formats = () => ({ containerFormats: store.containerFormats, diskFormats: store.diskFormats });

  r.post("/v2/images", async (ctx) => {
    const auth = caller(ctx);
    const body = await ctx.json();
    if (!isObject(body)) throw new HttpError(400, "Body expected in request.");
    for (const key of Object.keys(body)) {
      if (READ_ONLY.includes(key)) throw new HttpError(403, `Attribute '${key}' is read-only.`);
      if (key.startsWith("os_glance")) throw new HttpError(403, `Attribute '${key}' is reserved.`);
    }
    validateImageDocument(body, formats());
    if (body.visibility === "public" && !auth.isAdmin) {
      throw new HttpError(403, "You are not authorized to complete publicize_image action.");
    }
    if (typeof body.id === "string" && store.images.has(body.id)) {
      throw new HttpError(409, `Image with identifier ${body.id} already exists!`);
    }
    const properties: Record<string, string> = {};
    for (const [k, v] of Object.entries(body)) if (!BASE.includes(k)) properties[k] = v as string;
    const image = store.create({
      id: body.id as string | undefined,
      name: (body.name as string | null | undefined) ?? null,
      container_format: (body.container_format as string | null | undefined) ?? null,
      disk_format: (body.disk_format as string | null | undefined) ?? null,
      visibility: (body.visibility as Image["visibility"] | undefined) ?? "private",
      protected: (body.protected as boolean | undefined) ?? false,
      min_disk: (body.min_disk as number | undefined) ?? 0,
      min_ram: (body.min_ram as number | undefined) ?? 0,
      tags: (body.tags as string[] | undefined) ?? [],
      owner: auth.isAdmin && typeof body.owner === "string" ? body.owner : ownerOf(auth),
      properties,
    });
    return json(201, v2View(image), { location: `${ctx.baseUrl}/v2/images/${image.id}` });
  });

  r.get("/v2/images", (ctx) => {
    const auth = caller(ctx);
    const q = ctx.query;
    let images = [...store.images.values()].filter((i) => canSee(i, auth)).reverse();
    const eq = (field: keyof Image) => {
      const v = q.get(field);
      if (v !== null) images = images.filter((i) => String(i[field]) === v);
    };
    (["name", "visibility", "status", "owner", "container_format", "disk_format", "id"] as const).forEach(eq);
    for (const tag of q.getAll("tag")) images = images.filter((i) => i.tags.includes(tag));
    const marker = q.get("marker");
    if (marker !== null) {
      const at = images.findIndex((i) => i.id === marker);
      if (at < 0) throw new HttpError(400, `Invalid marker. Image ${marker} could not be found.`);
      images = images.slice(at + 1);
    }
    const limit = q.get("limit");
    let next: string | undefined;
    if (limit !== null) {
      const n = Number(limit);
      if (!Number.isInteger(n) || n < 0) throw new HttpError(400, "limit param must be an integer");
      if (images.length > n && n > 0) next = `/v2/images?marker=${images[n - 1].id}&limit=${n}`;
      images = images.slice(0, n);
    }
    return json(200, { images: images.map(v2View), schema: "/v2/schemas/images", first: "/v2/images", ...(next ? { next } : {}) });
  });

  r.get("/v2/images/{id}", (ctx) => json(200, v2View(visibleImage(store, ctx.params.id, caller(ctx), notFound(ctx.params.id)))));

  r.patch("/v2/images/{id}", async (ctx) => {
    const auth = caller(ctx);
    const type = mediaType(ctx.req);
    if (!PATCH_TYPES.includes(type)) {
      ctx.req.resume();
      throw new HttpError(415, `The request media type ${type || "None"} is not supported by this server.`, {
        headers: { "accept-patch": PATCH_TYPES.join(", ") },
      });
    }
    const image = visibleImage(store, ctx.params.id, auth, notFound(ctx.params.id));
    requireModify(image, auth);
    const ops = await ctx.json();
    if (!Array.isArray(ops)) throw new HttpError(400, "Request body must be a JSON array of operation objects.");
    const doc: Record<string, unknown> = patchable(image);
    for (const op of ops) applyPatchOp(doc, op, image);
    validateImageDocument(doc, formats());
    if (doc.visibility === "public" && image.visibility !== "public" && !auth.isAdmin) {
      throw new HttpError(403, "You are not authorized to complete publicize_image action.");
    }
    const properties: Record<string, string> = {};
    for (const [k, v] of Object.entries(doc)) if (!BASE.includes(k)) properties[k] = v as string;
    Object.assign(image, {
      name: doc.name ?? null,
      container_format: doc.container_format ?? null,
      disk_format: doc.disk_format ?? null,
      visibility: doc.visibility,
      protected: doc.protected,
      min_disk: doc.min_disk,
      min_ram: doc.min_ram,
      tags: doc.tags,
      properties,
    });
    store.touch(image);
    return json(200, v2View(image));
  });

  r.delete("/v2/images/{id}", async (ctx) => {
    const auth = caller(ctx);
    const image = visibleImage(store, ctx.params.id, auth, notFound(ctx.params.id));
    requireModify(image, auth);
    if (image.protected) throw new HttpError(403, `Image ${image.id} is protected and cannot be deleted.`);
    await store.delete(image.id);
    return empty(204);
  });

  r.put("/v2/images/{id}/file", async (ctx) => {
    const auth = caller(ctx);
    const type = mediaType(ctx.req);
    if (type !== "application/octet-stream") {
      ctx.req.resume();
      throw new HttpError(415, `Invalid content type ${type || "None"}`);
    }
    const image = visibleImage(store, ctx.params.id, auth, notFound(ctx.params.id));
    requireModify(image, auth);
    if (image.status !== "queued") {
      ctx.req.resume();
      throw new HttpError(409, `Image status transition from ${image.status} to saving is not allowed`);
    }
    if (image.container_format === null || image.disk_format === null) {
      ctx.req.resume();
      throw new HttpError(400, "Properties container_format and disk_format must be set prior to saving data.");
    }
    await upload(store, image, ctx.req);
    return empty(204);
  });

  r.get("/v2/images/{id}/file", (ctx) => {
    const image = visibleImage(store, ctx.params.id, caller(ctx), notFound(ctx.params.id));
    if (image.status !== "active" || image.size === null) return empty(204);
    const headers: Record<string, string> = {};
    if (image.checksum) headers["content-md5"] = image.checksum;
    return stream(200, store.openData(image.id), "application/octet-stream", image.size, headers);
  });
}

async function upload(store: ImageStore, image: Image, req: IncomingMessage): Promise<void> {
  try {
    await store.receive(image, req, "queued");
  } catch (err) {
    if (err instanceof ImageGoneError) {
      throw new HttpError(410, `Image ${image.id} could not be found after upload. The image may have been deleted during the upload.`);
    }
    throw new HttpError(500, `Failed to upload image data due to internal error: ${err instanceof Error ? err.message : String(err)}`);
  }
}

function patchable(image: Image): Record<string, unknown> {
  return {
    ...image.properties,
    name: image.name,
    container_format: image.container_format,
    disk_format: image.disk_format,
    visibility: image.visibility,
    protected: image.protected,
    min_disk: image.min_disk,
    min_ram: image.min_ram,
    tags: [...image.tags],
  };
}

function applyPatchOp(doc: Record<string, unknown>, op: unknown, image: Image): void {
  if (!isObject(op) || typeof op.op !== "string" || typeof op.path !== "string") {
    throw new HttpError(400, "Operation objects must contain exactly one member named \"op\" and a \"path\".");
  }
  const m = /^\/([^/]+)$/.exec(op.path);
  if (!m) throw new HttpError(400, `Invalid JSON pointer for this resource: '${op.path}'`);
  const attr = m[1].replace(/~1/g, "/").replace(/~0/g, "~");
  if (READ_ONLY.includes(attr) || attr === "id" || attr === "owner") throw new HttpError(403, `Attribute '${attr}' is read-only.`);
  if (attr.startsWith("os_glance")) throw new HttpError(403, `Attribute '${attr}' is reserved.`);
  if ((attr === "container_format" || attr === "disk_format") && image.status !== "queued") {
    throw new HttpError(403, `Attribute ${attr} can be only replaced for a queued image.`);
  }
  switch (op.op) {
    case "add":
    case "replace":
      if (!("value" in op)) throw new HttpError(400, `Operation "${op.op}" requires a member named "value".`);
      doc[attr] = op.value;
      return;
    case "remove":
      if (BASE.includes(attr)) throw new HttpError(403, `Attribute '${attr}' is reserved.`);
      if (!(attr in doc)) throw new HttpError(409, `Property ${attr} does not exist.`);
      delete doc[attr];
      return;
    default:
      throw new HttpError(400, `Invalid operation: \`${op.op}\`.`);
  }
}

