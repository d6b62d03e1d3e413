/**
 * The lab hosts' image: the build context is every file under ./image (Dockerfile, rootfs/,
 * roles/), its tag `dw-lab-host:<digest[:12]>` is unique to that content and the base image, and
 * it is built once through the Docker Engine API (`provider/image/build.ts`'s context tar and
 * build), FROM the local `debian:bookworm-slim` (test/support/base-image.sh makes it without a
 * registry). The image carries the label `dockwall.lab=image` and stays after a run (the next run
 * starts in about a second instead of building again).
 */
import { createHash } from "node:crypto";
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import type Dockerode from "dockerode";
import { buildImage, type BuildContext } from "../../../provider/image/build";
import { repoRoot } from "../data-plane/dataPlane";

export const HOST_IMAGE_REPOSITORY = "dw-lab-host";
export const BASE_IMAGE = process.env.DOCKWALL_BASE_IMAGE ?? "debian:bookworm-slim";

/** The image files: next to this module in the sources, or test/lab/hosts/image from the compiled lib/. */
export function hostImageDir(): string {
  const here = path.join(__dirname, "image");
  return fs.existsSync(here) ? here : path.join(repoRoot(), "test", "lab", "hosts", "image");
}

function listFiles(dir: string, prefix = ""): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...listFiles(path.join(dir, entry.name), rel));
    else if (entry.isFile()) out.push(rel);
  }
  return out;
}

/** The build context and its digest (paths, contents and the base image). */
export function hostImageContext(dir = hostImageDir(), baseImage = BASE_IMAGE): BuildContext {
  const files = new Map<string, Buffer | string>();
  const hash = createHash("sha256");
  for (const rel of listFiles(dir)) {
    const content = fs.readFileSync(path.join(dir, rel));
    files.set(rel, content);
    hash.update(`file\0${rel}\0${content.length}\0`);
    hash.update(content);
  }
  hash.update(`arg\0BASE_IMAGE\0${baseImage}\0`);
  return { files, digest: hash.digest("hex"), buildArgs: {} };
}

export function hostImageTag(ctx: BuildContext = hostImageContext()): string {
  return `${HOST_IMAGE_REPOSITORY}:${ctx.digest.slice(0, 12)}`;
}

function sh(argv: string[], timeoutMs: number): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(argv[0], argv.slice(1), { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === "number" ? (err as { code: number }).code : 1) : 0;
      resolve({ code, out: `${stdout}${stderr}` });
    });
  });
}

async function imageExists(docker: Dockerode, ref: string): Promise<boolean> {
  try {
    await docker.getImage(ref).inspect();
    return true;
  } catch (e) {
    if ((e as { statusCode?: number }).statusCode === 404) return false;
    throw e;
  }
}

export interface EnsuredImage {
  tag: string;
  /** Whether this call built it (false: it was there). */
  built: boolean;
  ms: number;
}

const inFlight = new Map<string, Promise<EnsuredImage>>();

/**
 * The host image, built when missing (and the base image made first when that is missing).
 * Concurrent calls in one process share one build.
 */
export function ensureHostImage(docker: Dockerode, log: (m: string) => void = () => undefined): Promise<EnsuredImage> {
  const ctx = hostImageContext();
  const tag = hostImageTag(ctx);
  let p = inFlight.get(tag);
  if (!p) {
    p = (async () => {
      const t0 = Date.now();
      if (await imageExists(docker, tag)) return { tag, built: false, ms: Date.now() - t0 };
      if (!(await imageExists(docker, BASE_IMAGE))) {
        log(`base image ${BASE_IMAGE} missing: running test/support/base-image.sh`);
        const r = await sh(["bash", path.join(repoRoot(), "test/support/base-image.sh")], 900_000);
        if (r.code !== 0) throw new Error(`test/support/base-image.sh failed (exit ${r.code}):\n${r.out.slice(-3000)}`);
      }
      log(`building ${tag} from ${BASE_IMAGE}`);
      await buildImage(docker, ctx, tag, BASE_IMAGE, { onProgress: (l) => log(`  [build] ${l}`) });
      return { tag, built: true, ms: Date.now() - t0 };
    })();
    inFlight.set(tag, p);
    p.catch(() => inFlight.delete(tag));
  }
  return p;
}
