/**
 * nova-docker details of the lab's spawn that the seed demo does not cover: the Glance
 * `os_command_line` property, a Glance image whose data is not a Docker image (the server must
 * end in ERROR with a clear fault and nothing left behind), and the dnsmasq side of a network
 * (fixed IP by MAC, router option, no option 121) seen from a test VM's DHCP exchange.
 */
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import * as crypto from "crypto";
import { Readable } from "stream";
import type { LabNetwork, LabPort, SpawnRequest } from "../contracts";
import { LabDataPlane, preflight, LAB_LABEL } from "./index";
import { buildContext, buildImage, imageTag } from "../../../provider/image/build";
import { run, shellSplit } from "./sys";

const uuid = (): string => crypto.randomUUID();
const mac = (): string => ["02", ...[...crypto.randomBytes(5)].map((x) => x.toString(16).padStart(2, "0"))].join(":");

describe("lab data plane: spawn details", () => {
  let dp: LabDataPlane;
  let tag = "";
  const n: LabNetwork = { id: uuid(), name: "svc", fqName: ["default-domain", "admin", "svc"], cidr: "10.0.7.0/24", gatewayIp: "10.0.7.1", enableDhcp: true };

  beforeAll(async () => {
    await preflight();
    dp = new LabDataPlane();
    const ctx = buildContext([]);
    tag = imageTag(ctx);
    await buildImage(dp.docker, ctx, tag);
    await dp.networkChanged(n);
  }, 900_000);

  afterAll(async () => {
    if (!dp) return;
    const runId = dp.runId;
    await dp.cleanup({ keepImages: true });
    const ps = await run(["docker", "ps", "-aq", "--filter", `label=${LAB_LABEL}=${runId}`]);
    expect(ps.stdout.trim()).toBe("");
  }, 60_000);

  it("splits os_command_line like docker-py and runs it instead of the image's CMD (tini stays PID 1)", async () => {
    const serverId = uuid();
    const p: LabPort = { id: uuid(), networkId: n.id, macAddress: mac(), ipAddress: "10.0.7.20", deviceId: serverId, deviceOwner: "compute:docker" };
    const req: SpawnRequest = {
      serverId,
      serverName: "custom_cmd_1",
      host: "computedocker",
      imageName: tag,
      imageId: uuid(),
      imageProperties: { os_command_line: `sh -c 'echo "hello world"; ip -o link show; sleep 300'` },
      openImageData: () => {
        throw new Error("the image is present: no load expected");
      },
      ports: [p],
      networks: [n],
    };
    await dp.spawn(req);
    const { containerId } = await dp.server(serverId);
    const info = await dp.docker.getContainer(containerId).inspect();
    expect(info.Config.Cmd).toEqual(["sh", "-c", `echo "hello world"; ip -o link show; sleep 300`]);
    expect(info.Config.Hostname).toBe("custom-cmd-1");
    expect((await dp.exec(serverId, ["cat", "/proc/1/comm"])).stdout.trim()).toBe("tini");
    expect(await dp.logs(serverId)).toContain("hello world");
    expect(dp.recorded().images).toEqual([]); // present locally: not loaded, not recorded
    await dp.destroy(serverId);
    await dp.destroy(serverId); // twice: unknown now, still fine
  }, 60_000);

  it("fails a spawn whose Glance data is not a Docker image with a clear message, leaving nothing behind", async () => {
    const serverId = uuid();
    const req: SpawnRequest = {
      serverId,
      serverName: "broken",
      host: "computedocker",
      imageName: `dw-lab-missing-${crypto.randomBytes(3).toString("hex")}:v1`,
      imageId: "glance-image-1",
      imageProperties: {},
      openImageData: () => Readable.from([Buffer.from("this is not a tarball")]),
      ports: [],
      networks: [],
    };
    await expect(dp.spawn(req)).rejects.toThrow(/Glance image glance-image-1/);
    expect(dp.recorded().containers).toEqual([]);
    const ps = await run(["docker", "ps", "-aq", "--filter", `label=${LAB_LABEL}=${dp.runId}`]);
    expect(ps.stdout.trim()).toBe("");
  }, 60_000);

  it("dnsmasq hands a port its fixed IP by MAC with the gateway as router and no classless routes", async () => {
    const p: LabPort = { id: uuid(), networkId: n.id, macAddress: mac(), ipAddress: "10.0.7.33", deviceId: "", deviceOwner: "" };
    await dp.portCreated(p, n);
    const vm = await dp.addTestHost(n, p);
    // The host has no DHCP client: run the image's dhclient (without a script: it only records
    // the lease) in the VM's namespace, from a throwaway container that nsenters it.
    await run(["ip", "-n", vm.ns, "addr", "flush", "dev", "eth0"]);
    const r = await run(
      [
        "docker", "run", "--rm", "--label", `${LAB_LABEL}=${dp.runId}`, "--name", `dw-dhcp-${crypto.randomBytes(3).toString("hex")}`,
        "--network", `none`, "--cap-add", "NET_ADMIN", "--cap-add", "SYS_ADMIN", "--security-opt", "apparmor=unconfined",
        "-v", `/var/run/netns/${vm.ns}:/vmnet:ro`, "--entrypoint", "nsenter", tag,
        "--net=/vmnet", "--", "sh", "-c",
        "dhclient -1 -v -sf /bin/true -lf /tmp/l eth0 2>&1; cat /tmp/l",
      ],
      { allowFail: true, timeoutMs: 60_000 },
    );
    const out = r.stdout + r.stderr;
    expect(out).toMatch(/DHCPACK of 10\.0\.7\.33 from 10\.0\.7\.1/);
    expect(out).toMatch(/fixed-address 10\.0\.7\.33;/);
    expect(out).toMatch(/option routers 10\.0\.7\.1;/);
    expect(out).not.toMatch(/rfc3442|classless/);
  }, 60_000);

  it("shellSplit follows shlex rules", () => {
    expect(shellSplit(`a 'b c' "d \\"e\\"" f\\ g`)).toEqual(["a", "b c", 'd "e"', "f g"]);
    expect(() => shellSplit(`a 'b`)).toThrow(/unterminated/);
  });
});
