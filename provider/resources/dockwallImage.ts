/**
 * `DockwallImage`: the VNF image in Glance, the way nova-docker needs it — the seed's
 * `docker save dockwall | glance image-create --container-format=docker --disk-format=raw`.
 *
 * - The source is either `build` (the dockwall VNF image from `provider/image` with the firewall
 *   rules baked in, built through the Docker Engine API and tagged `dockwall:<context digest>`) or
 *   a prebuilt local Docker image reference `imageRef` (`repo:tag`); its tarball comes from the Docker
 *   Engine API (`GET /images/{name}/get`, i.e. `docker save`) and is streamed into Glance without
 *   being held in memory, hashed on the way (MD5 and SHA-512).
 * - The Glance name is the `repo:tag` (nova-docker boots by name and runs `docker load` only when a
 *   host does not have that name yet), so the tag must be content-unique: `check` records the
 *   image's content id, and new content under an old tag is refused.
 * - Glance v2 (create → PUT /file → wait for active) with a Glance v1 fallback; the checksum
 *   (multihash when offered, else MD5) is verified; a failed upload deletes the half-made image.
 * - New content means a new image: `imageRef`, `contentId`, container and disk format replace;
 *   visibility and properties are updated in place (Glance v2).
 */
import * as pulumi from "@pulumi/pulumi";
import type { Readable } from "stream";
import type { ConnectionArgs } from "../config";
import { GlanceClient, Image, ImageCreate } from "../clients/glance";
import type { Session } from "../clients/keystone";
import type { FirewallRule } from "../image/firewall";
import { validateFirewallRules } from "../image/firewall";
import { buildContext, buildImage, imageDir, imageTag, DEFAULT_BASE_IMAGE, DEFAULT_REPOSITORY } from "../image/build";
import { Checker, UNKNOWN, changedKeys, checkedUuid, stableUuidFor, checkConnectionResolvable, configureFromStack, log, sessionFor, waitFor } from "./common";
import { locate, providerLoader } from "./loader";

export const VISIBILITIES = ["public", "private", "shared", "community"] as const;

export interface DockerEndpoint {
  /** Docker Engine API: "unix:///var/run/docker.sock" (default, or DOCKER_HOST), "tcp://host:2375", "http(s)://host:port". */
  host?: string;
}

/** Build the dockwall VNF image from `provider/image` (give either this or `imageRef`). */
export interface DockwallBuildArgs {
  /** Firewall rules for forwarded traffic, first match wins. Default: none (forward everything, as the original did). */
  firewallRules?: pulumi.Input<pulumi.Input<FirewallRule>[]>;
  /** Verdict for forwarded traffic no rule matched: "accept" (default) or "drop". */
  defaultPolicy?: pulumi.Input<"accept" | "drop">;
  /** Base image, present in the engine or pullable. Default "debian:bookworm-slim". */
  baseImage?: pulumi.Input<string>;
  /** Repository of the content-unique tag `<repository>:<digest12>`. Default "dockwall". */
  repository?: pulumi.Input<string>;
  /** Folder with the image files. Default: the package's own `provider/image`. */
  contextDir?: pulumi.Input<string>;
}

export interface DockwallBuildInputs {
  firewallRules: FirewallRule[];
  defaultPolicy: "accept" | "drop";
  baseImage: string;
  repository: string;
  contextDir: string;
}

export interface DockwallImageArgs {
  /** Connection settings (secret as a whole); default: stack config, then OS_* variables, then clouds.yaml. */
  connection?: pulumi.Input<ConnectionArgs>;
  /**
   * A prebuilt local Docker image with an explicit, content-unique tag, e.g. "dockwall:3f2a9c1e"
   * (from `docker build`, or `@pulumi/docker`'s `docker.Image`). Becomes the Glance image name.
   * Give either this or `build`.
   */
  imageRef?: pulumi.Input<string>;
  /** Build the dockwall image (firewall rules baked in); the tag and Glance name become `dockwall:<digest12>`. */
  build?: pulumi.Input<DockwallBuildArgs>;
  /** Where the Docker engine is. Default: DOCKER_HOST, else the local socket. */
  docker?: pulumi.Input<DockerEndpoint>;
  /** Glance visibility. Default "public" (the seed's `--is-public True`; publicizing needs the admin role). */
  visibility?: pulumi.Input<(typeof VISIBILITIES)[number]>;
  /** Extra Glance image properties (e.g. os_command_line). */
  properties?: pulumi.Input<Record<string, pulumi.Input<string>>>;
  /** Glance API: "auto" (v2 when offered, else v1), "2" or "1". Default "auto". */
  glanceApiVersion?: pulumi.Input<"auto" | "1" | "2">;
  /** Upload timeout per attempt in seconds. Default 1800. */
  uploadTimeoutSeconds?: pulumi.Input<number>;
}

export interface DockwallImageInputs {
  connection?: ConnectionArgs;
  /** Given, or (with `build`) derived from the build context's digest. */
  imageRef: string;
  build?: DockwallBuildInputs;
  docker?: DockerEndpoint;
  visibility: string;
  properties: Record<string, string>;
  glanceApiVersion: "auto" | "1" | "2";
  uploadTimeoutSeconds: number;
  /** Docker image id (sha256:…) of imageRef, recorded by check: new content is a visible diff. */
  contentId: string;
  /** This resource's identity in Glance (property dockwall_owner), fixed in check. */
  owner: string;
}

export interface DockwallImageOutputs extends DockwallImageInputs {
  /** Glance image name (= imageRef). */
  name: string;
  glanceId: string;
  glanceVersion: "1" | "2";
  status: string;
  checksum: string;
  osHashAlgo?: string;
  osHashValue?: string;
  sizeBytes: number;
}

/** A `build` change that matters changes the digest, hence imageRef and contentId: a replacement. */
export const IMAGE_REPLACE_KEYS = ["imageRef", "contentId", "glanceApiVersion"] as const;
export const IMAGE_UPDATE_KEYS = ["visibility", "properties", "docker", "uploadTimeoutSeconds", "connection"] as const;
/** Property keys dockwall sets itself. */
export const CONTENT_PROPERTY = "dockwall_content_id";
/** Which DockwallImage made a Glance image (a uuid fixed in check): a retried create adopts only its own. */
export const OWNER_PROPERTY = "dockwall_owner";

/** A Docker reference with an explicit tag (not "latest", not a digest). */
export function parseImageRef(ref: string): { repo: string; tag: string } | undefined {
  const m = /^((?:[a-z0-9.-]+(?::[0-9]+)?\/)?[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*):([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})$/.exec(ref);
  return m ? { repo: m[1], tag: m[2] } : undefined;
}

/** dockerode options for an endpoint. */
export function dockerOptions(ep: DockerEndpoint | undefined, env: Record<string, string | undefined> = process.env): Record<string, unknown> {
  const host = ep?.host ?? env.DOCKER_HOST ?? "unix:///var/run/docker.sock";
  if (host.startsWith("unix://")) return { socketPath: host.slice("unix://".length) };
  const u = new URL(host.replace(/^tcp:/, "http:"));
  return { protocol: u.protocol.replace(":", ""), host: u.hostname, port: Number(u.port || (u.protocol === "https:" ? 2376 : 2375)) };
}

/** Inspect a local image; undefined when it does not exist. */
export async function inspectLocalImage(ep: DockerEndpoint | undefined, ref: string): Promise<{ Id: string; RepoTags?: string[] } | undefined> {
  const Docker = require("dockerode");
  const docker = new Docker(dockerOptions(ep));
  try {
    return await docker.getImage(ref).inspect();
  } catch (e: any) {
    if (e?.statusCode === 404) return undefined;
    throw new Error(`cannot reach the Docker engine (${ep?.host ?? process.env.DOCKER_HOST ?? "unix:///var/run/docker.sock"}) to inspect ${ref}: ${e?.message ?? e}`);
  }
}

export interface Digests {
  md5: string;
  sha512: string;
  size: number;
}

/**
 * Open `docker save <ref>` as a stream, hashing it on the way. Returns a stream at once (the
 * engine call is asynchronous) and a promise of the digests once the stream has ended.
 */
export function openSaveStream(ep: DockerEndpoint | undefined, ref: string): { stream: Readable; digests: Promise<Digests> } {
  const { PassThrough } = require("stream") as typeof import("stream");
  const crypto = require("crypto") as typeof import("crypto");
  const Docker = require("dockerode");
  const out = new PassThrough({ highWaterMark: 1 << 20 });
  const md5 = crypto.createHash("md5");
  const sha512 = crypto.createHash("sha512");
  let size = 0;
  const digests = new Promise<Digests>((resolve, reject) => {
    out.on("error", reject);
    new Docker(dockerOptions(ep))
      .getImage(ref)
      .get()
      .then((src: Readable) => {
        src.on("data", (chunk: Buffer) => {
          md5.update(chunk);
          sha512.update(chunk);
          size += chunk.length;
        });
        src.on("end", () => resolve({ md5: md5.digest("hex"), sha512: sha512.digest("hex"), size }));
        src.on("error", (e: Error) => {
          out.destroy(e);
          reject(e);
        });
        src.pipe(out);
      })
      .catch((e: Error) => {
        const err = new Error(`docker save ${ref} failed: ${e.message}`);
        out.destroy(err);
        reject(err);
      });
  });
  digests.catch(() => undefined);
  return { stream: out, digests };
}

export async function checkDockwallImage(olds: Partial<DockwallImageInputs>, news: any, inspect = inspectLocalImage): Promise<{ inputs: DockwallImageInputs; failures: { property: string; reason: string }[] }> {
  const c = new Checker();
  c.connection(news.connection);
  let contentId: string = news.contentId;
  let imageRef: string = news.imageRef;
  let build: DockwallBuildInputs | undefined;
  if (news.build !== undefined && news.imageRef !== undefined) {
    c.fail("imageRef", "give either imageRef (a prebuilt local image) or build (build the dockwall image), not both");
  } else if (news.build === undefined && news.imageRef === undefined) {
    c.fail("imageRef", "imageRef (a prebuilt local image repo:tag) or build (build the dockwall image) is required");
  } else if (news.build !== undefined) {
    const b = checkBuild(c, news.build);
    if (b === UNKNOWN) {
      imageRef = UNKNOWN;
      contentId = UNKNOWN;
    } else if (b) {
      build = b;
      try {
        const ctx = buildContext(b.firewallRules, { imageDir: b.contextDir, firewall: { defaultPolicy: b.defaultPolicy }, buildArgs: { BASE_IMAGE: b.baseImage } });
        imageRef = imageTag(ctx, b.repository);
        contentId = `context:sha256:${ctx.digest}`;
      } catch (e) {
        c.fail("build", `build: cannot read the image files: ${(e as Error).message}`);
      }
    }
  } else if (c.requiredString("imageRef", news.imageRef)) {
    const ref: string = news.imageRef;
    const parsed = parseImageRef(ref);
    if (!parsed) {
      c.fail("imageRef", `imageRef must be a Docker reference with an explicit tag, "repo:tag" (nova-docker boots the Glance image by that name); got "${ref.slice(0, 120)}"`);
    } else if (parsed.tag === "latest") {
      c.fail("imageRef", `imageRef must not use the tag "latest": nova-docker loads an image only when a host does not have that name yet, so new content needs a new, content-unique tag (e.g. "${parsed.repo}:<digest>")`);
    }
  }
  c.oneOf("visibility", news.visibility, VISIBILITIES);
  c.stringMap("properties", news.properties);
  if (news.properties && typeof news.properties === "object") {
    for (const k of Object.keys(news.properties)) {
      if (/^os_glance/.test(k)) c.fail(`properties.${k}`, `properties.${k}: keys starting with os_glance are reserved by Glance`);
      if (k === CONTENT_PROPERTY || k === OWNER_PROPERTY) c.fail(`properties.${k}`, `properties.${k} is set by dockwall itself`);
    }
  }
  c.oneOf("glanceApiVersion", news.glanceApiVersion, ["auto", "1", "2"] as const);
  c.integer("uploadTimeoutSeconds", news.uploadTimeoutSeconds, 1, 86400);
  if (news.docker !== undefined && news.docker !== UNKNOWN) {
    const h = news.docker?.host;
    if (h !== undefined && h !== UNKNOWN && (typeof h !== "string" || !/^(unix:\/\/\/|tcp:\/\/|https?:\/\/)/.test(h))) {
      c.fail("docker.host", `docker.host must start with unix:///, tcp://, http:// or https://; got ${JSON.stringify(h)}`);
    }
  }
  // Record the content id of the local image, so new content shows as a replacement.
  if (!c.failures.length && news.build === undefined && news.imageRef !== UNKNOWN && !containsUnknownDeep(news.docker)) {
    try {
      const img = await inspect(news.docker, news.imageRef);
      if (!img) c.fail("imageRef", `the Docker engine has no image "${news.imageRef}" (build or pull it first)`);
      else contentId = img.Id;
    } catch (e) {
      c.fail("imageRef", (e as Error).message);
    }
    if (contentId && olds.contentId && olds.imageRef === news.imageRef && olds.contentId !== contentId) {
      c.fail(
        "imageRef",
        `the content of "${news.imageRef}" changed (${olds.contentId.slice(0, 19)} → ${contentId.slice(0, 19)}) but its tag did not: hosts that already loaded "${news.imageRef}" would keep booting the old content. Give the new content a new tag.`,
      );
    }
  }
  if (!c.failures.length) checkConnectionResolvable(c, news.connection);
  return {
    inputs: {
      ...(news.connection !== undefined ? { connection: news.connection } : {}),
      imageRef,
      ...(build ? { build } : {}),
      ...(news.docker !== undefined ? { docker: news.docker } : {}),
      visibility: news.visibility ?? "public",
      properties: news.properties ?? {},
      glanceApiVersion: news.glanceApiVersion ?? "auto",
      uploadTimeoutSeconds: news.uploadTimeoutSeconds ?? 1800,
      contentId: contentId ?? UNKNOWN,
      owner: checkedUuid(olds, { stableUuid: news.stableUuid }, "owner"),
    },
    failures: c.failures,
  };
}

/** Validate `build`; UNKNOWN while any part of it is not known yet (preview). */
function checkBuild(c: Checker, b: any): DockwallBuildInputs | typeof UNKNOWN | undefined {
  if (b === UNKNOWN || containsUnknownDeep(b)) return UNKNOWN;
  if (typeof b !== "object" || b === null || Array.isArray(b)) {
    c.fail("build", "build must be an object { firewallRules?, defaultPolicy?, baseImage?, repository?, contextDir? }");
    return undefined;
  }
  const before = c.failures.length;
  for (const k of Object.keys(b)) {
    if (!["firewallRules", "defaultPolicy", "baseImage", "repository", "contextDir"].includes(k)) c.fail(`build.${k}`, `build.${k} is not a known setting (allowed: firewallRules, defaultPolicy, baseImage, repository, contextDir)`);
  }
  for (const issue of validateFirewallRules(b.firewallRules ?? [], "build.firewallRules")) {
    c.fail(issue.property, issue.reason.includes(issue.property) ? issue.reason : `${issue.property}: ${issue.reason}`);
  }
  if (b.defaultPolicy !== undefined && b.defaultPolicy !== "accept" && b.defaultPolicy !== "drop") c.fail("build.defaultPolicy", `build.defaultPolicy must be "accept" or "drop"; got ${JSON.stringify(b.defaultPolicy)}`);
  if (b.baseImage !== undefined && (typeof b.baseImage !== "string" || !/^[a-z0-9][a-z0-9._\/:@-]{0,254}$/.test(b.baseImage))) c.fail("build.baseImage", `build.baseImage must be a Docker image reference such as "debian:bookworm-slim"; got ${JSON.stringify(b.baseImage)}`);
  if (b.repository !== undefined && (typeof b.repository !== "string" || !parseImageRef(`${b.repository}:x`))) c.fail("build.repository", `build.repository must be a Docker repository name (lower-case, e.g. "dockwall" or "registry:5000/team/dockwall"); got ${JSON.stringify(b.repository)}`);
  if (b.contextDir !== undefined && typeof b.contextDir !== "string") c.fail("build.contextDir", "build.contextDir must be a folder path");
  if (c.failures.length > before) return undefined;
  let contextDir = b.contextDir as string | undefined;
  if (contextDir === undefined) {
    try {
      contextDir = imageDir();
    } catch (e) {
      c.fail("build.contextDir", `build.contextDir is required here: ${(e as Error).message}`);
      return undefined;
    }
  }
  return {
    firewallRules: b.firewallRules ?? [],
    defaultPolicy: b.defaultPolicy ?? "accept",
    baseImage: b.baseImage ?? DEFAULT_BASE_IMAGE,
    repository: b.repository ?? DEFAULT_REPOSITORY,
    contextDir,
  };
}

/** With `build`: make sure the engine has the image `i.imageRef`, building it when it is missing. */
export async function ensureBuilt(i: DockwallImageInputs): Promise<void> {
  if (!i.build) return;
  if (await inspectLocalImage(i.docker, i.imageRef)) return;
  const b = i.build;
  const ctx = buildContext(b.firewallRules, { imageDir: b.contextDir, firewall: { defaultPolicy: b.defaultPolicy }, buildArgs: { BASE_IMAGE: b.baseImage } });
  const want = `context:sha256:${ctx.digest}`;
  if (want !== i.contentId) {
    throw new Error(`DockwallImage ${i.imageRef}: the image files in ${b.contextDir} changed since check (digest ${ctx.digest.slice(0, 12)}); run the update again`);
  }
  const Docker = require("dockerode");
  log(`image ${i.imageRef}: building from ${b.contextDir} (base ${b.baseImage}, ${b.firewallRules.length} firewall rule(s))`);
  await buildImage(new Docker(dockerOptions(i.docker)), ctx, i.imageRef, b.baseImage);
}

/** With `build`, the local tag is ours: remove it (keeping the build cache); a tag still in use stays. */
async function removeBuiltTag(i: DockwallImageInputs): Promise<void> {
  const Docker = require("dockerode");
  try {
    await new Docker(dockerOptions(i.docker)).getImage(i.imageRef).remove({ noprune: true });
  } catch (e: any) {
    if (e?.statusCode === 404) return;
    log(`image ${i.imageRef}: the local tag was kept: ${e?.statusCode === 409 ? "a container still uses it" : e?.message ?? e}`);
  }
}

function containsUnknownDeep(v: unknown): boolean {
  return JSON.stringify(v ?? null).includes(UNKNOWN);
}

function imageSpec(i: DockwallImageInputs): ImageCreate {
  return { name: i.imageRef, containerFormat: "docker", diskFormat: "raw", visibility: i.visibility as ImageCreate["visibility"], properties: { ...i.properties, [CONTENT_PROPERTY]: i.contentId, [OWNER_PROPERTY]: i.owner } };
}

/** Verify Glance's digest of what it stored against ours: multihash when offered, else MD5. */
export function verifyChecksum(img: Image, d: Digests): void {
  if (img.os_hash_value && img.os_hash_algo) {
    if (img.os_hash_algo !== "sha512") {
      log(`image ${img.name}: Glance uses ${img.os_hash_algo} for its multihash; verifying the MD5 checksum instead`);
    } else if (img.os_hash_value !== d.sha512) {
      throw new Error(`image ${img.name}: wrong checksum: Glance stored sha512 ${img.os_hash_value.slice(0, 16)}…, the upload had ${d.sha512.slice(0, 16)}…`);
    } else return;
  }
  if (img.checksum && img.checksum !== d.md5) throw new Error(`image ${img.name}: wrong checksum: Glance stored MD5 ${img.checksum}, the upload had ${d.md5}`);
  if (!img.checksum && !img.os_hash_value) throw new Error(`image ${img.name}: Glance reported no checksum, so the upload cannot be verified`);
}

async function uploadV2(glance: GlanceClient, i: DockwallImageInputs): Promise<Image> {
  const live = (x: Image) => !["deleted", "pending_delete", "killed"].includes(x.status);
  const existing = (await glance.findByNameV2(i.imageRef)).filter(live);
  // Only our own image (same owner: a create retried after its answer was lost) is adopted.
  const mine = existing.find((x) => x.properties[OWNER_PROPERTY] === i.owner && x.properties[CONTENT_PROPERTY] === i.contentId && x.status === "active");
  if (mine) {
    log(`image ${i.imageRef}: Glance already has this resource's upload as ${mine.id}; adopting it`);
    return mine;
  }
  const leftover = existing.filter((x) => x.properties[OWNER_PROPERTY] === i.owner);
  for (const x of leftover) await glance.deleteV2(x.id); // our own half-made upload from an interrupted attempt
  const others = existing.filter((x) => x.properties[OWNER_PROPERTY] !== i.owner);
  if (others.length) {
    const existing = others;
    throw new Error(`Glance already has ${existing.length} image(s) named "${i.imageRef}" (${existing.map((x) => `${x.id} ${x.status}`).join(", ")}); nova-docker needs the name to be unique. Delete them or use another tag.`);
  }
  const img = await glance.createV2(imageSpec(i));
  try {
    let digests: Promise<Digests> | undefined;
    await glance.uploadV2(
      img.id,
      () => {
        const s = openSaveStream(i.docker, i.imageRef);
        digests = s.digests;
        return s.stream;
      },
      i.uploadTimeoutSeconds * 1000,
    );
    const d = await digests!;
    const active = await waitFor(`image ${i.imageRef} to become active`, 600_000, async () => {
      const cur = await glance.getV2(img.id);
      if (!cur) throw new Error(`image ${img.id} disappeared during the upload`);
      if (cur.status === "killed" || cur.status === "deleted") throw new Error(`image ${img.id} went to status ${cur.status} during the upload`);
      return cur.status === "active" ? cur : undefined;
    });
    verifyChecksum(active, d);
    // Another DockwallImage may have uploaded the same name at the same time. nova-docker needs one
    // image per name: the earliest created one stays, the others remove themselves.
    const rivals = (await glance.findByNameV2(i.imageRef)).filter((x) => live(x) && x.id !== img.id);
    if (rivals.length) {
      const order = (x: Image) => `${x.created_at ?? ""} ${x.id}`;
      const winner = [active, ...rivals].sort((a, b) => (order(a) < order(b) ? -1 : 1))[0];
      if (winner.id !== img.id) {
        throw new Error(`another DockwallImage uploaded "${i.imageRef}" at the same time (Glance image ${winner.id}); nova-docker needs one image per name, so this upload was removed. Declare one DockwallImage per image.`);
      }
    }
    log(`image ${i.imageRef}: uploaded ${d.size} bytes to Glance as ${img.id}, checksum verified`);
    return active;
  } catch (e) {
    await glance.deleteV2(img.id).catch(() => undefined);
    throw new Error(`DockwallImage ${i.imageRef}: upload failed, the half-made Glance image was deleted: ${(e as Error).message}`);
  }
}

async function uploadV1(glance: GlanceClient, i: DockwallImageInputs): Promise<Image> {
  const existing = (await glance.findByNameV1(i.imageRef)).filter((x) => !["deleted", "pending_delete", "killed"].includes(x.status));
  const mine = existing.find((x) => x.properties[CONTENT_PROPERTY] === i.contentId && x.status === "active");
  if (mine) return mine;
  if (existing.length) throw new Error(`Glance already has an image named "${i.imageRef}" (${existing.map((x) => x.id).join(", ")}); nova-docker needs the name to be unique`);
  let digests: Promise<Digests> | undefined;
  const img = await glance.createV1(
    imageSpec(i),
    () => {
      const s = openSaveStream(i.docker, i.imageRef);
      digests = s.digests;
      return s.stream;
    },
    i.uploadTimeoutSeconds * 1000,
  );
  try {
    verifyChecksum(img, await digests!);
    return img;
  } catch (e) {
    await glance.deleteV1(img.id).catch(() => undefined);
    throw e;
  }
}

async function glanceVersion(glance: GlanceClient, want: "auto" | "1" | "2"): Promise<"1" | "2"> {
  return want === "auto" ? glance.detectVersion() : want;
}

function outputsFrom(i: DockwallImageInputs, img: Image, version: "1" | "2"): DockwallImageOutputs {
  return {
    ...i,
    name: img.name,
    glanceId: img.id,
    glanceVersion: version,
    status: img.status,
    checksum: img.checksum ?? "",
    ...(img.os_hash_algo ? { osHashAlgo: img.os_hash_algo } : {}),
    ...(img.os_hash_value ? { osHashValue: img.os_hash_value } : {}),
    sizeBytes: img.size ?? 0,
  };
}

function glanceOf(s: Session): GlanceClient {
  return new GlanceClient(s);
}

export const dockwallImageProvider: pulumi.dynamic.ResourceProvider = {
  async configure(req) {
    await configureFromStack(req);
  },

  async check(olds, news) {
    return checkDockwallImage(olds, news);
  },

  async diff(_id, olds: DockwallImageOutputs, news: DockwallImageInputs) {
    const replaces = changedKeys(olds, news, IMAGE_REPLACE_KEYS);
    const updates = changedKeys(olds, news, IMAGE_UPDATE_KEYS);
    // v1 has no in-place property update: treat such changes as replacements there.
    if (olds.glanceVersion === "1") replaces.push(...updates.filter((k) => k === "visibility" || k === "properties"));
    // Drift found by refresh: the image is not active any more.
    const drift = olds.status !== undefined && olds.status !== "active";
    if (drift && !replaces.length) replaces.push("status");
    return { changes: replaces.length + updates.length > 0 || drift, replaces, deleteBeforeReplace: false };
  },

  async create(inputs: DockwallImageInputs) {
    await ensureBuilt(inputs);
    const glance = glanceOf(sessionFor(inputs.connection));
    const version = await glanceVersion(glance, inputs.glanceApiVersion);
    const img = version === "2" ? await uploadV2(glance, inputs) : await uploadV1(glance, inputs);
    return { id: img.id, outs: outputsFrom(inputs, img, version) };
  },

  async read(id, props: DockwallImageOutputs) {
    const glance = glanceOf(sessionFor(props.connection));
    const img = props.glanceVersion === "1" ? await glance.getV1(id) : await glance.getV2(id);
    if (!img || img.status === "deleted" || img.status === "pending_delete") return { id: "", props: {} }; // an empty id tells the engine the resource is gone (undefined breaks the gRPC reply)
    const properties = { ...img.properties };
    delete properties[CONTENT_PROPERTY];
    delete properties[OWNER_PROPERTY];
    return { id, props: { ...outputsFrom({ ...props, visibility: img.visibility ?? props.visibility, properties }, img, props.glanceVersion) } };
  },

  async update(id, olds: DockwallImageOutputs, news: DockwallImageInputs) {
    const glance = glanceOf(sessionFor(news.connection));
    let img: Image | undefined;
    const ops: { op: "add" | "replace" | "remove"; path: string; value?: string }[] = [];
    if (olds.visibility !== news.visibility) ops.push({ op: "replace", path: "/visibility", value: news.visibility });
    const oldProps = olds.properties ?? {};
    for (const k of Object.keys(oldProps)) if (!(k in news.properties)) ops.push({ op: "remove", path: `/${k}` });
    for (const [k, v] of Object.entries(news.properties)) if (oldProps[k] !== v) ops.push({ op: k in oldProps ? "replace" : "add", path: `/${k}`, value: v });
    // On Glance v1 (no in-place property update) only settings that touch no Glance field reach here: read with v1.
    img = ops.length ? await glance.updatePropertiesV2(id, ops) : olds.glanceVersion === "1" ? await glance.getV1(id) : await glance.getV2(id);
    if (!img) throw new Error(`DockwallImage ${news.imageRef}: Glance image ${id} no longer exists; run pulumi refresh`);
    return { outs: outputsFrom(news, img, olds.glanceVersion) };
  },

  async delete(id, props: DockwallImageOutputs) {
    const glance = glanceOf(sessionFor(props.connection));
    if (props.glanceVersion === "1") await glance.deleteV1(id);
    else await glance.deleteV2(id);
    if (props.build) await removeBuiltTag(props);
  },
};

/** The dockwall VNF image, saved from the local Docker engine into Glance. */
export class DockwallImage extends pulumi.dynamic.Resource {
  /** Glance image name (= imageRef): what a ServiceTemplate's imageName must be. */
  declare readonly name: pulumi.Output<string>;
  /** The local Docker image reference (given, or `dockwall:<digest12>` when built). */
  declare readonly imageRef: pulumi.Output<string>;
  declare readonly glanceId: pulumi.Output<string>;
  declare readonly checksum: pulumi.Output<string>;
  declare readonly contentId: pulumi.Output<string>;
  declare readonly sizeBytes: pulumi.Output<number>;
  declare readonly status: pulumi.Output<string>;

  constructor(name: string, args: DockwallImageArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      providerLoader(locate(__filename, "dockwallImageProvider")),
      name,
      {
        ...args,
        // The image files are found next to this module here, in the program; the serialized
        // provider runs elsewhere, so it gets the folder as an input.
        build: args.build === undefined ? undefined : pulumi.output(args.build).apply((b) => ({ contextDir: imageDir(), ...b })),
        imageRef: args.imageRef,
        connection: args.connection ? pulumi.secret(args.connection) : undefined,
        name: undefined,
        glanceId: undefined,
        glanceVersion: undefined,
        status: undefined,
        checksum: undefined,
        osHashAlgo: undefined,
        osHashValue: undefined,
        sizeBytes: undefined,
        contentId: undefined,
        stableUuid: stableUuidFor("DockwallImage", name),
      },
      opts,
      "dockwall",
      "DockwallImage",
    );
  }
}
