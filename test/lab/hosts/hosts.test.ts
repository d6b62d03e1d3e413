/**
 * The lab's SSH hosts against the lab's control plane: connect with node-ssh (pinned host key),
 * do the seed's manual steps by hand over SSH, and watch the lab's Glance and Nova follow the
 * hosts' files — only after the service restarts, as on real hosts.
 */
import { execFileSync } from "node:child_process";
import * as net from "node:net";
import * as os from "node:os";
import { NodeSSH } from "node-ssh";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLab, type Lab } from "../control-plane/index";
import { call, eventually, image, token } from "../control-plane/test-helpers";
import { startLabHosts, type LabHost, type LabHosts } from "./index";
import { generateEd25519KeyPair } from "./keys";

const JUNO = ["ami", "ari", "aki", "bare", "ovf", "ova"];
const RECIPE_NOVA_COMPUTE_CONF =
  "[DEFAULT]\ncompute_driver = novadocker.virt.docker.DockerDriver\n[docker]\nvif_driver = novadocker.virt.docker.opencontrail.OpenContrailVIFDriver\n";

let lab: Lab;
let hosts: LabHosts;
let t: string;
const lines: string[] = [];
const timings: Record<string, number> = {};

beforeAll(async () => {
  lab = await startLab({ log: (l) => lines.push(l) });
  const t0 = Date.now();
  hosts = await startLabHosts(lab, { log: (m) => lines.push(m) });
  timings.startLabHosts = Date.now() - t0;
  t = await token(lab);
}, 900_000);

afterAll(async () => {
  await hosts?.stop();
  await lab?.stop();
  // eslint-disable-next-line no-console
  console.log(`lab hosts timings (ms): ${JSON.stringify(timings)}`);
}, 60_000);

function blobOf(hostKey: string): string {
  return hostKey.trim().split(/\s+/)[1];
}

async function connect(h: LabHost, opts: { user?: string; hostKey?: string; privateKey?: string; readyTimeout?: number } = {}): Promise<NodeSSH> {
  const pinned = blobOf(opts.hostKey ?? h.hostKey);
  const ssh = new NodeSSH();
  await ssh.connect({
    host: h.host,
    port: h.port,
    username: opts.user ?? "root",
    privateKey: opts.privateKey ?? hosts.privateKey,
    readyTimeout: opts.readyTimeout ?? 10_000,
    hostVerifier: (key: Buffer) => key.toString("base64") === pinned,
  });
  return ssh;
}

/** Runs `fn` with a root session on `h`, closing it afterwards. */
async function onHost<T>(h: LabHost, fn: (ssh: NodeSSH) => Promise<T>, user?: string): Promise<T> {
  const ssh = await connect(h, { user });
  try {
    return await fn(ssh);
  } finally {
    ssh.dispose();
  }
}

async function sh(ssh: NodeSSH, command: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const r = await ssh.execCommand(command);
  return { code: r.code ?? -1, stdout: r.stdout, stderr: r.stderr };
}

async function must(ssh: NodeSSH, command: string): Promise<string> {
  const r = await sh(ssh, command);
  if (r.code !== 0) throw new Error(`${command}: exit ${r.code}: ${r.stderr || r.stdout}`);
  return r.stdout;
}

const createImage = (containerFormat: string) =>
  call(`${lab.urls.glance}/v2/images`, { token: t, json: { name: `hosts-${containerFormat}`, container_format: containerFormat, disk_format: "raw" } });

async function hypervisorType(): Promise<string> {
  const res = await call(`${lab.urls.nova}/v2.1/os-hypervisors/detail`, { token: t });
  expect(res.status).toBe(200);
  return res.json().hypervisors.find((h: { hypervisor_hostname: string }) => h.hypervisor_hostname === "dw-compute-1").hypervisor_type;
}

/** Boots on dw-compute-1 and returns the settled server (status and fault). */
async function bootOnCompute(imageRef: string): Promise<{ status: string; fault?: { message: string } }> {
  const res = await call(`${lab.urls.nova}/v2.1/servers`, {
    token: t,
    json: { server: { name: "probe", flavorRef: "1", imageRef, availability_zone: "nova:dw-compute-1" } },
  });
  expect(res.status).toBe(202);
  const id = res.json().server.id;
  const server = await eventually(async () => {
    const s = (await call(`${lab.urls.nova}/v2.1/servers/${id}`, { token: t })).json().server;
    return s.status === "BUILD" ? undefined : s;
  });
  await call(`${lab.urls.nova}/v2.1/servers/${id}`, { method: "DELETE", token: t });
  return server;
}

describe("lab hosts: SSH access", () => {
  it("serves each host over SSH as root with its own pinned host key, on 127.0.0.1 only", async () => {
    expect(hosts.controller.name).toBe("dw-controller");
    expect(hosts.compute.name).toBe("dw-compute-1");
    for (const h of [hosts.controller, hosts.compute]) {
      expect(h.host).toBe("127.0.0.1");
      expect(h.hostKey).toMatch(/^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5[A-Za-z0-9+/=]+$/);
      const out = await onHost(h, (ssh) => must(ssh, "hostname; id -un; cat /etc/ssh/ssh_host_ed25519_key.pub"));
      const [hostname, user, pub] = out.trim().split("\n");
      expect(hostname).toBe(h.name);
      expect(user).toBe("root");
      expect(pub.startsWith(h.hostKey)).toBe(true);
      const ports = JSON.parse(execFileSync("docker", ["inspect", "-f", "{{json .NetworkSettings.Ports}}", h.containerId], { encoding: "utf8" }));
      expect(ports["22/tcp"]).toEqual([{ HostIp: "127.0.0.1", HostPort: String(h.port) }]);
    }
    // Host keys are made per container, not baked into the image.
    expect(hosts.controller.hostKey).not.toBe(hosts.compute.hostKey);
    // Nothing answers on the machine's other addresses.
    const others = Object.values(os.networkInterfaces())
      .flat()
      .filter((a) => a && a.family === "IPv4" && !a.internal)
      .map((a) => a!.address);
    for (const addr of others) {
      const connected = await new Promise<boolean>((resolve) => {
        const s = net.connect({ host: addr, port: hosts.compute.port });
        s.setTimeout(1000, () => (s.destroy(), resolve(false)));
        s.on("connect", () => (s.destroy(), resolve(true)));
        s.on("error", () => resolve(false));
      });
      expect(connected, `${addr}:${hosts.compute.port}`).toBe(false);
    }
  });

  it("refuses a host key other than the pinned one (the verifier decides)", async () => {
    await expect(connect(hosts.compute, { hostKey: hosts.controller.hostKey })).rejects.toThrow(/verification failed|Host denied/i);
  });

  it("accepts only the lab run's key: another key and passwords are refused", async () => {
    const stranger = generateEd25519KeyPair("stranger");
    await expect(connect(hosts.controller, { privateKey: stranger.privateKey })).rejects.toThrow(/authentication methods failed/i);
    const ssh = new NodeSSH();
    await expect(
      ssh.connect({
        host: "127.0.0.1",
        port: hosts.controller.port,
        username: "root",
        password: "root",
        readyTimeout: 10_000,
        hostVerifier: (key: Buffer) => key.toString("base64") === blobOf(hosts.controller.hostKey),
      }),
    ).rejects.toThrow(/authentication methods failed/i);
  });

  it("lets the controller be a jump host to the compute host (its bridge address, port 22)", async () => {
    expect(hosts.compute.bridgeIp).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    const jump = await connect(hosts.controller);
    try {
      const sock = await new Promise<any>((resolve, reject) =>
        jump.connection!.forwardOut("127.0.0.1", 0, hosts.compute.bridgeIp, 22, (err, stream) => (err ? reject(err) : resolve(stream))),
      );
      const inner = new NodeSSH();
      await inner.connect({
        sock,
        username: "root",
        privateKey: hosts.privateKey,
        readyTimeout: 10_000,
        hostVerifier: (key: Buffer) => key.toString("base64") === blobOf(hosts.compute.hostKey),
      });
      expect((await inner.execCommand("hostname")).stdout).toBe("dw-compute-1");
      inner.dispose();
    } finally {
      jump.dispose();
    }
  });

  it("has a sudo user with passwordless sudo; the service config files need it", async () => {
    expect(hosts.sudoUser).toBe("dwadmin");
    await onHost(
      hosts.compute,
      async (ssh) => {
        expect(await must(ssh, "id -un")).toBe("dwadmin");
        expect((await sh(ssh, "sudo -n true")).code).toBe(0);
        const plain = await sh(ssh, "cat /etc/nova/nova-compute.conf");
        expect(plain.code).not.toBe(0);
        expect(plain.stderr).toMatch(/Permission denied/);
        expect(await must(ssh, "sudo -n cat /etc/nova/nova-compute.conf")).toMatch(/^compute_driver=libvirt\.LibvirtDriver$/m);
        // Without sudo, the engine and the service manager refuse, as on a real host.
        expect((await sh(ssh, "docker version --format '{{.Server.Version}}'")).stderr).toMatch(/permission denied while trying to connect to the Docker daemon socket/);
        expect((await sh(ssh, "systemctl restart nova-compute")).code).not.toBe(0);
      },
      "dwadmin",
    );
    expect(await hosts.restarts(hosts.compute, "nova-compute")).toBe(0);
  });

  it("offers the compute host's tools: the Docker CLI (lab stand-in), nova-docker importable, the docker group", async () => {
    await onHost(hosts.compute, async (ssh) => {
      expect((await must(ssh, "docker version --format '{{.Server.Version}}'")).trim()).toBe("20.10.24+dfsg1");
      expect((await sh(ssh, "docker info")).code).toBe(0);
      expect((await sh(ssh, 'python3 -c "import novadocker.virt.docker"')).code).toBe(0);
      expect((await must(ssh, "id -nG nova")).trim().split(/\s+/).sort()).toEqual(["libvirtd", "nova"]);
      expect(await must(ssh, "getent group docker")).toMatch(/^docker:x:\d+:$/m);
      // nova cannot use the engine until it is in group docker.
      expect((await sh(ssh, "runuser -u nova -- docker info")).code).not.toBe(0);
      expect((await sh(ssh, "service glance-api restart")).stderr).toMatch(/glance-api: unrecognized service/);
    });
    await onHost(hosts.controller, async (ssh) => {
      expect((await sh(ssh, "docker version")).code).not.toBe(0); // no Docker CLI on the controller
      expect((await sh(ssh, "service nova-compute restart")).stderr).toMatch(/nova-compute: unrecognized service/);
    });
  });
});

describe("lab hosts: Glance follows the controller's glance-api.conf", () => {
  const conf = "/etc/glance/glance-api.conf";

  it("refuses container_format docker at first (the shipped file does not list it)", async () => {
    expect(await hosts.readFile(hosts.controller, conf)).toMatch(/^\[image_format\]\n# Supported values for the 'container_format' image attribute\ncontainer_formats = ami,ari,aki,bare,ovf,ova$/m);
    const res = await createImage("docker");
    expect(res.status).toBe(400);
    expect(res.text).toContain(`'docker' is not one of ${JSON.stringify(JUNO).replace(/"/g, "'").replace(/,/g, ", ")}`);
  });

  it("still refuses it after the file is edited, as long as glance-api was not restarted", async () => {
    await onHost(hosts.controller, (ssh) => must(ssh, `sed -i 's/^container_formats = .*/&,docker/' ${conf}`));
    expect(await hosts.readFile(hosts.controller, conf)).toMatch(/^container_formats = ami,ari,aki,bare,ovf,ova,docker$/m);
    expect((await createImage("docker")).status).toBe(400);
    expect(await hosts.restarts(hosts.controller, "glance-api")).toBe(0);
  });

  it("accepts it as soon as `service glance-api restart` returns", async () => {
    const t0 = Date.now();
    const out = await onHost(hosts.controller, (ssh) => sh(ssh, "service glance-api restart"));
    timings.glanceRestart = Date.now() - t0;
    expect(out.code).toBe(0);
    expect(out.stdout).toContain("glance-api start/running");
    const res = await createImage("docker");
    expect(res.status).toBe(201);
    expect(res.json().container_format).toBe("docker");
    expect(await hosts.restarts(hosts.controller, "glance-api")).toBe(1);
    expect(lines.some((l) => /glance-api on dw-controller restarted with container_formats ami,ari,aki,bare,ovf,ova,docker/.test(l))).toBe(true);
    expect(await hosts.readFile(hosts.controller, "/var/log/glance/api.log")).toMatch(/INFO .*container_formats = ami,ari,aki,bare,ovf,ova,docker/);
  });

  it("follows a hand edit back and `systemctl restart`; honours the legacy [DEFAULT] container_formats", async () => {
    const original = (await hosts.readFile(hosts.controller, conf)).replace(",docker\n", "\n");
    await hosts.writeFile(hosts.controller, conf, original);
    await onHost(hosts.controller, (ssh) => must(ssh, "systemctl restart glance-api"));
    expect((await createImage("docker")).status).toBe(400);

    const legacy = original.replace(/^container_formats = .*$/m, "#container_formats = ami").replace(/^\[DEFAULT\]$/m, "[DEFAULT]\ncontainer_formats=bare, docker");
    await hosts.writeFile(hosts.controller, conf, legacy);
    await onHost(hosts.controller, (ssh) => must(ssh, "systemctl restart glance-api.service"));
    expect((await createImage("docker")).status).toBe(201);
    expect((await createImage("ovf")).status).toBe(400);
    expect(await hosts.restarts(hosts.controller, "glance-api")).toBe(3);
    // The file kept its owner and mode through the hand edits.
    expect(await onHost(hosts.controller, (ssh) => must(ssh, `stat -c '%U:%G %a' ${conf}`))).toBe("root:glance 640");
  });

  it("takes Glance down while glance-api cannot read its config, and up again once fixed", async () => {
    await onHost(hosts.controller, async (ssh) => {
      await must(ssh, `chown root:root ${conf} && chmod 600 ${conf} && service glance-api restart`);
      expect((await sh(ssh, "systemctl is-active glance-api")).stdout.trim()).toBe("failed");
    });
    await expect(createImage("docker")).rejects.toThrow();
    expect(await hosts.readFile(hosts.controller, "/var/log/glance/api.log")).toContain("CRITICAL glance [-] ConfigFilesPermissionDeniedError: Failed to open some config files: /etc/glance/glance-api.conf");
    await onHost(hosts.controller, async (ssh) => {
      await must(ssh, `chown root:glance ${conf} && chmod 640 ${conf} && service glance-api start`);
      expect((await sh(ssh, "systemctl is-active glance-api")).stdout.trim()).toBe("active");
    });
    expect((await createImage("docker")).status).toBe(201);
    expect(await hosts.restarts(hosts.controller, "glance-api")).toBe(5);
  });
});

describe("lab hosts: the compute host follows nova-compute.conf, the docker group and restarts", () => {
  const conf = "/etc/nova/nova-compute.conf";
  let bare: string;

  beforeAll(async () => {
    lab.setGlanceContainerFormats([...JUNO, "docker"]);
    bare = await image(lab, t, "plain", Buffer.from("disk"), "bare");
  });

  it("is not a nova-docker host at first: hypervisor QEMU, boots fail naming the driver", async () => {
    expect(await hypervisorType()).toBe("QEMU");
    const server = await bootOnCompute(bare);
    expect(server.status).toBe("ERROR");
    expect(server.fault?.message).toBe(
      "Host dw-compute-1 runs compute_driver libvirt.LibvirtDriver, not nova-docker (novadocker.virt.docker.DockerDriver): it cannot boot container_format 'docker' images",
    );
  });

  it("does not change on a file edit alone; a restart without nova in group docker fails nova-compute", async () => {
    await onHost(hosts.compute, (ssh) => must(ssh, `printf '%s' '${RECIPE_NOVA_COMPUTE_CONF}' > ${conf}`));
    expect(await hosts.readFile(hosts.compute, conf)).toBe(RECIPE_NOVA_COMPUTE_CONF);
    expect(await hypervisorType()).toBe("QEMU");

    await onHost(hosts.compute, async (ssh) => {
      expect((await sh(ssh, "service nova-compute restart")).code).toBe(0);
      expect((await sh(ssh, "systemctl is-active nova-compute")).stdout.trim()).toBe("failed");
    });
    expect(await hosts.readFile(hosts.compute, "/var/log/nova/nova-compute.log")).toContain(
      "CRITICAL nova [-] NovaException: Docker daemon is not running or is not reachable (check the rights on /var/run/docker.sock)",
    );
    const server = await bootOnCompute(bare);
    expect(server.fault?.message).toMatch(/^No valid host was found\. There are not enough hosts available\. \(lab: nova-compute on dw-compute-1 is not running: NovaException: Docker daemon is not running/);
    expect(await hosts.restarts(hosts.compute, "nova-compute")).toBe(1);
  });

  it("becomes a nova-docker host with the seed's steps: nova in group docker, then restart", async () => {
    const before = lines.filter((l) => l.includes("nova-compute on dw-compute-1 restarted")).length;
    await onHost(hosts.compute, async (ssh) => {
      await must(ssh, "usermod -a -G docker nova");
      expect((await must(ssh, "runuser -u nova -- docker version --format '{{.Server.Version}}'")).trim()).toBe("20.10.24+dfsg1");
      expect(await hypervisorType()).toBe("QEMU"); // nova-compute still runs with its old groups
      await must(ssh, "service nova-compute restart");
      expect((await sh(ssh, "systemctl is-active nova-compute")).stdout.trim()).toBe("active");
    });
    expect(await hypervisorType()).toBe("docker");
    expect(lines.filter((l) => l.includes("nova-compute on dw-compute-1 restarted")).length).toBe(before + 1);
    expect(await hosts.restarts(hosts.compute, "nova-compute")).toBe(2);

    const bareBoot = await bootOnCompute(bare);
    expect(bareBoot.fault?.message).toBe("Image container format not supported");
    const dockerImage = await image(lab, t, "dockwall:lab", Buffer.from("docker save output"));
    const server = await bootOnCompute(dockerImage);
    expect(server.status).toBe("ACTIVE");
  });

  it("fails boots with nova-docker's network error when the VIF driver is not OpenContrail's", async () => {
    const generic = RECIPE_NOVA_COMPUTE_CONF.replace(/^vif_driver = .*$/m, "vif_driver = novadocker.virt.docker.vifs.DockerGenericVIFDriver");
    await hosts.writeFile(hosts.compute, conf, generic);
    await onHost(hosts.compute, (ssh) => must(ssh, "systemctl restart nova-compute"));
    const server = await bootOnCompute(bare);
    expect(server.fault?.message).toBe("Cannot setup network: Unexpected vif_type=vrouter");

    await hosts.writeFile(hosts.compute, conf, RECIPE_NOVA_COMPUTE_CONF);
    await onHost(hosts.compute, (ssh) => must(ssh, "systemctl restart nova-compute"));
    expect(await hypervisorType()).toBe("docker");
    expect(await hosts.restarts(hosts.compute, "nova-compute")).toBe(4);
  });
});

describe("lab hosts: reachability and cleanup", () => {
  it("setReachable(false) makes connections fail; setReachable(true) brings sshd back", async () => {
    const open = await connect(hosts.compute);
    await hosts.setReachable(hosts.compute, false);
    await expect(connect(hosts.compute, { readyTimeout: 3000 })).rejects.toThrow();
    // Existing sessions end too.
    await expect(open.execCommand("true")).rejects.toThrow();
    open.dispose();
    await hosts.setReachable(hosts.compute, true);
    expect(await onHost(hosts.compute, (ssh) => must(ssh, "hostname"))).toBe("dw-compute-1");
  });

  it("stop() removes exactly the run's containers", async () => {
    const label = `label=dockwall.lab=${hosts.runId}`;
    const before = execFileSync("docker", ["ps", "-aq", "--filter", label], { encoding: "utf8" }).trim().split("\n");
    expect(before.sort()).toEqual([hosts.controller.containerId.slice(0, 12), hosts.compute.containerId.slice(0, 12)].sort());
    const t0 = Date.now();
    await hosts.stop();
    timings.stop = Date.now() - t0;
    expect(execFileSync("docker", ["ps", "-aq", "--filter", label], { encoding: "utf8" }).trim()).toBe("");
    await hosts.stop(); // twice is fine
  });
});
