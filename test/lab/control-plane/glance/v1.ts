/** Glance v1 (Juno): one-shot create with x-image-meta-* headers, HEAD, GET, list, PUT, DELETE. */
import type { IncomingMessage } from "node:http";
import { caller } from "../auth";
import { hasBody, mediaType } from "../http/body";
import { HttpError } from "../http/errors";
import { empty, json, stream, type Headers } from "../http/reply";
import type { Router } from "../http/router";
import type { AuthContext } from "../keystone/identity";
import { canSee, ownerOf, requireModify, visibleImage } from "./access";
import { ImageGoneError, type Image, type ImageStore } from "./images";

const META = "x-image-meta-";
const PROPERTY = "x-image-meta-property-";
const AMAZON = ["aki", "ari", "ami"];

interface V1Meta {
  name?: string;
  container_format?: string;
  disk_format?: string;
  is_public?: boolean;
  protected?: boolean;
  min_disk?: number;
  min_ram?: number;
  size?: number;
  checksum?: string;
  properties: Record<string, string>;
}

function readMeta(req: IncomingMessage): V1Meta {
  const meta: V1Meta = { properties: {} };
  for (const [key, raw] of Object.entries(req.headers)) {
    const value = Array.isArray(raw) ? raw[0] : raw;
    if (value === undefined) continue;
    if (key.startsWith(PROPERTY)) {
      meta.properties[key.slice(PROPERTY.length)] = value;
      continue;
    }
    if (!key.startsWith(META)) continue;
    const field = key.slice(META.length);
    switch (field) {
      case "name":
      case "container_format":
      case "disk_format":
      case "checksum":
        meta[field] = value;
        break;
      case "is_public":
      case "protected":
        meta[field] = ["true", "1", "on", "yes", "y"].includes(value.toLowerCase());
        break;
      case "min_disk":
      case "min_ram":
      case "size": {
        const n = Number(value);
        if (!Number.isInteger(n) || n < 0) throw new HttpError(400, `Invalid value for ${field}: ${value}`);
        meta[field] = n;
        break;
      }
      default:
        break;
    }
  }
  return meta;
}

/** Juno's `validate_image_meta`. */
function validateFormats(meta: V1Meta, store: ImageStore): void {
  if (meta.disk_format !== undefined && !store.diskFormats.includes(meta.disk_format)) {
    throw new HttpError(400, `Invalid disk format '${meta.disk_format}' for image.`);
  }
  if (meta.container_format !== undefined && !store.containerFormats.includes(meta.container_format)) {
    throw new HttpError(400, `Invalid container format '${meta.container_format}' for image.`);
  }
  if (meta.name !== undefined && meta.name.length > 255) throw new HttpError(400, `Image name too long: ${meta.name.length}`);
  const { disk_format: df, container_format: cf } = meta;
  if ((df !== undefined && AMAZON.includes(df)) || (cf !== undefined && AMAZON.includes(cf))) {
    if (df === undefined) meta.disk_format = cf;
    else if (cf === undefined) meta.container_format = df;
    else if (cf !== df) {
      throw new HttpError(
        400,
        "Invalid mix of disk and container formats. When setting a disk or container format to one of 'aki', 'ari', or 'ami', the container and disk formats must match.",
      );
    }
  }
}

function v1View(image: Image): Record<string, unknown> {
  return {
    id: image.id,
    name: image.name,
    status: image.status,
    is_public: image.visibility === "public",
    container_format: image.container_format,
    disk_format: image.disk_format,
    checksum: image.checksum,
    size: image.size ?? 0,
    min_disk: image.min_disk,
    min_ram: image.min_ram,
    owner: image.owner,
    protected: image.protected,
    created_at: image.created_at.replace(/Z$/, ""),
    updated_at: image.updated_at.replace(/Z$/, ""),
    deleted: false,
    deleted_at: null,
    properties: { ...image.properties },
  };
}

/** The metadata as v1 response headers (Python's str() of booleans and None). */
function metaHeaders(image: Image): Headers {
  const headers: Headers = {};
  for (const [k, v] of Object.entries(v1View(image))) {
    if (k === "properties") continue;
    headers[`${META}${k}`] = v === null ? "None" : typeof v === "boolean" ? (v ? "True" : "False") : String(v);
  }
  for (const [k, v] of Object.entries(image.properties)) headers[`${PROPERTY}${k}`] = v;
  return headers;
}

const notFound = (id: string) => `Image with identifier ${id} not found`;

export function addGlanceV1Routes(r: Router, store: ImageStore): void {
  const checkPublicize = (meta: V1Meta, auth: AuthContext) => {
    if (meta.is_public && !auth.isAdmin) throw new HttpError(403, "Access was denied to this resource.");
  };

  r.post("/v1/images", async (ctx) => {
    const auth = caller(ctx);
    const meta = readMeta(ctx.req);
    validateFormats(meta, store);
    checkPublicize(meta, auth);
    const withData = hasBody(ctx.req);
    if (withData) {
      if (mediaType(ctx.req) !== "application/octet-stream") {
        ctx.req.resume();
        throw new HttpError(400, "Content-Type must be application/octet-stream");
      }
      if (meta.name === undefined) throw drained(ctx.req, new HttpError(400, "Image name is required when uploading data."));
      if (meta.container_format === undefined) throw drained(ctx.req, new HttpError(400, "Container format is not specified."));
      if (meta.disk_format === undefined) throw drained(ctx.req, new HttpError(400, "Disk format is not specified."));
    }
    const image = store.create({
      name: meta.name ?? null,
      container_format: meta.container_format ?? null,
      disk_format: meta.disk_format ?? null,
      visibility: meta.is_public ? "public" : "private",
      protected: meta.protected ?? false,
      min_disk: meta.min_disk ?? 0,
      min_ram: meta.min_ram ?? 0,
      owner: ownerOf(auth),
      properties: meta.properties,
    });
    if (withData) await uploadV1(store, image, ctx.req, meta);
    return json(201, { image: v1View(image) }, { location: `${ctx.baseUrl}/v1/images/${image.id}` });
  });

  r.put("/v1/images/{id}", async (ctx) => {
    const auth = caller(ctx);
    const image = visibleImage(store, ctx.params.id, auth, notFound(ctx.params.id));
    requireModify(image, auth);
    const meta = readMeta(ctx.req);
    validateFormats(meta, store);
    checkPublicize(meta, auth);
    const withData = hasBody(ctx.req);
    if (withData && image.status !== "queued") throw drained(ctx.req, new HttpError(409, "Cannot upload to an unqueued image"));
    if (meta.name !== undefined) image.name = meta.name;
    if (meta.container_format !== undefined) image.container_format = meta.container_format;
    if (meta.disk_format !== undefined) image.disk_format = meta.disk_format;
    if (meta.is_public !== undefined) image.visibility = meta.is_public ? "public" : "private";
    if (meta.protected !== undefined) image.protected = meta.protected;
    Object.assign(image.properties, meta.properties);
    store.touch(image);
    if (withData) {
      if (image.container_format === null) throw drained(ctx.req, new HttpError(400, "Container format is not specified."));
      if (image.disk_format === null) throw drained(ctx.req, new HttpError(400, "Disk format is not specified."));
      await uploadV1(store, image, ctx.req, meta);
    }
    return json(200, { image: v1View(image) });
  });

  r.get("/v1/images", (ctx) => {
    const images = listV1(store, caller(ctx), ctx.query).map((i) => ({
      id: i.id,
      name: i.name,
      container_format: i.container_format,
      disk_format: i.disk_format,
      checksum: i.checksum,
      size: i.size ?? 0,
    }));
    return json(200, { images });
  });

  r.get("/v1/images/detail", (ctx) => json(200, { images: listV1(store, caller(ctx), ctx.query).map(v1View) }));

  r.head("/v1/images/{id}", (ctx) => {
    const image = visibleImage(store, ctx.params.id, caller(ctx), notFound(ctx.params.id));
    return empty(200, metaHeaders(image));
  });

  r.get("/v1/images/{id}", (ctx) => {
    const image = visibleImage(store, ctx.params.id, caller(ctx), notFound(ctx.params.id));
    const headers = metaHeaders(image);
    if (image.status !== "active" || image.size === null) return empty(200, headers);
    return stream(200, store.openData(image.id), "application/octet-stream", image.size, headers);
  });

  r.delete("/v1/images/{id}", async (ctx) => {
    const auth = caller(ctx);
    const image = visibleImage(store, ctx.params.id, auth, notFound(ctx.params.id));
    requireModify(image, auth);
    if (image.protected) throw new HttpError(403, "Image is protected");
    await store.delete(image.id);
    return empty(204);
  });
}

function listV1(store: ImageStore, auth: AuthContext, q: URLSearchParams): Image[] {
  let images = [...store.images.values()].filter((i) => canSee(i, auth)).reverse();
  for (const f of ["name", "status", "container_format", "disk_format"] as const) {
    const v = q.get(f);
    if (v !== null) images = images.filter((i) => i[f] === v);
  }
  return images;
}

function drained(req: IncomingMessage, err: HttpError): HttpError {
  req.resume();
  return err;
}

async function uploadV1(store: ImageStore, image: Image, req: IncomingMessage, meta: V1Meta): Promise<void> {
  let stored;
  try {
    stored = await store.receive(image, req, "killed");
  } catch (err) {
    if (err instanceof ImageGoneError) throw new HttpError(410, `Image ${image.id} was deleted during the upload.`);
    throw new HttpError(500, `Error uploading image: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (meta.size !== undefined && meta.size !== stored.size) {
    await store.kill(image);
    throw new HttpError(
      400,
      `Supplied size (${meta.size}) and size generated from uploaded image (${stored.size}) did not match. Setting image status to 'killed'.`,
    );
  }
  if (meta.checksum !== undefined && meta.checksum !== stored.md5) {
    await store.kill(image);
    throw new HttpError(
      400,
      `Supplied checksum (${meta.checksum}) and checksum generated from uploaded image (${stored.md5}) did not match. Setting image status to 'killed'.`,
    );
  }
}
