/**
 * What the data-plane lab needs from the machine, checked up front so that a test FAILS with a
 * clear message (never skips) when something is missing.
 */
import * as crypto from "crypto";
import * as path from "path";
import type Dockerode from "dockerode";
import { run } from "./sys";
import { repoRoot } from "./dataPlane";

export interface PreflightOptions {
  /** Run test/support/docker.sh first (installs and starts dockerd when needed). Default true. */
  startDocker?: boolean;
  /** Run test/support/base-image.sh (debian:bookworm-slim without a registry). Default true. */
  baseImage?: boolean;
  docker?: Dockerode;
}

/** Throws an Error naming every missing piece and how to get it. */
export async function preflight(opts: PreflightOptions = {}): Promise<void> {
  const problems: string[] = [];
  if (process.platform !== "linux") throw new Error(`the data-plane lab needs Linux (network namespaces), this is ${process.platform}`);
  if (process.getuid && process.getuid() !== 0) {
    problems.push("not root: creating network namespaces, veths and bridges needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN)");
  }
  const root = repoRoot();
  if (opts.startDocker ?? true) {
    const r = await run(["bash", path.join(root, "test/support/docker.sh")], { allowFail: true, timeoutMs: 600_000 });
    if (r.code !== 0) problems.push(`test/support/docker.sh failed (exit ${r.code}):\n${(r.stderr + r.stdout).trim()}`);
  }
  for (const cmd of ["ip", "dnsmasq", "tcpdump", "nsenter", "docker"]) {
    const r = await run(["sh", "-c", `command -v ${cmd} || test -x /usr/sbin/${cmd}`], { allowFail: true });
    if (r.code !== 0) problems.push(`${cmd} not found (apt-get install iproute2 dnsmasq-base tcpdump util-linux docker.io)`);
  }
  const probe = `dw-pf-${crypto.randomBytes(3).toString("hex")}`;
  const add = await run(["ip", "netns", "add", probe], { allowFail: true });
  if (add.code !== 0) {
    problems.push(`ip netns add does not work here: ${add.stderr.trim()}`);
  } else {
    const br = await run(["ip", "-n", probe, "link", "add", "dw-probe", "type", "bridge"], { allowFail: true });
    if (br.code !== 0) problems.push(`cannot create a bridge in a namespace: ${br.stderr.trim()}`);
    await run(["ip", "netns", "del", probe], { allowFail: true });
  }
  try {
    const d = opts.docker ?? new (require("dockerode") as typeof Dockerode)();
    await d.ping();
  } catch (e) {
    problems.push(`Docker daemon not answering on the local socket: ${(e as Error).message} (run test/support/docker.sh)`);
  }
  if (problems.length === 0 && (opts.baseImage ?? true)) {
    const r = await run(["bash", path.join(root, "test/support/base-image.sh")], { allowFail: true, timeoutMs: 900_000 });
    if (r.code !== 0) problems.push(`test/support/base-image.sh failed (exit ${r.code}):\n${(r.stderr + r.stdout).trim().slice(-3000)}`);
  }
  if (problems.length) {
    throw new Error(`the data-plane lab cannot run on this machine:\n - ${problems.join("\n - ")}`);
  }
}
