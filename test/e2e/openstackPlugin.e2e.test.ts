/**
 * The OpenStack plugin (resource plugin openstack 3.15.2, installed by test/support/engine.sh)
 * configured the way a stack configures it: `openstack:*` stack config with the password as a
 * secret, no OS_* variables. The root stack's tests give it OS_* variables; this covers the other way
 * in, what the state keeps of it, and a refused login.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Stack } from "@pulumi/pulumi/automation";
import { startLab, type Lab } from "../lab/control-plane";
import { chainStack } from "./harness";

/** The stack's state files in a file:// backend (checkpoint and its backups and history). */
function stateFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.json(\.bak)?$/.test(e.name)) out.push(p);
    }
  };
  walk(path.join(dir, ".pulumi"));
  return out;
}

describe("@pulumi/openstack networks through the installed plugin, configured by openstack:* stack config", () => {
  let lab: Lab;
  let stack: Stack;
  let stateDir: string;
  const log: string[] = [];
  const onOutput = (s: string) => log.push(s);

  async function configure(password: string): Promise<void> {
    const e = lab.env();
    await stack.setAllConfig({
      "openstack:authUrl": { value: e.OS_AUTH_URL },
      "openstack:userName": { value: e.OS_USERNAME },
      "openstack:tenantName": { value: e.OS_PROJECT_NAME },
      "openstack:userDomainName": { value: e.OS_USER_DOMAIN_NAME },
      "openstack:projectDomainName": { value: e.OS_PROJECT_DOMAIN_NAME },
      "openstack:region": { value: e.OS_REGION_NAME },
      "openstack:password": { value: password, secret: true },
    });
  }

  beforeAll(async () => {
    lab = await startLab({});
    stateDir = fs.mkdtempSync(path.join(os.tmpdir(), "dw-net-state-"));
    // No OS_* variables: everything the plugin knows comes from the stack's config.
    stack = await chainStack({ workDir: path.join(__dirname, "networks-program"), stackName: "net-probe", stateDir, env: {} });
  }, 300_000);

  afterAll(async () => {
    try {
      await stack?.destroy({ onOutput }).catch(() => undefined);
      await stack?.workspace.removeStack("net-probe").catch(() => undefined);
    } finally {
      await lab?.stop();
      if (stateDir) fs.rmSync(stateDir, { recursive: true, force: true });
    }
  }, 300_000);

  it("a refused login fails the step with Keystone's 401 and creates nothing", async () => {
    await configure("not-the-password");
    const err = await stack.up({ onOutput }).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err, "up with a wrong password succeeded").toBeInstanceOf(Error);
    expect(err!.message).toMatch(/openstack:networking:Network dw-net-probe/);
    console.log(`[e2e] a refused login: ${err!.message.split("\n").find((l) => /dw-net-probe.*error:/.test(l))?.trim()}`);
    expect(err!.message).toMatch(/auth\/tokens\], but got 401/);
    expect(err!.message).not.toContain(lab.admin.password);
    expect(lab.inventory().neutron.networks).toEqual([]);
  }, 300_000);

  it("up creates the network and subnet; the state holds the password only encrypted; destroy removes them", async () => {
    await configure(lab.admin.password);
    const up = await stack.up({ onOutput });
    expect(up.summary.result).toBe("succeeded");
    const { networkId, gatewayIp } = Object.fromEntries(Object.entries(await stack.outputs()).map(([k, v]) => [k, v.value]));
    expect(gatewayIp).toBe("10.77.0.1");
    const inv = lab.inventory();
    expect(inv.neutron.networks.map((n) => [n.id, n.name])).toEqual([[networkId, "dw-net-probe"]]);
    expect(inv.neutron.subnets.map((s) => [s.network_id, s.cidr])).toEqual([[networkId, "10.77.0.0/24"]]);

    // The state as the backend stores it (the Automation API's exportStack() decrypts secrets).
    const plain = stateFiles(stateDir).map((f) => fs.readFileSync(f, "utf8")).join("\n");
    expect(plain).toContain("dw-net-probe");
    expect(plain).not.toContain(lab.admin.password);
    expect(log.join("")).not.toContain(lab.admin.password);
    // It is there, encrypted: the provider's inputs keep it as a secret (not dropped, not in clear).
    expect(plain).toMatch(/"password":\s*\{\s*"4dabf18193072939515e22adb298388d":\s*"1b47061264138c4ac30d75fd1eb44270",\s*"ciphertext":\s*"[^"]+"/);
    expect(JSON.stringify(await stack.exportStack())).toContain(lab.admin.password); // decrypted on request

    const ds = await stack.destroy({ onOutput });
    expect(ds.summary.result).toBe("succeeded");
    expect(lab.inventory().neutron.networks).toEqual([]);
    expect(lab.inventory().neutron.subnets).toEqual([]);
  }, 300_000);
});
