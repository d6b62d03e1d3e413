/**
 * Build the dockwall VNF image: the build context (this folder's image files plus the rendered
 * firewall), its content digest, and the build itself through the Docker Engine API.
 *
 * Used from Pulumi dynamic providers, so: node built-ins and third-party modules are `require`d
 * inside the functions, by package name; nothing here holds a live client at module level.
 */
// Local code is imported normally (a Pulumi closure captures it by value); only node built-ins
// and third-party packages are required inside the functions.
import { renderFirewall, FirewallRule, RenderFirewallOptions } from "./firewall";

/** Files of this folder that go into the build context, with their mode in the tar. */
export const IMAGE_FILES: ReadonlyArray<{ path: string; mode: number }> = [
  { path: "Dockerfile", mode: 0o644 },
  { path: "dockwall-init", mode: 0o755 },
  { path: "dockwall-ctl", mode: 0o755 },
  { path: "dhclient.conf", mode: 0o644 },
  { path: "dhclient-enter-hook", mode: 0o644 },
  { path: "dhclient-exit-hook", mode: 0o644 },
];

/** The rendered ruleset's path in the context (the Dockerfile copies it to /etc/dockwall/). */
export const FIREWALL_FILE = "firewall.nft";
export const DEFAULT_BASE_IMAGE = "debian:bookworm-slim";
export const DEFAULT_REPOSITORY = "dockwall";

export interface BuildContextOptions {
  /** Folder holding the image files (default: found next to this module, see imageDir()). */
  imageDir?: string;
  /** Options for renderFirewall. */
  firewall?: RenderFirewallOptions;
  /**
   * Build arguments that change the image without changing the files (e.g. BASE_IMAGE, WITH_SSH);
   * they are part of the digest, so a different base image gives a different tag.
   */
  buildArgs?: Record<string, string>;
}

export interface BuildContext {
  /** Context path -> content. */
  files: Map<string, Buffer | string>;
  /** sha256 (hex) over the sorted paths and contents (and build arguments, if any). */
  digest: string;
  /** Build arguments given to buildContext (passed to the build). */
  buildArgs: Record<string, string>;
}

/**
 * The folder with the image files. Looked up next to this module (running from the sources), and
 * at ../../../provider/image from the compiled lib/provider/image/ (the package ships both).
 */
export function imageDir(): string {
  const fs: typeof import("fs") = require("fs");
  const path: typeof import("path") = require("path");
  const candidates = [__dirname, path.resolve(__dirname, "..", "..", "..", "provider", "image")];
  for (const c of candidates) {
    if (fs.existsSync(path.join(c, "Dockerfile")) && fs.existsSync(path.join(c, "dockwall-init"))) return c;
  }
  throw new Error(`dockwall image files not found (looked in ${candidates.join(", ")})`);
}

function modeOf(p: string): number {
  return IMAGE_FILES.find((f) => f.path === p)?.mode ?? 0o644;
}

/**
 * The build context for the given firewall rules: reads this folder's image files and adds the
 * rendered firewall. Deterministic: same files, rules and options give the same digest.
 * Throws FirewallValidationError for invalid rules.
 */
export function buildContext(rules: FirewallRule[] = [], opts: BuildContextOptions = {}): BuildContext {
  const fs: typeof import("fs") = require("fs");
  const path: typeof import("path") = require("path");
  const crypto: typeof import("crypto") = require("crypto");
  const dir = opts.imageDir ?? imageDir();
  const files = new Map<string, Buffer | string>();
  for (const f of IMAGE_FILES) {
    files.set(f.path, fs.readFileSync(path.join(dir, f.path)));
  }
  files.set(FIREWALL_FILE, renderFirewall(rules, opts.firewall ?? {}));

  const buildArgs = { ...(opts.buildArgs ?? {}) };
  const hash = crypto.createHash("sha256");
  for (const p of [...files.keys()].sort()) {
    const content = files.get(p)!;
    const buf = typeof content === "string" ? Buffer.from(content, "utf8") : content;
    hash.update(`file\0${p}\0${modeOf(p).toString(8)}\0${buf.length}\0`);
    hash.update(buf);
  }
  for (const k of Object.keys(buildArgs).sort()) {
    hash.update(`arg\0${k}\0${buildArgs[k]}\0`);
  }
  return { files, digest: hash.digest("hex"), buildArgs };
}

/** The content-unique tag: `dockwall:<digest[:12]>`. */
export function imageTag(ctx: BuildContext, repository: string = DEFAULT_REPOSITORY): string {
  return `${repository}:${ctx.digest.slice(0, 12)}`;
}

/**
 * The context as an uncompressed POSIX ustar archive, built in memory (the context is a few KB).
 * Fixed owner (0:0) and mtime (0), sorted entries: the same context gives the same bytes, which
 * also keeps the builder's cache warm.
 */
export function contextTar(ctx: BuildContext): Buffer {
  const blocks: Buffer[] = [];
  const octal = (n: number, width: number): string => n.toString(8).padStart(width - 1, "0") + "\0";
  for (const p of [...ctx.files.keys()].sort()) {
    const content = ctx.files.get(p)!;
    const data = typeof content === "string" ? Buffer.from(content, "utf8") : content;
    if (Buffer.byteLength(p) > 100) throw new Error(`context path too long for ustar: ${p}`);
    const h = Buffer.alloc(512, 0);
    h.write(p, 0, 100, "utf8");
    h.write(octal(modeOf(p), 8), 100, 8, "ascii");
    h.write(octal(0, 8), 108, 8, "ascii"); // uid
    h.write(octal(0, 8), 116, 8, "ascii"); // gid
    h.write(octal(data.length, 12), 124, 12, "ascii");
    h.write(octal(0, 12), 136, 12, "ascii"); // mtime
    h.write("        ", 148, 8, "ascii"); // checksum placeholder
    h.write("0", 156, 1, "ascii"); // regular file
    h.write("ustar\0", 257, 6, "ascii");
    h.write("00", 263, 2, "ascii");
    h.write("root", 265, 32, "ascii");
    h.write("root", 297, 32, "ascii");
    let sum = 0;
    for (const b of h) sum += b;
    h.write(sum.toString(8).padStart(6, "0") + "\0 ", 148, 8, "ascii");
    blocks.push(h, data);
    const pad = (512 - (data.length % 512)) % 512;
    if (pad) blocks.push(Buffer.alloc(pad, 0));
  }
  blocks.push(Buffer.alloc(1024, 0));
  return Buffer.concat(blocks);
}

/** The part of Dockerode used here (so tests can pass a fake). */
export interface DockerLike {
  buildImage(file: NodeJS.ReadableStream, options?: Record<string, unknown>): Promise<NodeJS.ReadableStream>;
  getImage(name: string): { inspect(): Promise<{ Id: string }> };
}

export interface BuildImageOptions {
  /** Called with each line of build output (the `stream` messages). */
  onProgress?: (line: string) => void;
  /**
   * Network for the RUN steps (apt-get). Default "host": the build's apt uses the host's resolver
   * and routes (no NAT through docker0, no resolver substitution).
   */
  networkMode?: string;
  /** Do not use the build cache. */
  noCache?: boolean;
}

/**
 * Build the image from `ctx` through the Docker Engine API (`POST /build`), tag it `tag`, and
 * return the image id (`sha256:…`). `baseImage` becomes the BASE_IMAGE build argument; it must be
 * present locally or pullable. Fails with the builder's own error message.
 */
export async function buildImage(
  docker: DockerLike,
  ctx: BuildContext,
  tag: string,
  baseImage: string = DEFAULT_BASE_IMAGE,
  opts: BuildImageOptions = {},
): Promise<string> {
  const { Readable } = require("stream") as typeof import("stream");
  const tar = contextTar(ctx);
  const stream = await docker.buildImage(Readable.from([tar]), {
    t: tag,
    buildargs: { ...ctx.buildArgs, BASE_IMAGE: baseImage },
    rm: true,
    forcerm: true,
    networkmode: opts.networkMode ?? "host",
    nocache: opts.noCache ?? false,
    labels: { "dockwall.digest": ctx.digest },
  });

  const tail: string[] = [];
  let imageId: string | undefined;
  let error: string | undefined;
  await new Promise<void>((resolve, reject) => {
    let pending = "";
    const handle = (line: string): void => {
      if (!line.trim()) return;
      let msg: { stream?: string; error?: string; errorDetail?: { message?: string }; aux?: { ID?: string }; status?: string };
      try {
        msg = JSON.parse(line);
      } catch {
        return;
      }
      if (msg.error || msg.errorDetail) error = msg.errorDetail?.message ?? msg.error;
      if (msg.aux?.ID) imageId = msg.aux.ID;
      const text = msg.stream ?? msg.status;
      if (text) {
        for (const l of text.split("\n")) {
          if (!l.trim()) continue;
          tail.push(l);
          if (tail.length > 20) tail.shift();
          opts.onProgress?.(l);
          const m = /^Successfully built ([0-9a-f]{12,64})/.exec(l);
          if (m && !imageId) imageId = m[1];
        }
      }
    };
    stream.on("data", (chunk: Buffer | string) => {
      pending += chunk.toString();
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      lines.forEach(handle);
    });
    stream.on("end", () => {
      handle(pending);
      resolve();
    });
    stream.on("error", reject);
  });
  if (error) {
    throw new Error(`docker build of ${tag} failed: ${error}\n--- last build output ---\n${tail.join("\n")}`);
  }
  // The tag is authoritative (older engines report only a short id).
  const info = await docker.getImage(tag).inspect();
  if (imageId && !info.Id.includes(imageId.replace(/^sha256:/, ""))) {
    throw new Error(`docker build of ${tag}: built ${imageId} but the tag points to ${info.Id}`);
  }
  return info.Id;
}
