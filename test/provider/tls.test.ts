/**
 * Transport security against the lab served over HTTPS by its own CA: with the CA bundle
 * (OS_CACERT or the connection's cacert) everything works; without it the error says the
 * certificate is not trusted and what to do; turning verification off is explicit and logged
 * loudly. Also: a token without the admin role gets Contrail's 403 explained.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { serviceTemplateProvider as tp } from "../../provider/resources/serviceTemplate";
import { startLab, type Lab } from "../lab/control-plane";
import type { ConnectionArgs } from "../../provider/config";
import { checked, created } from "./helpers";

let lab: Lab;
let base: ConnectionArgs;
let caFile: string;

beforeAll(async () => {
  lab = await startLab({ tls: true, svcMonitorDelayMs: 50 });
  expect(lab.urls.keystone).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
  caFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "dw-ca-")), "lab-ca.pem");
  fs.writeFileSync(caFile, lab.caCert!);
  base = {
    authUrl: `${lab.urls.keystone}/v3`,
    username: lab.admin.username,
    password: lab.admin.password,
    projectName: lab.admin.projectName,
    contrailApiUrl: lab.urls.contrail,
    retries: 0,
    timeoutMs: 5000,
  };
}, 60_000);

afterAll(async () => {
  await lab?.stop();
  if (caFile) fs.rmSync(path.dirname(caFile), { recursive: true, force: true });
});

describe("the APIs over HTTPS with the lab's own CA", () => {
  it("works with the CA bundle given as a file (OS_CACERT's form) on every API call, Keystone and Contrail alike", async () => {
    const t = await created(tp, await checked(tp, { connection: { ...base, cacert: caFile }, name: "tls-ok", imageName: "dockwall:tls" }));
    expect(t.outs.fqName).toEqual(["default-domain", "tls-ok"]);
    await tp.delete!(t.id, t.outs);
  });

  it("without the CA, fails with a message that says the certificate is not trusted and how to fix it — and no secret", async () => {
    const inputs = await checked(tp, { connection: base, name: "tls-no-ca", imageName: "dockwall:tls" });
    const err = await tp.create(inputs).then(() => undefined, (e: Error) => e);
    expect(err).toBeDefined();
    expect(err!.message).toMatch(/TLS certificate is not trusted .*OS_CACERT/);
    expect(err!.message).not.toContain(lab.admin.password);
  });

  it("insecure: true works, and says loudly that verification is off", async () => {
    const spy = vi.spyOn(console, "log");
    try {
      const t = await created(tp, await checked(tp, { connection: { ...base, insecure: true }, name: "tls-insecure", imageName: "dockwall:tls" }));
      await tp.delete!(t.id, t.outs);
      const lines = spy.mock.calls.map((c) => String(c[0]));
      expect(lines.some((l) => /WARNING: TLS certificate verification is OFF/.test(l))).toBe(true);
    } finally {
      spy.mockRestore();
    }
  });
});

describe("a token without the admin role", () => {
  it("gets Contrail's 403 explained in words a user can act on", async () => {
    const member: ConnectionArgs = { ...base, cacert: caFile, username: lab.member.username, password: lab.member.password, projectName: lab.member.projectName };
    const inputs = await checked(tp, { connection: member, name: "tls-member", imageName: "dockwall:tls" });
    const err = await tp.create(inputs).then(() => undefined, (e: Error) => e);
    expect(err).toBeDefined();
    expect(err!.message).toMatch(/403/);
    expect(err!.message).toMatch(/admin role/i);
  });
});
