/**
 * Hostile HTTP input against the five lab APIs: unparsable, oversized and wrongly typed bodies,
 * JSON of the wrong shape, unknown routes and methods, and random bodies (fast-check). Every
 * answer must be the one the real API gives (status, and the service's error body where it has
 * one), no request may hang or lose its connection, the lab's unexpected-error path must never
 * run, and no rejected request may leave an object (or a change) behind.
 *
 * Real-API behaviour pinned here, beyond openstack-apis.md / contrail-vnc-api.md:
 * - Keystone refuses a non-JSON Content-Type with 400 ("Expecting to find application/json in
 *   Content-Type header"), never 415.
 * - Nova treats `text/plain` as no Content-Type and parses the body as JSON; other non-JSON types
 *   are 415 `badMediaType`. An unsupported method on a known path is a 404: its routes carry
 *   method conditions, so nothing matches.
 * - Neutron (legacy WSGI and pecan) never looks at the Content-Type of a request: the body is
 *   parsed as JSON whatever it says.
 * - Glance v2 parses image-create bodies as JSON whatever the Content-Type; only PUT /file
 *   (octet-stream) and PATCH (json-patch) check it, with 415.
 * - Contrail's bottle handlers read `request.json[<type>]`: a body that is not a JSON object with
 *   the type key (or a non-JSON Content-Type, which makes `request.json` None) raises inside the
 *   handler, which is bottle's 500 page. The lab answers exactly that page, deliberately.
 */
import { request as httpRequest } from "node:http";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_JSON_BYTES } from "./http/body";
import { startLab, type Lab, type LabInventory } from "./index";
import { call, image, network, token } from "./test-helpers";

let lab: Lab;
let t: string;
let netId: string;
let subnetId: string;
let aggregateId: number;
let activeImage: string;
let queuedImage: string;
let templateUuid: string;
let baseline: LabInventory;

const RUNS = Number(process.env.DOCKWALL_PROPERTY_RUNS ?? 60);
const enc = new TextEncoder();

interface Answer {
  status: number;
  headers: Headers;
  text: string;
  json(): any;
}

interface SendOptions {
  method?: string;
  /** A string is sent as UTF-8; the Content-Type is exactly `type` (none when null). */
  body?: string | Uint8Array;
  type?: string | null;
  /** Default: the admin token; null sends none. */
  tok?: string | null;
  headers?: Record<string, string>;
}

/** One request with full control of body bytes and Content-Type; a hang fails the test after 10 s. */
async function send(url: string, o: SendOptions = {}): Promise<Answer> {
  const headers: Record<string, string> = { ...(o.headers ?? {}) };
  const tok = o.tok === null ? undefined : o.tok ?? t;
  if (tok) headers["x-auth-token"] = tok;
  const body = typeof o.body === "string" ? enc.encode(o.body) : o.body;
  if (body !== undefined && o.type !== null) headers["content-type"] = o.type ?? "application/json";
  const res = await fetch(url, { method: o.method ?? "POST", headers, body, signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) };
}

const ks = (path: string) => `${lab.urls.keystone}${path}`;
const nova = (path: string) => `${lab.urls.nova}/v2.1${path}`;
const glance = (path: string) => `${lab.urls.glance}${path}`;
const neutron = (path: string) => `${lab.urls.neutron}/v2.0${path}`;
const vnc = (path: string) => `${lab.urls.contrail}${path}`;

/** The status, with the body in the failure message. */
function status(res: Answer, expected: number): void {
  expect(res.status, `body: ${res.text.slice(0, 400)}`).toBe(expected);
}

/** Keystone: {"error": {"code", "title", "message"}}. */
function keystoneError(res: Answer, code: number, title: string, message?: string | RegExp): void {
  status(res, code);
  expect(res.json()).toEqual({ error: { code, title, message: expect.any(String) } });
  if (message !== undefined) expect(res.json().error.message).toMatch(message);
}

/** Nova: {"<fault name>": {"code", "message"}}. */
function novaFault(res: Answer, key: string, code: number, message?: string | RegExp): void {
  status(res, code);
  expect(res.json()).toEqual({ [key]: { code, message: expect.any(String) } });
  if (message !== undefined) expect(res.json()[key].message).toMatch(message);
}

/** Neutron: {"NeutronError": {"type", "message", "detail"}}. */
function neutronError(res: Answer, code: number, type: string, message?: string | RegExp): void {
  status(res, code);
  expect(res.json()).toEqual({ NeutronError: { type, message: expect.any(String), detail: "" } });
  if (message !== undefined) expect(res.json().NeutronError.message).toMatch(message);
}

/** Glance: webob's plain-text page "<code> <title>\n\n<explanation>". */
function glancePage(res: Answer, code: number, title: string, explanation?: string): void {
  status(res, code);
  expect(res.headers.get("content-type")).toMatch(/^text\/plain/);
  expect(res.text.startsWith(`${code} ${title}\n\n`), res.text).toBe(true);
  if (explanation !== undefined) expect(res.text).toContain(explanation);
}

/** Contrail: the bare message as text/plain. */
function contrailText(res: Answer, code: number, message: string | RegExp): void {
  status(res, code);
  expect(res.headers.get("content-type")).toMatch(/^text\/plain/);
  if (typeof message === "string") expect(res.text).toBe(message);
  else expect(res.text).toMatch(message);
}

/** Contrail 2.x failing inside a handler: bottle's default 500 page. */
function bottle500(res: Answer): void {
  status(res, 500);
  expect(res.headers.get("content-type")).toMatch(/^text\/html/);
  expect(res.text).toContain("<h1>Error: 500 Internal Server Error</h1>");
}

/** Whether the lab (and Python) would parse these bytes as JSON: UTF-8, a BOM kept as a character. */
function isJson(bytes: Uint8Array): boolean {
  try {
    JSON.parse(new TextDecoder("utf-8", { ignoreBOM: true }).decode(bytes));
    return true;
  } catch {
    return false;
  }
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** A JSON body just over the lab's cap. */
const oversized = (wrap: (filler: string) => unknown) => JSON.stringify(wrap("x".repeat(MAX_JSON_BYTES + 1024)));

/** Well-formed JSON that is not the object an API wants. */
const NOT_OBJECTS = ["[]", "[{}]", "null", "42", "true", '"a string"'];
/** Names no API stores: control characters, XML-illegal code points. */
const CONTROL_NAMES = ["dw\u0000x", "bell\u0007", "esc\u001b[31m", "new\u000bline"];
const HUGE = "h".repeat(100_000);

const authBody = (user: unknown, password: unknown = lab.admin.password) => ({
  auth: {
    identity: { methods: ["password"], password: { user: { name: user, domain: { name: "Default" }, password } } },
    scope: { project: { name: lab.admin.projectName, domain: { name: "Default" } } },
  },
});

beforeAll(async () => {
  lab = await startLab();
  t = await token(lab);
  netId = await network(lab, t, "hostile-base", "192.0.2.0/24");
  subnetId = (await call(neutron(`/subnets?network_id=${netId}`), { token: t })).json().subnets[0].id;
  aggregateId = (await call(nova("/os-aggregates"), { token: t, json: { aggregate: { name: "hostile-agg" } } })).json().aggregate.id;
  activeImage = await image(lab, t, "hostile:1", Buffer.from("image bytes"), "bare");
  const queued = await call(glance("/v2/images"), { token: t, json: { name: "hostile-queued", container_format: "bare", disk_format: "raw" } });
  queuedImage = queued.json().id;
  const st = await call(vnc("/service-templates"), {
    token: t,
    json: { "service-template": { parent_type: "domain", fq_name: ["default-domain", "hostile-tmpl"], service_template_properties: { service_mode: "transparent" } } },
  });
  templateUuid = st.json()["service-template"].uuid;
  await lab.whenIdle();
  baseline = lab.inventory();
});
afterAll(() => lab?.stop());

describe("Keystone", () => {
  it("answers unparsable JSON with 400 in its error body, on v3 and v2.0", async () => {
    for (const path of ["/v3/auth/tokens", "/v2.0/tokens"]) {
      for (const body of ["{not json", '{"auth": ', "\u0000\u0001", "{'auth': {}}"]) {
        keystoneError(await send(ks(path), { body }), 400, "Bad Request");
      }
    }
  });

  it("refuses a non-JSON Content-Type with 400 (not 415), even around a valid body", async () => {
    const valid = JSON.stringify(authBody(lab.admin.username));
    for (const type of ["text/plain", "application/xml", "application/x-www-form-urlencoded"]) {
      keystoneError(await send(ks("/v3/auth/tokens"), { body: valid, type }), 400, "Bad Request", /^Expecting to find application\/json in Content-Type header/);
    }
    // application/json with parameters is JSON.
    const ok = await send(ks("/v3/auth/tokens"), { body: valid, type: "application/json; charset=UTF-8" });
    status(ok, 201);
  });

  it("answers an oversized body with 413", async () => {
    const res = await send(ks("/v3/auth/tokens"), { body: oversized((x) => authBody(x)) });
    status(res, 413);
  });

  it("answers JSON of the wrong shape with 400 and its validation message", async () => {
    for (const body of [...NOT_OBJECTS, "{}", '{"auth": []}', '{"auth": "password"}', '{"auth": null}']) {
      keystoneError(await send(ks("/v3/auth/tokens"), { body }), 400, "Bad Request", /^Expecting to find auth in the request body/);
      keystoneError(await send(ks("/v2.0/tokens"), { body }), 400, "Bad Request", /^Expecting to find auth in the request body/);
    }
    const shapes: Array<[unknown, RegExp]> = [
      [{ auth: { identity: "password" } }, /identity in auth/],
      [{ auth: { identity: { methods: "password" } } }, /methods in identity/],
      [{ auth: { identity: { methods: [] } } }, /methods in identity/],
      [{ auth: { identity: { methods: ["password"], password: [] } } }, /password in identity/],
      [{ auth: { identity: { methods: ["password"], password: { user: "admin" } } } }, /user in password/],
      [authBody({ admin: true }), /id or name in user/],
      [authBody(42), /id or name in user/],
      [{ auth: { ...authBody(lab.admin.username).auth, scope: { project: { name: ["admin"] } } } }, /id or name in project/],
      [{ auth: { ...authBody(lab.admin.username).auth, scope: 42 } }, /project, domain or system in scope/],
      [{ auth: { passwordCredentials: "admin" } }, /passwordCredentials or token in auth/],
    ];
    for (const [body, message] of shapes) {
      const path = "passwordCredentials" in (body as { auth: object }).auth ? "/v2.0/tokens" : "/v3/auth/tokens";
      keystoneError(await send(ks(path), { body: JSON.stringify(body) }), 400, "Bad Request", message);
    }
  });

  it("answers names with control characters and huge names with 401 (no such user), not a crash", async () => {
    for (const name of [...CONTROL_NAMES, HUGE]) {
      keystoneError(await send(ks("/v3/auth/tokens"), { body: JSON.stringify(authBody(name)) }), 401, "Unauthorized");
      const v2 = { auth: { tenantName: name, passwordCredentials: { username: name, password: "x" } } };
      keystoneError(await send(ks("/v2.0/tokens"), { body: JSON.stringify(v2) }), 401, "Unauthorized");
    }
    // A password of the wrong type is just a wrong password.
    keystoneError(await send(ks("/v3/auth/tokens"), { body: JSON.stringify(authBody(lab.admin.username, { pw: 1 })) }), 401, "Unauthorized");
  });

  it("answers an unknown path with 404 and an unsupported method with 405", async () => {
    keystoneError(await send(ks("/v3/nowhere"), { method: "GET" }), 404, "Not Found");
    keystoneError(await send(ks("/v3/auth/tokens/extra"), { method: "GET" }), 404, "Not Found");
    const put = await send(ks("/v3/auth/tokens"), { method: "PUT", body: "{}" });
    keystoneError(put, 405, "Method Not Allowed");
    expect(put.headers.get("allow")?.split(", ").sort()).toEqual(["DELETE", "GET", "POST"]);
  });
});

describe("Nova", () => {
  it("answers unparsable JSON with 400 badRequest 'Malformed request body' on POST and PUT", async () => {
    for (const body of ["{not json", '{"aggregate": {"name": "x"}', "\u00ff\u00fe"]) {
      novaFault(await send(nova("/os-aggregates"), { body }), "badRequest", 400, /^Malformed request body$/);
      novaFault(await send(nova(`/os-aggregates/${aggregateId}`), { method: "PUT", body }), "badRequest", 400, /^Malformed request body$/);
      novaFault(await send(nova(`/os-aggregates/${aggregateId}/action`), { body }), "badRequest", 400, /^Malformed request body$/);
      novaFault(await send(nova("/servers"), { body }), "badRequest", 400, /^Malformed request body$/);
    }
  });

  it("answers a non-JSON Content-Type with 415 badMediaType, but reads text/plain as JSON", async () => {
    for (const type of ["application/xml", "application/x-www-form-urlencoded", "multipart/form-data"]) {
      novaFault(await send(nova("/os-aggregates"), { body: '{"aggregate": {"name": "typed"}}', type }), "badMediaType", 415, /^Unsupported Content-Type$/);
      novaFault(await send(nova(`/os-aggregates/${aggregateId}`), { method: "PUT", body: '{"aggregate": {"name": "typed"}}', type }), "badMediaType", 415);
    }
    novaFault(await send(nova("/os-aggregates"), { body: "{not json", type: "text/plain" }), "badRequest", 400, /^Malformed request body$/);
    const plain = await send(nova("/os-aggregates"), { body: '{"aggregate": {"name": "plain-text"}}', type: "text/plain" });
    status(plain, 200);
    expect(plain.json().aggregate.name).toBe("plain-text");
    const vendorType = "application/vnd.openstack.compute+json";
    const vendor = await send(nova(`/os-aggregates/${plain.json().aggregate.id}`), { method: "PUT", body: '{"aggregate": {"name": "vendor-type"}}', type: vendorType });
    status(vendor, 200);
    status(await send(nova(`/os-aggregates/${plain.json().aggregate.id}`), { method: "DELETE" }), 200);
  });

  it("answers an oversized body with 413", async () => {
    status(await send(nova("/os-aggregates"), { body: oversized((x) => ({ aggregate: { name: x } })) }), 413);
    status(await send(nova(`/os-aggregates/${aggregateId}`), { method: "PUT", body: oversized((x) => ({ aggregate: { name: x } })) }), 413);
  });

  it("answers JSON of the wrong shape with 400 badRequest", async () => {
    const bad = (body: unknown) => JSON.stringify(body);
    const creates = [
      ...NOT_OBJECTS,
      "{}",
      bad({ aggregate: "docker" }),
      bad({ aggregate: [] }),
      bad({ aggregate: null }),
      bad({ aggregate: {} }),
      bad({ aggregates: { name: "x" } }),
      bad({ aggregate: { name: "x" }, extra: 1 }),
      bad({ aggregate: { name: "x", colour: "blue" } }),
      bad({ aggregate: { name: 42 } }),
      bad({ aggregate: { name: {} } }),
      bad({ aggregate: { name: "" } }),
      bad({ aggregate: { name: "n".repeat(256) } }),
      bad({ aggregate: { name: HUGE } }),
      bad({ aggregate: { name: " padded " } }),
      ...CONTROL_NAMES.map((name) => bad({ aggregate: { name } })),
      bad({ aggregate: { name: "x", availability_zone: "a:b" } }),
      bad({ aggregate: { name: "x", availability_zone: {} } }),
      bad({ aggregate: { name: "x", availability_zone: "zone\u0000" } }),
    ];
    for (const body of creates) {
      novaFault(await send(nova("/os-aggregates"), { body }), "badRequest", 400, /^Invalid input for field\/attribute|^An invalid 'name' value|^Additional properties are not allowed/);
    }

    const updates = [
      ...NOT_OBJECTS,
      "{}",
      bad({ aggregate: {} }),
      bad({ aggregate: "x" }),
      bad({ aggregate: { name: "x" }, more: true }),
      bad({ aggregate: { name: "\u0001" } }),
      bad({ aggregate: { uuid: "x" } }),
    ];
    for (const body of updates) novaFault(await send(nova(`/os-aggregates/${aggregateId}`), { method: "PUT", body }), "badRequest", 400);

    const actions = [
      ...NOT_OBJECTS,
      "{}",
      bad({ add_host: "dw-compute-1" }),
      bad({ add_host: { host: {} } }),
      bad({ add_host: { host: "dw\u0000compute" } }),
      bad({ remove_host: [] }),
      bad({ set_metadata: { metadata: [] } }),
      bad({ set_metadata: { metadata: { k: 5 } } }),
      bad({ bogus: {} }),
      bad({ add_host: { host: "dw-compute-1" }, remove_host: { host: "dw-compute-1" } }),
    ];
    for (const body of actions) novaFault(await send(nova(`/os-aggregates/${aggregateId}/action`), { body }), "badRequest", 400);

    const server = (s: unknown) => bad({ server: s });
    const base = { name: "hostile-vm", imageRef: activeImage, flavorRef: "1" };
    const boots = [
      ...NOT_OBJECTS,
      "{}",
      server("vm"),
      server([]),
      server({ ...base, name: "\u0007" }),
      server({ ...base, name: HUGE }),
      server({ ...base, imageRef: {} }),
      server({ ...base, flavorRef: 1 }),
      server({ ...base, networks: {} }),
      server({ ...base, networks: ["x"] }),
      server({ ...base, networks: [{ uuid: netId, fixed_ip: "not-an-ip" }] }),
      server({ ...base, networks: [{ uuid: netId, fixed_ip: 42 }] }),
      server({ ...base, availability_zone: [] }),
    ];
    for (const body of boots) novaFault(await send(nova("/servers"), { body }), "badRequest", 400);
  });

  it("takes a boot whose port cannot be allocated and puts the server in ERROR, holding no port", async () => {
    const boot = (networks: unknown[]) => send(nova("/servers"), { body: JSON.stringify({ server: { name: "hostile-vm", imageRef: activeImage, flavorRef: "1", networks } }) });
    // An address outside every subnet fails in the build, as on a compute node: 202, then ERROR.
    const outside = await boot([{ uuid: netId }, { uuid: netId, fixed_ip: "203.0.113.9" }]);
    status(outside, 202);
    const id = outside.json().server.id;
    const shown = (await send(nova(`/servers/${id}`), { method: "GET" })).json().server;
    expect(shown.status).toBe("ERROR");
    expect(shown.fault.message).toBe(`Build of instance ${id} aborted: Failed to allocate the network(s), not rescheduling.`);
    expect(shown.addresses).toEqual({});
    expect(lab.inventory().neutron.ports).toEqual([]);
    status(await send(nova(`/servers/${id}`), { method: "DELETE" }), 204);
    await lab.whenIdle();
    expect(lab.inventory().nova.servers).toEqual([]);

    // An address another port holds is refused by the API itself.
    const holder = await send(neutron("/ports"), { body: JSON.stringify({ port: { network_id: netId, fixed_ips: [{ ip_address: "192.0.2.77" }] } }) });
    status(holder, 201);
    novaFault(await boot([{ uuid: netId, fixed_ip: "192.0.2.77" }]), "badRequest", 400, /^Fixed IP address 192\.0\.2\.77 is already in use on instance \.$/);
    status(await send(neutron(`/ports/${holder.json().port.id}`), { method: "DELETE" }), 204);
    expect(lab.inventory().nova.servers).toEqual([]);
  });

  it("answers an unknown path with 404 itemNotFound and an unsupported method with 404 too", async () => {
    novaFault(await send(nova("/nowhere"), { method: "GET" }), "itemNotFound", 404);
    novaFault(await send(nova(`/os-aggregates/${aggregateId}/nowhere`), { method: "GET" }), "itemNotFound", 404);
    // Nova's routes carry method conditions: a method no route has matches nothing.
    novaFault(await send(nova("/os-aggregates"), { method: "DELETE" }), "itemNotFound", 404);
    novaFault(await send(nova(`/os-aggregates/${aggregateId}`), { method: "PATCH", body: "{}" }), "itemNotFound", 404);
    // A non-integer aggregate id is Nova's 400.
    novaFault(await send(nova("/os-aggregates/not-a-number"), { method: "GET" }), "badRequest", 400);
  });
});

describe("Glance", () => {
  it("answers unparsable JSON with 400 'Malformed JSON in request body.' on create and PATCH", async () => {
    for (const body of ["{not json", '{"name": ', "\u0000"]) {
      glancePage(await send(glance("/v2/images"), { body }), 400, "Bad Request", "Malformed JSON in request body.");
      glancePage(
        await send(glance(`/v2/images/${queuedImage}`), { method: "PATCH", body, type: "application/openstack-images-v2.1-json-patch" }),
        400,
        "Bad Request",
        "Malformed JSON in request body.",
      );
    }
  });

  it("answers 415 where Glance checks the Content-Type (upload, PATCH) and parses create bodies as JSON regardless", async () => {
    for (const type of ["application/json", "text/plain", "application/x-tar"]) {
      glancePage(await send(glance(`/v2/images/${queuedImage}/file`), { method: "PUT", body: "data", type }), 415, "Unsupported Media Type");
    }
    glancePage(await send(glance(`/v2/images/${queuedImage}/file`), { method: "PUT", body: "data", type: null }), 415, "Unsupported Media Type");
    const patch = await send(glance(`/v2/images/${queuedImage}`), { method: "PATCH", body: '[{"op": "replace", "path": "/name", "value": "p"}]', type: "application/json" });
    glancePage(patch, 415, "Unsupported Media Type");
    expect(patch.headers.get("accept-patch")).toContain("application/openstack-images-v2.1-json-patch");
    glancePage(await send(glance("/v2/images"), { body: "<image><name>x</name></image>", type: "application/xml" }), 400, "Bad Request", "Malformed JSON in request body.");
  });

  it("answers an oversized body with 413", async () => {
    glancePage(await send(glance("/v2/images"), { body: oversized((x) => ({ name: "big", description: x })) }), 413, "Request Entity Too Large");
  });

  it("answers JSON of the wrong shape with 400 (403 for read-only and reserved attributes)", async () => {
    const bad = (body: unknown) => JSON.stringify(body);
    const creates = [
      ...NOT_OBJECTS,
      bad({ name: {} }),
      bad({ name: 42 }),
      bad({ name: "n".repeat(256) }),
      bad({ name: HUGE }),
      bad({ tags: "x" }),
      bad({ tags: [1] }),
      bad({ tags: [HUGE] }),
      bad({ min_ram: "1" }),
      bad({ min_disk: -1 }),
      bad({ protected: "yes" }),
      bad({ visibility: 5 }),
      bad({ visibility: "everyone" }),
      bad({ container_format: ["bare"] }),
      bad({ id: "not-a-uuid" }),
      bad({ id: 7 }),
      bad({ custom: 5 }),
      bad({ custom: null }),
      bad({ ["k".repeat(256)]: "v" }),
    ];
    for (const body of creates) glancePage(await send(glance("/v2/images"), { body }), 400, "Bad Request");
    for (const body of [bad({ status: "active" }), bad({ size: 5 }), bad({ os_glance_x: "y" })]) {
      glancePage(await send(glance("/v2/images"), { body }), 403, "Forbidden");
    }

    const patch = (body: string) => send(glance(`/v2/images/${queuedImage}`), { method: "PATCH", body, type: "application/openstack-images-v2.1-json-patch" });
    const patches = [
      "{}",
      '"x"',
      "null",
      bad([{}]),
      bad(["op"]),
      bad([{ op: "replace" }]),
      bad([{ op: "replace", path: "/name" }]),
      bad([{ op: "explode", path: "/name" }]),
      bad([{ op: "replace", path: "name", value: "x" }]),
      bad([{ op: "replace", path: "/name", value: {} }]),
      bad([{ op: "add", path: "/custom", value: 5 }]),
    ];
    for (const body of patches) glancePage(await patch(body), 400, "Bad Request");
  });

  it("answers an unknown path with 404 and an unsupported method with 405", async () => {
    glancePage(await send(glance("/v2/nowhere"), { method: "GET" }), 404, "Not Found");
    glancePage(await send(glance(`/v2/images/${queuedImage}/nowhere`), { method: "GET" }), 404, "Not Found");
    glancePage(await send(glance("/v2/images/00000000-0000-4000-8000-000000000000/file"), { method: "PUT", body: "x", type: "application/octet-stream" }), 404, "Not Found");
    const del = await send(glance("/v2/images"), { method: "DELETE" });
    glancePage(del, 405, "Method Not Allowed");
    expect(del.headers.get("allow")).toBe("POST, GET");
  });
});

describe("Neutron", () => {
  it("answers unparsable JSON with 400 'Malformed request body' on POST and PUT", async () => {
    for (const body of ["{not json", '{"network": ', "\u0000"]) {
      neutronError(await send(neutron("/networks"), { body }), 400, "HTTPBadRequest", /^Malformed request body/);
      neutronError(await send(neutron(`/networks/${netId}`), { method: "PUT", body }), 400, "HTTPBadRequest", /^Malformed request body/);
      neutronError(await send(neutron("/ports"), { body }), 400, "HTTPBadRequest", /^Malformed request body/);
      neutronError(await send(neutron(`/subnets/${subnetId}`), { method: "PUT", body }), 400, "HTTPBadRequest", /^Malformed request body/);
    }
  });

  it("parses the body as JSON whatever the Content-Type says", async () => {
    for (const type of ["application/xml", "text/plain", "application/x-www-form-urlencoded"]) {
      neutronError(await send(neutron("/networks"), { body: "<network><name>x</name></network>", type }), 400, "HTTPBadRequest", /^Malformed request body/);
      neutronError(await send(neutron("/networks"), { body: "name=x", type }), 400, "HTTPBadRequest", /^Malformed request body/);
    }
    const plain = await send(neutron("/networks"), { body: '{"network": {"name": "plain-text"}}', type: "text/plain" });
    status(plain, 201);
    const renamed = await send(neutron(`/networks/${plain.json().network.id}`), { method: "PUT", body: '{"network": {"name": "renamed"}}', type: "application/xml" });
    status(renamed, 200);
    expect(renamed.json().network.name).toBe("renamed");
    status(await send(neutron(`/networks/${plain.json().network.id}`), { method: "DELETE" }), 204);
  });

  it("answers an oversized body with 413", async () => {
    neutronError(await send(neutron("/networks"), { body: oversized((x) => ({ network: { name: x } })) }), 413, "HTTPRequestEntityTooLarge");
    neutronError(await send(neutron(`/networks/${netId}`), { method: "PUT", body: oversized((x) => ({ network: { description: x } })) }), 413, "HTTPRequestEntityTooLarge");
  });

  it("answers a body announced far past the cap at once, without waiting for it", async () => {
    const started = Date.now();
    const answer = await new Promise<{ status: number; connection: string | undefined }>((resolve, reject) => {
      const req = httpRequest(neutron("/networks"), {
        method: "POST",
        headers: { "x-auth-token": t, "content-type": "application/json", "content-length": String(1024 * 1024 * 1024) },
      });
      req.on("response", (res) => {
        res.on("error", () => undefined); // the lab closes the connection once it has answered
        res.resume();
        resolve({ status: res.statusCode ?? 0, connection: res.headers.connection });
      });
      req.on("error", reject);
      req.write('{"network": {"name": "');
      req.setTimeout(5000, () => req.destroy(new Error("no answer within 5 s")));
    });
    expect(answer).toEqual({ status: 413, connection: "close" });
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it("answers JSON of the wrong shape with 400 and Neutron's error body", async () => {
    const bad = (body: unknown) => JSON.stringify(body);
    const networks: Array<[string, RegExp]> = [
      ...NOT_OBJECTS.map((b): [string, RegExp] => [b, /^Unable to find 'network' in request body$/]),
      ["{}", /^Unable to find 'network' in request body$/],
      [bad({ network: "left" }), /^Unable to find 'network' in request body$/],
      [bad({ network: [] }), /^Unable to find 'network' in request body$/],
      [bad({ network: null }), /^Unable to find 'network' in request body$/],
      [bad({ network: { name: {} } }), /^Invalid input for name/],
      [bad({ network: { name: 42 } }), /^Invalid input for name/],
      [bad({ network: { name: "n".repeat(256) } }), /^Invalid input for name.*exceeds maximum length of 255/],
      [bad({ network: { name: HUGE } }), /^Invalid input for name/],
      [bad({ network: { admin_state_up: "maybe" } }), /^Invalid input for admin_state_up/],
      [bad({ network: { mtu: "big" } }), /^Invalid input for mtu/],
      [bad({ network: { tags: "a" } }), /^Invalid input for tags/],
      [bad({ network: { colour: "blue" } }), /^Unrecognized attribute\(s\) 'colour'/],
    ];
    for (const [body, message] of networks) neutronError(await send(neutron("/networks"), { body }), 400, "HTTPBadRequest", message);
    // Contrail refuses XML-illegal names for the virtual network, so the Neutron create fails as a whole.
    for (const name of CONTROL_NAMES) {
      neutronError(await send(neutron("/networks"), { body: bad({ network: { name } }) }), 400, "HTTPBadRequest", /^Invalid name/);
    }

    const updates: Array<[string, RegExp]> = [
      ["[]", /^Unable to find 'network' in request body$/],
      [bad({ network: "x" }), /^Unable to find 'network' in request body$/],
      [bad({ network: { id: "x" } }), /^Cannot update read-only attribute id$/],
      [bad({ network: { name: HUGE } }), /^Invalid input for name/],
      [bad({ network: { shared: [] } }), /^Invalid input for shared/],
    ];
    for (const [body, message] of updates) neutronError(await send(neutron(`/networks/${netId}`), { method: "PUT", body }), 400, "HTTPBadRequest", message);

    const subnets: unknown[] = [
      { subnet: { network_id: {}, cidr: "10.9.0.0/24" } },
      { subnet: { network_id: netId, cidr: "ten/24" } },
      { subnet: { network_id: netId, cidr: 10 } },
      { subnet: { network_id: netId, cidr: "10.9.0.0/24", gateway_ip: [] } },
      { subnet: { network_id: netId, cidr: "10.9.0.0/24", allocation_pools: [{ start: 1, end: 2 }] } },
      { subnet: { network_id: netId, cidr: "10.9.0.0/24", allocation_pools: "all" } },
      { subnet: { network_id: netId, cidr: "10.9.0.0/24", dns_nameservers: ["x"] } },
      { subnet: { network_id: netId, cidr: "10.9.0.0/24", ip_version: "four" } },
    ];
    for (const body of subnets) {
      const res = await send(neutron("/subnets"), { body: bad(body) });
      status(res, 400);
      expect(Object.keys(res.json())).toEqual(["NeutronError"]);
    }

    const ports: unknown[] = [
      { port: "p" },
      { port: { network_id: 5 } },
      { port: { network_id: netId, fixed_ips: "10.0.0.1" } },
      { port: { network_id: netId, fixed_ips: [{ ip_address: "not-an-ip" }] } },
      { port: { network_id: netId, fixed_ips: [{ ip_address: "203.0.113.1" }] } },
      { port: { network_id: netId, mac_address: "zz:zz" } },
      { port: { network_id: netId, name: HUGE } },
      // The VMI's virtual-machine is named after the device: Contrail refuses XML-illegal names.
      { port: { network_id: netId, device_id: "vm\u0000x", device_owner: "compute:nova" } },
    ];
    for (const body of ports) {
      const res = await send(neutron("/ports"), { body: bad(body) });
      status(res, 400);
      expect(Object.keys(res.json())).toEqual(["NeutronError"]);
    }
    const portUpdate = await send(neutron("/ports"), { body: bad({ port: { network_id: netId, name: "victim" } }) });
    status(portUpdate, 201);
    const victim = portUpdate.json().port;
    const poisoned = await send(neutron(`/ports/${victim.id}`), { method: "PUT", body: bad({ port: { device_id: "vm\u0007x", device_owner: "compute:nova", name: "changed" } }) });
    status(poisoned, 400);
    expect((await call(neutron(`/ports/${victim.id}`), { token: t })).json().port).toEqual(victim);
    status(await send(neutron(`/ports/${victim.id}`), { method: "DELETE" }), 204);
  });

  it("leaves nothing behind when a create fails after the request was understood", async () => {
    // An unknown policy in contrail:policys: nothing may be created before the lookup fails.
    const policy = await send(neutron("/networks"), { body: JSON.stringify({ network: { name: "with-policy", "contrail:policys": [["default-domain", "admin", "no-such-policy"]] } }) });
    neutronError(policy, 404, "PolicyNotFound");
    for (const policys of [[{}], [null], [42]]) {
      neutronError(await send(neutron("/networks"), { body: JSON.stringify({ network: { name: "with-policy", "contrail:policys": policys } }) }), 404, "PolicyNotFound");
    }
    // An admin naming a project Keystone does not have.
    const foreign = await send(neutron("/ports"), { body: JSON.stringify({ port: { network_id: netId, tenant_id: "0123456789abcdef0123456789abcdef" } }) });
    neutronError(foreign, 404, "HTTPNotFound", /^Project 0123456789abcdef0123456789abcdef could not be found\.$/);
    expect(lab.inventory().neutron.networks.map((n) => n.name)).toEqual(["hostile-base"]);
    expect(lab.inventory().neutron.ports).toEqual([]);
  });

  it("binds a port to a device whose id is not a uuid, as the Contrail plugin does", async () => {
    const res = await send(neutron("/ports"), { body: JSON.stringify({ port: { network_id: netId, device_id: "baremetal-7", device_owner: "compute:nova" } }) });
    status(res, 201);
    const vm = lab.inventory().contrail["virtual-machine"]?.find((o) => (o.fq_name as string[])[0] === "baremetal-7");
    expect(vm?.uuid).toMatch(/^[0-9a-f]{8}-/);
    status(await send(neutron(`/ports/${res.json().port.id}`), { method: "DELETE" }), 204);
    expect(lab.inventory().contrail["virtual-machine"] ?? []).toEqual([]);
  });

  it("answers an unknown path with 404 and an unsupported method with 405", async () => {
    neutronError(await send(neutron("/nowhere"), { method: "GET" }), 404, "HTTPNotFound");
    neutronError(await send(neutron(`/networks/${netId}/nowhere`), { method: "GET" }), 404, "HTTPNotFound");
    const del = await send(neutron("/networks"), { method: "DELETE" });
    neutronError(del, 405, "HTTPMethodNotAllowed");
    expect(del.headers.get("allow")).toBe("POST, GET");
    neutronError(await send(neutron(`/networks/${netId}`), { method: "POST", body: "{}" }), 405, "HTTPMethodNotAllowed");
  });
});

describe("Contrail VNC API", () => {
  const template = (name: unknown, extra: Record<string, unknown> = {}) =>
    JSON.stringify({ "service-template": { parent_type: "domain", fq_name: ["default-domain", name], ...extra } });

  it("answers unparsable JSON with 400 'Invalid JSON' on POST and PUT", async () => {
    for (const body of ["{not json", '{"service-template": ', "\u0000"]) {
      contrailText(await send(vnc("/service-templates"), { body }), 400, "Invalid JSON");
      contrailText(await send(vnc(`/service-template/${templateUuid}`), { method: "PUT", body }), 400, "Invalid JSON");
      contrailText(await send(vnc("/ref-update"), { body }), 400, "Invalid JSON");
      contrailText(await send(vnc("/fqname-to-id"), { body }), 400, "Invalid JSON");
    }
  });

  it("answers a non-JSON Content-Type with bottle's 500 page, as 2.x does (request.json is None)", async () => {
    for (const type of ["text/plain", "application/xml", null]) {
      bottle500(await send(vnc("/service-templates"), { body: template("typed"), type }));
      bottle500(await send(vnc(`/service-template/${templateUuid}`), { method: "PUT", body: template("typed"), type }));
    }
  });

  it("answers an oversized body with 413", async () => {
    const create = oversized((x) => ({ "service-template": { fq_name: ["default-domain", "big"], display_name: x } }));
    contrailText(await send(vnc("/service-templates"), { body: create }), 413, "Request entity too large");
    const update = oversized((x) => ({ "service-template": { display_name: x } }));
    contrailText(await send(vnc(`/service-template/${templateUuid}`), { method: "PUT", body: update }), 413, "Request entity too large");
  });

  it("answers bad fields with 400 and its plain-text message", async () => {
    const cases: Array<[string, string | RegExp]> = [
      [JSON.stringify({ "service-template": {} }), "Bad Request, no fq_name in POST body"],
      [JSON.stringify({ "service-template": { parent_type: "domain" } }), "Bad Request, no fq_name in POST body"],
      [JSON.stringify({ "service-template": { parent_type: "domain", fq_name: "default-domain:x" } }), "Bad Request, fq_name must be a list of strings"],
      [JSON.stringify({ "service-template": { parent_type: "domain", fq_name: ["default-domain", 7] } }), "Bad Request, fq_name must be a list of strings"],
      [JSON.stringify({ "service-template": { parent_type: "domain", fq_name: [] } }), "Bad Request, fq_name must be a list of strings"],
      [template("a:b"), /^Invalid name: /],
      [template(""), /^Invalid name: /],
      ...CONTROL_NAMES.map((name): [string, RegExp] => [template(name), /^Invalid name: /]),
      [JSON.stringify({ "service-template": { parent_type: 5, fq_name: ["default-domain", "x"] } }), "Invalid parent type: 5"],
      [JSON.stringify({ "service-template": { parent_type: "project", fq_name: ["default-domain", "x"] } }), "Invalid parent type: project"],
      [JSON.stringify({ "service-template": { parent_type: "domain", fq_name: ["no\u0000domain", "x"] } }), "Parent ['no\u0000domain'] type domain does not exist"],
      [template("x", { uuid: "not-a-uuid" }), "Invalid UUID format: not-a-uuid"],
      [template("x", { uuid: 42 }), "Invalid UUID format: 42"],
      [template("x", { service_template_properties: { service_mode: "sideways" } }), "ServiceModeType must be one of ['transparent', 'in-network', 'in-network-nat']"],
      [template("x", { service_template_properties: { interface_type: [{ service_interface_type: {} }] } }), "ServiceInterfaceType must be one of ['management', 'left', 'right', 'other']"],
    ];
    for (const [body, message] of cases) contrailText(await send(vnc("/service-templates"), { body }), 400, message);
    const policyRule = (rule: unknown) =>
      JSON.stringify({ "network-policy": { parent_type: "project", fq_name: ["default-domain", "admin", "hostile-pol"], network_policy_entries: { policy_rule: [rule] } } });
    contrailText(await send(vnc("/network-policys"), { body: policyRule(7) }), 400, "Bad Request, policy_rule entries must be objects");
    contrailText(await send(vnc("/network-policys"), { body: policyRule({ protocol: "any" }) }), 400, "Action is required");
    contrailText(await send(vnc("/network-policys"), { body: policyRule({ protocol: "tcp/udp", action_list: {} }) }), 400, "Rule with invalid protocol : tcp/udp");
    contrailText(
      await send(vnc(`/service-template/${templateUuid}`), { method: "PUT", body: JSON.stringify({ "service-template": { service_template_properties: { service_mode: 5 } } }) }),
      400,
      "ServiceModeType must be one of ['transparent', 'in-network', 'in-network-nat']",
    );
    contrailText(await send(vnc("/ref-update"), { body: "{}" }), 400, "Bad Request: type/uuid/ref-type/operation is null: None, None, None, None");
    contrailText(
      await send(vnc("/ref-update"), { body: JSON.stringify({ type: "virtual-network", uuid: netId, "ref-type": "network-policy", operation: "MERGE", "ref-uuid": templateUuid }) }),
      400,
      "Bad Request: operation should be add or delete: MERGE",
    );
    contrailText(await send(vnc("/fqname-to-id"), { body: JSON.stringify({ type: "bogus", fq_name: [] }) }), 404, "Resource type 'bogus' not found");
    contrailText(await send(vnc("/multi-tenancy"), { method: "PUT", body: JSON.stringify({ enabled: "no" }) }), 400, "Bad Request, enabled must be a boolean");
  });

  it("answers a body without the type object with bottle's 500 page, as the 2.x handlers do", async () => {
    for (const body of [...NOT_OBJECTS, "{}", JSON.stringify({ "service-templates": {} }), JSON.stringify({ "service-template": "fw" }), JSON.stringify({ "service-template": [] })]) {
      bottle500(await send(vnc("/service-templates"), { body }));
      bottle500(await send(vnc(`/service-template/${templateUuid}`), { method: "PUT", body }));
    }
  });

  it("answers an unknown path with 404 and an unsupported method with 405", async () => {
    status(await send(vnc("/nowhere"), { method: "GET" }), 404);
    status(await send(vnc("/service-template"), { method: "GET" }), 404);
    status(await send(vnc(`/service-template/${templateUuid}/x`), { method: "GET" }), 404);
    contrailText(await send(vnc("/service-template/not-a-uuid"), { method: "DELETE" }), 404, "No service-template object found for id not-a-uuid");
    const del = await send(vnc("/service-templates"), { method: "DELETE" });
    status(del, 405);
    expect(del.headers.get("allow")).toBe("POST, GET");
    status(await send(vnc(`/service-template/${templateUuid}`), { method: "POST", body: "{}" }), 405);
  });
});

describe("random bodies (fast-check)", () => {
  interface Target {
    name: string;
    url: () => string;
    /** The resource key a create body needs (random objects must not carry it). */
    key: string;
    /** The real answer to an unparsable body, and to JSON that is not `{key: {...}}`. */
    unparsable: number;
    wrongShape: number;
  }
  const targets: Target[] = [
    { name: "keystone", url: () => ks("/v3/auth/tokens"), key: "auth", unparsable: 400, wrongShape: 400 },
    { name: "nova", url: () => nova("/os-aggregates"), key: "aggregate", unparsable: 400, wrongShape: 400 },
    { name: "glance", url: () => glance("/v2/images"), key: "", unparsable: 400, wrongShape: 400 },
    { name: "neutron", url: () => neutron("/networks"), key: "network", unparsable: 400, wrongShape: 400 },
    { name: "contrail", url: () => vnc("/service-templates"), key: "service-template", unparsable: 400, wrongShape: 500 },
  ];
  // Glance creates an image from any object of strings, so it only gets values that are not objects.
  const notObject = fc.jsonValue().filter((v) => !isPlainObject(v));
  const wrongObject = (key: string) =>
    fc.dictionary(fc.string({ maxLength: 12 }), fc.jsonValue({ maxDepth: 2 })).filter((o) => !(key in o) && !(`${key}s` in o));

  for (const target of targets) {
    it(`${target.name}: random bytes are answered with ${target.unparsable} when they are not JSON`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.uint8Array({ maxLength: 512 }), async (bytes) => {
          const res = await send(target.url(), { body: bytes });
          // An empty body is no JSON value at all: the wrong shape, not a parse error.
          const expected = bytes.length > 0 && !isJson(bytes) ? target.unparsable : target.wrongShape;
          expect(res.status, res.text.slice(0, 200)).toBe(expected);
        }),
        { numRuns: RUNS },
      );
    });

    it(`${target.name}: random JSON without its resource object is answered with ${target.wrongShape}`, async () => {
      const values = target.name === "glance" ? notObject : fc.oneof(notObject, wrongObject(target.key));
      await fc.assert(
        fc.asyncProperty(values, async (value) => {
          const res = await send(target.url(), { body: JSON.stringify(value) });
          expect(res.status, `${JSON.stringify(value).slice(0, 200)} → ${res.text.slice(0, 200)}`).toBe(target.wrongShape);
        }),
        { numRuns: RUNS },
      );
    });
  }

  it("names of the wrong type, with XML-illegal characters or over 255 characters are a 400 wherever the API refuses them", async () => {
    const wrongType = fc.jsonValue().filter((v) => typeof v !== "string" && v !== null);
    // Tab, LF and CR are legal XML (Contrail and Neutron take them); the other C0 controls are not.
    const illegalChar = fc.integer({ min: 0, max: 0x1f }).filter((c) => ![0x09, 0x0a, 0x0d].includes(c));
    const xmlIllegal = fc.tuple(fc.string({ maxLength: 10 }), illegalChar, fc.string({ maxLength: 10 })).map(([a, c, b]) => `${a}${String.fromCharCode(c)}${b}`);
    const tooLong = fc.string({ minLength: 256, maxLength: 400 }).filter((s) => s.length > 255);
    type Api = "keystone" | "nova" | "neutron" | "glance" | "contrail";
    const refusedBy: Array<[fc.Arbitrary<unknown>, Api[]]> = [
      [wrongType, ["keystone", "nova", "neutron", "glance", "contrail"]],
      [xmlIllegal, ["nova", "neutron", "contrail"]],
      [tooLong, ["nova", "neutron", "glance"]],
    ];
    const create: Record<Api, (name: unknown) => Promise<Answer>> = {
      keystone: (name) => send(ks("/v3/auth/tokens"), { body: JSON.stringify(authBody(name)) }),
      nova: (name) => send(nova("/os-aggregates"), { body: JSON.stringify({ aggregate: { name } }) }),
      neutron: (name) => send(neutron("/networks"), { body: JSON.stringify({ network: { name } }) }),
      glance: (name) => send(glance("/v2/images"), { body: JSON.stringify({ name }) }),
      contrail: (name) => send(vnc("/service-templates"), { body: JSON.stringify({ "service-template": { parent_type: "domain", fq_name: ["default-domain", name] } }) }),
    };
    for (const [names, apis] of refusedBy) {
      await fc.assert(
        fc.asyncProperty(names, async (name) => {
          for (const api of apis) {
            const res = await create[api](name);
            expect(res.status, `${api} ${JSON.stringify(name).slice(0, 80)} → ${res.text.slice(0, 200)}`).toBe(400);
          }
        }),
        { numRuns: RUNS },
      );
    }
  });
});

describe("afterwards", () => {
  it("still serves valid requests on every API", async () => {
    status(await send(ks("/v3/auth/tokens"), { body: JSON.stringify(authBody(lab.admin.username)) }), 201);
    const nets = await send(neutron("/networks"), { method: "GET" });
    status(nets, 200);
    expect(nets.json().networks.map((n: { id: string }) => n.id)).toEqual([netId]);
    status(await send(nova(`/os-aggregates/${aggregateId}`), { method: "GET" }), 200);
    status(await send(glance(`/v2/images/${activeImage}`), { method: "GET" }), 200);
    status(await send(vnc(`/service-template/${templateUuid}`), { method: "GET" }), 200);
  });

  it("holds exactly what it held before: no half-created or half-updated object", async () => {
    await lab.whenIdle();
    expect(lab.inventory()).toEqual(baseline);
  });

  it("never took its unexpected-error path; the only 5xx were Contrail's modelled 500 pages", async () => {
    const http = lab.logs().filter((l) => / http: /.test(l));
    const unexpected = http.filter((l) => !/ http: contrail: (POST|PUT) \/\S+ answered 500: /.test(l));
    expect(unexpected).toEqual([]);
  });
});
