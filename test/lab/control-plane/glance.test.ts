import { createHash } from "node:crypto";
import { existsSync, readdirSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LabBus } from "./core";
import { ImageStore } from "./glance/images";
import { startLab, type Lab } from "./index";
import { call, token } from "./test-helpers";

let lab: Lab;
let t: string;

beforeAll(async () => {
  lab = await startLab();
  t = await token(lab);
});
afterAll(() => lab.stop());

const images = (path = "") => `${lab.urls.glance}/v2/images${path}`;
const JUNO = ["ami", "ari", "aki", "bare", "ovf", "ova"];

/** Streams `chunks` with chunked transfer encoding (no Content-Length), as `docker save | upload` does. */
function streamUpload(url: string, chunks: Buffer[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: "PUT", headers: { "x-auth-token": t, "content-type": "application/octet-stream" } }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", reject);
    let i = 0;
    const next = () => {
      if (i === chunks.length) return req.end();
      req.write(chunks[i++], next);
    };
    next();
  });
}

describe("glance v2", () => {
  it("refuses container_format docker with Juno's exact 400, then accepts it once enabled", async () => {
    lab.setGlanceContainerFormats(JUNO);
    const refused = await call(images(), { token: t, json: { name: "dockwall:1", container_format: "docker", disk_format: "raw" } });
    expect(refused.status).toBe(400);
    expect(refused.headers.get("content-type")).toContain("text/plain");
    expect(refused.text).toContain(
      "Provided object does not match schema 'image': 'docker' is not one of ['ami', 'ari', 'aki', 'bare', 'ovf', 'ova']",
    );
    expect(refused.text).toContain("Failed validating 'enum' in schema['properties']['container_format']");

    lab.setGlanceContainerFormats([...JUNO, "docker"]);
    const created = await call(images(), { token: t, json: { name: "dockwall:1", container_format: "docker", disk_format: "raw" } });
    expect(created.status).toBe(201);
    expect(created.headers.get("location")).toBe(images(`/${created.json().id}`));
    expect(created.json()).toMatchObject({ status: "queued", checksum: null, size: null, os_hash_algo: null, visibility: "private" });
  });

  it("streams an upload to disk, computing checksum (md5) and multihash (sha512)", async () => {
    lab.setGlanceContainerFormats([...JUNO, "docker"]);
    const id = (await call(images(), { token: t, json: { name: "stream:1", container_format: "docker", disk_format: "raw" } })).json().id;
    const chunks = Array.from({ length: 32 }, (_, i) => Buffer.alloc(64 * 1024, i));
    const whole = Buffer.concat(chunks);
    expect(await streamUpload(images(`/${id}/file`), chunks)).toBe(204);
    const image = (await call(images(`/${id}`), { token: t })).json();
    expect(image).toMatchObject({
      status: "active",
      size: whole.length,
      checksum: createHash("md5").update(whole).digest("hex"),
      os_hash_algo: "sha512",
      os_hash_value: createHash("sha512").update(whole).digest("hex"),
    });
    const download = await fetch(images(`/${id}/file`), { headers: { "x-auth-token": t } });
    expect(download.status).toBe(200);
    expect(download.headers.get("content-md5")).toBe(image.checksum);
    expect(Buffer.from(await download.arrayBuffer()).equals(whole)).toBe(true);
    // Data cannot be uploaded twice.
    const again = await call(images(`/${id}/file`), { method: "PUT", token: t, body: "x", headers: { "content-type": "application/octet-stream" } });
    expect(again.status).toBe(409);
    expect(again.text).toContain("Image status transition from active to saving is not allowed");
  });

  it("answers 415 for an upload that is not application/octet-stream", async () => {
    const id = (await call(images(), { token: t, json: { name: "ct", container_format: "bare", disk_format: "raw" } })).json().id;
    const res = await call(images(`/${id}/file`), { method: "PUT", token: t, body: "data", headers: { "content-type": "application/json" } });
    expect(res.status).toBe(415);
    expect((await call(images(`/${id}`), { token: t })).json().status).toBe("queued");
  });

  it("finds images by name, patches with the json-patch media type, and deletes with 204", async () => {
    const id = (await call(images(), { token: t, json: { name: "findme", container_format: "bare", disk_format: "raw" } })).json().id;
    const found = await call(images("?name=findme"), { token: t });
    expect(found.json().images.map((i: { id: string }) => i.id)).toEqual([id]);

    const wrongType = await call(images(`/${id}`), { method: "PATCH", token: t, json: [{ op: "replace", path: "/name", value: "x" }] });
    expect(wrongType.status).toBe(415);
    const patched = await call(images(`/${id}`), {
      method: "PATCH",
      token: t,
      body: JSON.stringify([
        { op: "replace", path: "/name", value: "renamed" },
        { op: "add", path: "/os_command_line", value: "/sbin/init" },
      ]),
      headers: { "content-type": "application/openstack-images-v2.1-json-patch" },
    });
    expect(patched.status).toBe(200);
    expect(patched.json()).toMatchObject({ name: "renamed", os_command_line: "/sbin/init" });
    const readOnly = await call(images(`/${id}`), {
      method: "PATCH",
      token: t,
      body: JSON.stringify([{ op: "replace", path: "/status", value: "active" }]),
      headers: { "content-type": "application/openstack-images-v2.1-json-patch" },
    });
    expect(readOnly.status).toBe(403);

    expect((await call(images(`/${id}`), { method: "DELETE", token: t })).status).toBe(204);
    expect((await call(images(`/${id}`), { token: t })).status).toBe(404);
  });

  it("keeps its data in a dw-lab-* temp dir and removes files on delete", async () => {
    lab.setGlanceContainerFormats([...JUNO, "docker"]);
    const id = (await call(images(), { token: t, json: { name: "tmp:1", container_format: "docker", disk_format: "raw" } })).json().id;
    await call(images(`/${id}/file`), { method: "PUT", token: t, body: "abc", headers: { "content-type": "application/octet-stream" } });
    const inventory = lab.inventory();
    expect(inventory.glance.images.some((i) => i.id === id)).toBe(true);
    await call(images(`/${id}`), { method: "DELETE", token: t });
    expect(lab.inventory().glance.images.some((i) => i.id === id)).toBe(false);
  });
});

describe("glance v1", () => {
  it("refuses docker with the v1 400 text while it is not enabled", async () => {
    lab.setGlanceContainerFormats(JUNO);
    const res = await call(`${lab.urls.glance}/v1/images`, {
      token: t,
      body: "tar",
      headers: {
        "content-type": "application/octet-stream",
        "x-image-meta-name": "dockwall:v1",
        "x-image-meta-container_format": "docker",
        "x-image-meta-disk_format": "raw",
      },
    });
    expect(res.status).toBe(400);
    expect(res.text).toContain("Invalid container format 'docker' for image.");
  });

  it("creates with data in one POST, answers HEAD with x-image-meta-*, lists by name and deletes", async () => {
    lab.setGlanceContainerFormats([...JUNO, "docker"]);
    const data = Buffer.from("docker save output");
    const md5 = createHash("md5").update(data).digest("hex");
    const res = await call(`${lab.urls.glance}/v1/images`, {
      token: t,
      body: data,
      headers: {
        "content-type": "application/octet-stream",
        "x-image-meta-name": "dockwall:v1",
        "x-image-meta-container_format": "docker",
        "x-image-meta-disk_format": "raw",
        "x-image-meta-is_public": "True",
        "x-image-meta-checksum": md5,
        "x-image-meta-property-os_command_line": "/init",
      },
    });
    expect(res.status).toBe(201);
    const image = res.json().image;
    expect(image).toMatchObject({ status: "active", checksum: md5, size: data.length, is_public: true, container_format: "docker" });
    expect(image.properties).toEqual({ os_command_line: "/init" });

    const head = await fetch(`${lab.urls.glance}/v1/images/${image.id}`, { method: "HEAD", headers: { "x-auth-token": t } });
    expect(head.status).toBe(200);
    expect(head.headers.get("x-image-meta-status")).toBe("active");
    expect(head.headers.get("x-image-meta-is_public")).toBe("True");
    expect(head.headers.get("x-image-meta-property-os_command_line")).toBe("/init");

    const listed = await call(`${lab.urls.glance}/v1/images?name=dockwall:v1`, { token: t });
    expect(listed.json().images.map((i: { id: string }) => i.id)).toEqual([image.id]);
    // The same image through v2.
    expect((await call(images(`/${image.id}`), { token: t })).json().os_hash_algo).toBe("sha512");
    expect((await call(`${lab.urls.glance}/v1/images/${image.id}`, { method: "DELETE", token: t })).status).toBe(204);
  });

  it("kills an image whose data does not match x-image-meta-checksum", async () => {
    const res = await call(`${lab.urls.glance}/v1/images`, {
      token: t,
      body: "data",
      headers: {
        "content-type": "application/octet-stream",
        "x-image-meta-name": "bad-sum",
        "x-image-meta-container_format": "bare",
        "x-image-meta-disk_format": "raw",
        "x-image-meta-checksum": "0".repeat(32),
      },
    });
    expect(res.status).toBe(400);
    expect(res.text).toContain("did not match. Setting image status to 'killed'.");
  });
});

describe("image files", () => {
  it("live in a dw-lab-* directory under the temp dir, go with their image, and the directory goes on dispose", async () => {
    const store = new ImageStore(new LabBus(), JUNO);
    expect(store.dir.startsWith(join(tmpdir(), "dw-lab-"))).toBe(true);
    const image = store.create({ name: "f", container_format: "bare", disk_format: "raw", owner: "p" });
    await store.receive(image, Readable.from([Buffer.from("abc"), Buffer.from("def")]), "queued");
    expect(image).toMatchObject({ status: "active", size: 6, checksum: createHash("md5").update("abcdef").digest("hex") });
    expect(existsSync(store.dataPath(image.id))).toBe(true);
    await store.delete(image.id);
    expect(existsSync(store.dataPath(image.id))).toBe(false);
    const kept = store.create({ name: "g", container_format: "bare", disk_format: "raw", owner: "p" });
    await store.receive(kept, Readable.from([Buffer.from("x")]), "queued");
    store.dispose();
    expect(existsSync(store.dir)).toBe(false);
  });

  it("returns a failed v2 upload to queued so it can be retried", async () => {
    const store = new ImageStore(new LabBus(), JUNO);
    const image = store.create({ name: "r", container_format: "bare", disk_format: "raw", owner: "p" });
    const broken = new Readable({
      read() {
        this.push(Buffer.from("partial"));
        this.destroy(new Error("client went away"));
      },
    });
    await expect(store.receive(image, broken, "queued")).rejects.toThrow("client went away");
    expect(image.status).toBe("queued");
    expect(readdirSync(store.dir)).toEqual([]);
    store.dispose();
  });
});
