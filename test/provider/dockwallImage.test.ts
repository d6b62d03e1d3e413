/**
 * DockwallImage against the lab's Glance and the machine's real Docker engine: `docker save` of a
 * small local image streamed into Glance, checksums compared with what Glance stored.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync } from "child_process";
import { createHash } from "crypto";
import { dockwallImageProvider as p, openSaveStream } from "../../provider/resources/dockwallImage";
import { GlanceClient } from "../../provider/clients/glance";
import { programUuid } from "../../provider/resources/common";
import type { ConnectionArgs } from "../../provider/config";
import { importTestImage, removeTestImages } from "../support/images";
import { checked, Lab, labWithConnection, requests, sessionOf } from "./helpers";

let lab: Lab;
let connection: ConnectionArgs;
let glance: GlanceClient;
const tag = `t${Date.now().toString(36)}`;
const ref = `dw-test-image:${tag}`;
const ref2 = `dw-test-image:${tag}b`;

function dockerAvailable(): boolean {
  try {
    execFileSync("docker", ["info"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

beforeAll(async () => {
  if (!dockerAvailable()) throw new Error("these tests need a Docker engine: run `bash test/support/docker.sh` (scripts/setup.sh does)");
  ({ lab, connection } = await labWithConnection());
  glance = new GlanceClient(sessionOf(connection));
  importTestImage(ref, 2 << 20);
  importTestImage(ref2, 64 << 10);
});
afterAll(async () => {
  await lab?.stop();
  removeTestImages([ref, ref2]);
});

async function saveDigest(reference: string): Promise<string> {
  const s = openSaveStream(undefined, reference);
  const h = createHash("md5");
  for await (const c of s.stream) h.update(c as Buffer);
  return h.digest("hex");
}

describe("DockwallImage against the lab", () => {
  it("records the image's content id in check", async () => {
    const inputs = await checked(p, { connection, imageRef: ref });
    const id = execFileSync("docker", ["image", "inspect", "--format", "{{.Id}}", ref]).toString().trim();
    expect(inputs.contentId).toBe(id);
  });

  it("is refused by a Glance that does not accept docker, with Glance's own message, and leaves nothing", async () => {
    lab.setGlanceContainerFormats(["ami", "ari", "aki", "bare", "ovf", "ova"]);
    const inputs = await checked(p, { connection, imageRef: ref });
    await expect(p.create(inputs)).rejects.toThrow(/400.*'docker' is not one of/);
    expect(await glance.findByNameV2(ref)).toHaveLength(0);
  });

  it("streams docker save into Glance v2, verifies the checksum, updates properties in place, and deletes", async () => {
    lab.setGlanceContainerFormats(["ami", "ari", "aki", "bare", "ovf", "ova", "docker"]);
    const inputs = await checked(p, { connection, imageRef: ref, properties: { os_command_line: "/usr/bin/dockwall-init" } });
    const { id, outs } = await p.create(inputs);
    expect(outs).toMatchObject({ name: ref, glanceVersion: "2", status: "active" });
    const img = await glance.getV2(id);
    expect(img).toMatchObject({ name: ref, container_format: "docker", disk_format: "raw", status: "active" });
    expect(img!.properties.os_command_line).toBe("/usr/bin/dockwall-init");
    expect(img!.checksum).toBe(await saveDigest(ref)); // Glance stored exactly the docker save tarball
    expect(outs.sizeBytes).toBeGreaterThan(2 << 20);

    const read = await p.read!(id, outs);
    expect((await p.diff!(id, read.props, inputs)).changes).toBe(false);

    const next = { ...inputs, properties: { os_command_line: "/sbin/init" }, visibility: "private" };
    expect(await p.diff!(id, outs, next)).toMatchObject({ changes: true, replaces: [] });
    const up = await p.update!(id, outs, next);
    expect((await glance.getV2(id))!.properties.os_command_line).toBe("/sbin/init");
    expect(up.outs.visibility).toBe("private");

    // A create of the same resource retried after its answer was lost adopts its own image.
    const adopted = await p.create(inputs);
    expect(adopted.id).toBe(id);
    // Another DockwallImage under the same name would make nova-docker's lookup ambiguous: refused.
    const other = await checked(p, { connection, imageRef: ref });
    await expect(p.create(other)).rejects.toThrow(/Glance already has 1 image\(s\) named/);

    await p.delete!(id, up.outs);
    expect(await glance.getV2(id)).toBeUndefined();
    await p.delete!(id, up.outs);
  });

  it("uses Glance v1 when asked (Juno-era clouds)", async () => {
    lab.setGlanceContainerFormats(["bare", "docker"]);
    const inputs = await checked(p, { connection, imageRef: ref2, glanceApiVersion: "1" });
    const { id, outs } = await p.create(inputs);
    expect(outs.glanceVersion).toBe("1");
    expect(requests(lab, /^glance POST \/v1\/images/)).toBeGreaterThan(0);
    expect(outs.checksum).toBe(await saveDigest(ref2));
    expect((await p.diff!(id, outs, { ...inputs, visibility: "private" })).replaces).toContain("visibility");
    await p.delete!(id, outs);
    expect(await glance.getV2(id)).toBeUndefined();
  });

  it("retries the upload after the connection drops mid-way, and deletes the half-made image when it cannot finish", async () => {
    lab.setGlanceContainerFormats(["bare", "docker"]);
    const inputs = await checked(p, { connection, imageRef: ref2 });
    lab.faults.add({ service: "glance", method: "PUT", path: "/file$", kind: "drop", times: 1 });
    const ok = await p.create(inputs);
    expect(ok.outs.status).toBe("active");
    await p.delete!(ok.id, ok.outs);

    lab.faults.add({ service: "glance", method: "PUT", path: "/file$", kind: "status", status: 503 });
    const failing = await checked(p, { connection: { ...connection, retries: 1 }, imageRef: ref2 });
    await expect(p.create(failing)).rejects.toThrow(/upload failed, the half-made Glance image was deleted.*503/);
    lab.faults.clear();
    expect(await glance.findByNameV2(ref2)).toHaveLength(0);
  });

  it("an up after a create whose answer was lost (no old inputs) recognises its own queued image by the program's owner key, removes it and uploads once", async () => {
    lab.setGlanceContainerFormats(["bare", "docker"]);
    const owner = programUuid("DockwallImage", "dockwall", "dev", `lost-${tag}`);
    lab.faults.add({ service: "glance", method: "POST", path: "^/v2/images$", kind: "drop-after-act", times: 1 });
    const first = await checked(p, { connection: { ...connection, retries: 0 }, imageRef: ref2, stableUuid: owner });
    expect(first.owner).toBe(owner);
    await expect(p.create(first)).rejects.toThrow();
    lab.faults.clear();
    const queued = await glance.findByNameV2(ref2);
    expect(queued.map((x) => [x.status, x.properties.dockwall_owner])).toEqual([["queued", owner]]);
    // The next up: Pulumi has no state for the resource, so check runs without old inputs.
    const again = await checked(p, { connection, imageRef: ref2, stableUuid: owner });
    const { id, outs } = await p.create(again);
    const live = (await glance.findByNameV2(ref2)).filter((x) => !["deleted", "pending_delete", "killed"].includes(x.status));
    expect(live.map((x) => [x.id, x.status])).toEqual([[id, "active"]]);
    expect(id).not.toBe(queued[0].id);
    // A different resource (another owner key) is still refused, not adopted.
    const stranger = await checked(p, { connection, imageRef: ref2, stableUuid: programUuid("DockwallImage", "dockwall", "dev", `other-${tag}`) });
    await expect(p.create(stranger)).rejects.toThrow(/Glance already has 1 image\(s\) named/);
    await p.delete!(id, outs);
  });

  it("refuses a tag-less, latest or missing image in check", async () => {
    expect((await p.check!({}, { connection, imageRef: "dockwall" })).failures![0].property).toBe("imageRef");
    expect((await p.check!({}, { connection, imageRef: "dockwall:latest" })).failures![0].reason).toMatch(/content-unique tag/);
    expect((await p.check!({}, { connection, imageRef: "dw-test-image:does-not-exist" })).failures![0].reason).toMatch(/has no image/);
  });

  it("two DockwallImages uploading the same name at the same time: one image stays, intact and verified; the other removes its upload and says why", async () => {
    lab.setGlanceContainerFormats(["bare", "docker"]);
    const a = await checked(p, { connection, imageRef: ref });
    const b = await checked(p, { connection, imageRef: ref });
    expect(a.owner).not.toBe(b.owner);
    const results = await Promise.allSettled([p.create(a), p.create(b)]);
    const ok = results.filter((r): r is PromiseFulfilledResult<any> => r.status === "fulfilled");
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
    expect(ok).toHaveLength(1);
    expect(failed).toHaveLength(1);
    expect(String(failed[0].reason.message)).toMatch(/(another DockwallImage uploaded|Glance already has 1 image\(s\) named)/);
    const images = (await glance.findByNameV2(ref)).filter((x) => !["deleted", "pending_delete", "killed"].includes(x.status));
    expect(images.map((x) => x.id)).toEqual([ok[0].value.id]);
    expect(images[0].status).toBe("active");
    expect(images[0].checksum).toBe(await saveDigest(ref));
    await p.delete!(ok[0].value.id, ok[0].value.outs);
  });
});
