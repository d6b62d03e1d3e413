/**
 * Glance's model: image records plus their data in a temporary directory. Uploads stream to disk
 * while MD5 (`checksum`) and SHA-512 (`os_hash_value`) are computed; nothing is buffered whole.
 */
import { createHash } from "node:crypto";
import { createReadStream, createWriteStream, mkdtempSync, rmSync } from "node:fs";
import { rename, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Transform, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { LabBus } from "../core";
import { isoSeconds, newUuid } from "../util/ids";

export type ImageStatus = "queued" | "saving" | "active" | "killed" | "deleted";

export interface Image {
  id: string;
  name: string | null;
  status: ImageStatus;
  container_format: string | null;
  disk_format: string | null;
  visibility: "public" | "private" | "shared" | "community";
  protected: boolean;
  min_disk: number;
  min_ram: number;
  owner: string;
  size: number | null;
  checksum: string | null;
  os_hash_algo: string | null;
  os_hash_value: string | null;
  created_at: string;
  updated_at: string;
  tags: string[];
  /** Custom (extra) properties; values are strings. */
  properties: Record<string, string>;
}

/** Juno's default `[image_format] container_formats`. */
export const JUNO_CONTAINER_FORMATS = ["ami", "ari", "aki", "bare", "ovf", "ova"];
/** Juno's default `[image_format] disk_formats`. */
export const JUNO_DISK_FORMATS = ["ami", "ari", "aki", "vhd", "vmdk", "raw", "qcow2", "vdi", "iso"];

export interface StoredData {
  size: number;
  md5: string;
  sha512: string;
}

export class ImageGoneError extends Error {}

export class ImageStore {
  readonly images = new Map<string, Image>();
  containerFormats: string[];
  readonly diskFormats = [...JUNO_DISK_FORMATS];
  readonly dir: string;
  private readonly uploads = new Map<string, Readable>();

  constructor(
    private readonly bus: LabBus,
    containerFormats: string[],
  ) {
    this.containerFormats = [...containerFormats];
    this.dir = mkdtempSync(join(tmpdir(), "dw-lab-"));
  }

  create(fields: Partial<Image> & { owner: string }): Image {
    const now = isoSeconds();
    const image: Image = {
      id: fields.id ?? newUuid(),
      name: fields.name ?? null,
      status: "queued",
      container_format: fields.container_format ?? null,
      disk_format: fields.disk_format ?? null,
      visibility: fields.visibility ?? "private",
      protected: fields.protected ?? false,
      min_disk: fields.min_disk ?? 0,
      min_ram: fields.min_ram ?? 0,
      owner: fields.owner,
      size: null,
      checksum: null,
      os_hash_algo: null,
      os_hash_value: null,
      created_at: now,
      updated_at: now,
      tags: fields.tags ?? [],
      properties: fields.properties ?? {},
    };
    this.images.set(image.id, image);
    this.bus.change("glance", "image", "create", image.id);
    return image;
  }

  touch(image: Image): void {
    image.updated_at = isoSeconds();
    this.bus.change("glance", "image", "update", image.id);
  }

  /** Active images with exactly this name (svc-monitor and nova-docker look images up by name). */
  findByName(name: string): Image[] {
    return [...this.images.values()].filter((i) => i.name === name);
  }

  dataPath(id: string): string {
    return join(this.dir, id);
  }

  openData(id: string): Readable {
    return createReadStream(this.dataPath(id));
  }

  /**
   * Streams `source` into the image's file. The image goes `saving`, then `active`; on failure it
   * returns to `onFailure` (v2: queued, v1: killed). Throws ImageGoneError when the image was
   * deleted meanwhile, or the stream's error.
   */
  async receive(image: Image, source: Readable, onFailure: ImageStatus): Promise<StoredData> {
    image.status = "saving";
    this.touch(image);
    const md5 = createHash("md5");
    const sha512 = createHash("sha512");
    let size = 0;
    const hasher = new Transform({
      transform(chunk: Buffer, _enc, done) {
        md5.update(chunk);
        sha512.update(chunk);
        size += chunk.length;
        done(null, chunk);
      },
    });
    const partial = `${this.dataPath(image.id)}.part`;
    this.uploads.set(image.id, source);
    try {
      await pipeline(source, hasher, createWriteStream(partial));
    } catch (err) {
      await rm(partial, { force: true });
      if (!this.images.has(image.id)) throw new ImageGoneError();
      image.status = onFailure;
      this.touch(image);
      throw err;
    } finally {
      this.uploads.delete(image.id);
    }
    if (!this.images.has(image.id)) {
      await rm(partial, { force: true });
      throw new ImageGoneError();
    }
    await rename(partial, this.dataPath(image.id));
    const data = { size, md5: md5.digest("hex"), sha512: sha512.digest("hex") };
    image.size = data.size;
    image.checksum = data.md5;
    image.os_hash_algo = "sha512";
    image.os_hash_value = data.sha512;
    image.status = "active";
    this.touch(image);
    return data;
  }

  /** Marks an image failed (v1 checksum or size mismatch) and drops its data. */
  async kill(image: Image): Promise<void> {
    image.status = "killed";
    await rm(this.dataPath(image.id), { force: true });
    this.touch(image);
  }

  async delete(id: string): Promise<void> {
    // An upload in progress runs to its end and then answers 410 (see `receive`).
    if (!this.images.delete(id)) return;
    await rm(this.dataPath(id), { force: true });
    this.bus.change("glance", "image", "delete", id);
  }

  /** Removes every stored file and the directory. */
  dispose(): void {
    for (const upload of this.uploads.values()) upload.destroy(new Error("lab stopping"));
    rmSync(this.dir, { recursive: true, force: true });
  }
}
