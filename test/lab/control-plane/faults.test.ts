import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ChangeEvent } from "./core";
import { startLab, type Lab } from "./index";
import { call, token } from "./test-helpers";

let lab: Lab;
let t: string;

beforeAll(async () => {
  lab = await startLab();
  t = await token(lab);
});
afterAll(() => lab.stop());

const template = (name: string, uuid?: string) => ({
  "service-template": { parent_type: "domain", fq_name: ["default-domain", name], ...(uuid ? { uuid } : {}), service_template_properties: { service_mode: "transparent" } },
});
const contrail = (path: string, json?: unknown) => call(`${lab.urls.contrail}${path}`, { token: t, json });

describe("fault injection", () => {
  it("answers an injected status `times` times, then serves normally", async () => {
    const id = lab.faults.add({ service: "contrail", method: "POST", path: "^/service-templates$", kind: "status", status: 503, times: 2 });
    expect((await contrail("/service-templates")).status).toBe(200); // a GET: not matched
    expect(lab.faults.fired(id)).toBe(0);
    expect((await contrail("/service-templates", template("f-503"))).status).toBe(503);
    expect((await contrail("/service-templates", template("f-503"))).status).toBe(503);
    expect((await contrail("/service-templates", template("f-503"))).status).toBe(200);
    expect(lab.faults.fired(id)).toBe(2); // counted even after the rule is used up
    // Only the matching route was affected.
    expect((await contrail("/service-templates")).status).toBe(200);
  });

  it("sends an injected body verbatim", async () => {
    const id = lab.faults.add({ service: "nova", path: "/os-aggregates$", kind: "status", status: 409, body: '{"conflictingRequest": {"code": 409, "message": "injected"}}' });
    const res = await call(`${lab.urls.nova}/v2.1/os-aggregates`, { token: t });
    expect(res.status).toBe(409);
    expect(res.json().conflictingRequest.message).toBe("injected");
    lab.faults.remove(id);
    expect((await call(`${lab.urls.nova}/v2.1/os-aggregates`, { token: t })).status).toBe(200);
  });

  it("adds latency", async () => {
    lab.faults.add({ service: "glance", kind: "latency", delayMs: 150, times: 1 });
    const start = Date.now();
    await call(`${lab.urls.glance}/v2/images`, { token: t });
    expect(Date.now() - start).toBeGreaterThanOrEqual(140);
  });

  it("drops the connection without acting", async () => {
    lab.faults.add({ service: "contrail", method: "POST", path: "^/service-templates$", kind: "drop", times: 1 });
    await expect(contrail("/service-templates", template("f-drop"))).rejects.toThrow();
    expect((await contrail("/fqname-to-id", { type: "service-template", fq_name: ["default-domain", "f-drop"] })).status).toBe(404);
  });

  it("drop-after-act performs the request, so a retried create with the same uuid meets its own object", async () => {
    const uuid = "2d9b5c1e-7f3a-4c2b-9a8d-6e5f4a3b2c1d";
    lab.faults.add({ service: "contrail", method: "POST", path: "^/service-templates$", kind: "drop-after-act", times: 1 });
    await expect(contrail("/service-templates", template("f-act", uuid))).rejects.toThrow();
    const retry = await contrail("/service-templates", template("f-act", uuid));
    expect(retry.status).toBe(409);
    expect(retry.text).toBe(`${uuid} already exists with fq_name: ['default-domain', 'f-act']`);
    expect(lab.inventory().contrail["service-template"].filter((o) => o.uuid === uuid)).toHaveLength(1);
  });

  it("clears every rule", async () => {
    lab.faults.add({ kind: "status", status: 500 });
    expect((await call(`${lab.urls.neutron}/v2.0/networks`, { token: t })).status).toBe(500);
    lab.faults.clear();
    expect((await call(`${lab.urls.neutron}/v2.0/networks`, { token: t })).status).toBe(200);
  });
});

describe("counters and events", () => {
  it("counts requests by service, method and route template", async () => {
    const st = (await contrail("/service-templates", template("f-count"))).json()["service-template"];
    lab.counters.reset();
    await contrail(`/service-template/${st.uuid}`);
    await contrail(`/service-template/${st.uuid}`);
    await call(`${lab.urls.nova}/v2.1/os-services`, { token: t });
    await call(`${lab.urls.neutron}/nowhere`, { token: t });
    expect(lab.counters.byRoute()).toEqual({
      "contrail GET /service-template/{uuid}": 2,
      "nova GET /v2.1/os-services": 1,
      "neutron GET (unmatched)": 1,
    });
    expect(lab.counters.total()).toBe(4);
  });

  it("emits a change event after every mutation", async () => {
    const seen: ChangeEvent[] = [];
    const listener = (e: ChangeEvent) => seen.push(e);
    lab.events.on("change", listener);
    const net = (await call(`${lab.urls.neutron}/v2.0/networks`, { token: t, json: { network: { name: "evt" } } })).json().network;
    lab.events.off("change", listener);
    expect(seen).toContainEqual({ service: "neutron", type: "network", op: "create", id: net.id });
    expect(seen).toContainEqual({ service: "contrail", type: "virtual-network", op: "create", id: net.id });
  });
});

describe("robustness", () => {
  it("answers malformed JSON with each service's error shape and keeps serving", async () => {
    const bad = { body: "{not json", headers: { "content-type": "application/json" }, method: "POST", token: t };
    const keystone = await call(`${lab.urls.keystone}/v3/auth/tokens`, bad);
    expect(keystone.status).toBe(400);
    expect(keystone.json().error.code).toBe(400);
    const nova = await call(`${lab.urls.nova}/v2.1/os-aggregates`, bad);
    expect(nova.json()).toEqual({ badRequest: { code: 400, message: "Malformed request body" } });
    const neutron = await call(`${lab.urls.neutron}/v2.0/networks`, bad);
    expect(neutron.status).toBe(400);
    expect(neutron.json().NeutronError.message).toContain("Malformed request body");
    const glance = await call(`${lab.urls.glance}/v2/images`, bad);
    expect(glance.status).toBe(400);
    expect(glance.text).toContain("Malformed JSON in request body.");
    const contrailRes = await call(`${lab.urls.contrail}/service-templates`, bad);
    expect([contrailRes.status, contrailRes.text]).toEqual([400, "Invalid JSON"]);
    expect((await call(`${lab.urls.contrail}/`, { token: t })).status).toBe(200);
  });

  it("refuses oversized JSON bodies with 413", async () => {
    const huge = JSON.stringify({ network: { name: "x".repeat(2 * 1024 * 1024) } });
    const res = await call(`${lab.urls.neutron}/v2.0/networks`, { method: "POST", body: huge, token: t, headers: { "content-type": "application/json" } });
    expect(res.status).toBe(413);
    expect((await call(`${lab.urls.neutron}/v2.0/networks`, { token: t })).status).toBe(200);
  });

  it("answers 415 for a non-JSON content type where Nova does; Neutron parses the body as JSON anyway", async () => {
    const opts = { method: "POST", body: "name=x", token: t, headers: { "content-type": "application/x-www-form-urlencoded" } };
    const nova = await call(`${lab.urls.nova}/v2.1/os-aggregates`, opts);
    expect(nova.json()).toEqual({ badMediaType: { code: 415, message: "Unsupported Content-Type" } });
    expect((await call(`${lab.urls.neutron}/v2.0/networks`, opts)).status).toBe(400);
  });

  it("survives bodies that are JSON but not objects", async () => {
    for (const body of ["[]", "null", "42", '"s"']) {
      const opts = { method: "POST", body, token: t, headers: { "content-type": "application/json" } };
      expect((await call(`${lab.urls.nova}/v2.1/os-aggregates`, opts)).status).toBe(400);
      expect((await call(`${lab.urls.neutron}/v2.0/ports`, opts)).status).toBe(400);
      expect((await call(`${lab.urls.glance}/v2/images`, opts)).status).toBeLessThan(500);
      expect((await call(`${lab.urls.contrail}/ref-update`, opts)).status).toBeGreaterThanOrEqual(400);
      expect((await call(`${lab.urls.keystone}/v3/auth/tokens`, opts)).status).toBe(400);
    }
    expect((await call(`${lab.urls.nova}/v2.1/os-aggregates`, { token: t })).status).toBe(200);
  });

  it("stops cleanly, twice", async () => {
    const other = await startLab();
    await other.stop();
    await other.stop();
    await expect(fetch(`${other.urls.keystone}/v3`)).rejects.toThrow();
  });
});
