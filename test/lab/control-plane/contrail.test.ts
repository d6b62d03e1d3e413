import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLab, type Lab } from "./index";
import { call, network, token } from "./test-helpers";

let lab: Lab;
let t: string;
let project: string;
let left: string;
let right: string;

beforeAll(async () => {
  lab = await startLab();
  t = await token(lab);
  left = await network(lab, t, "left", "198.51.100.0/26");
  right = await network(lab, t, "right", "198.51.100.64/26");
  project = lab.admin.projectName;
});
afterAll(() => lab.stop());

const c = (path: string, opts: { method?: string; json?: unknown; tok?: string | null; headers?: Record<string, string> } = {}) =>
  call(`${lab.urls.contrail}${path}`, {
    method: opts.method ?? (opts.json === undefined ? "GET" : "POST"),
    json: opts.json,
    token: opts.tok === null ? undefined : opts.tok ?? t,
    headers: opts.headers,
  });

const template = (name: string, props: Record<string, unknown> = {}) => ({
  "service-template": {
    parent_type: "domain",
    fq_name: ["default-domain", name],
    service_template_properties: {
      service_mode: "in-network",
      service_type: "firewall",
      image_name: "dockwall:1",
      ordered_interfaces: true,
      availability_zone_enable: true,
      interface_type: [{ service_interface_type: "left" }, { service_interface_type: "right" }, { service_interface_type: "management" }],
      ...props,
    },
  },
});

const policy = (name: string, rules: unknown[]) => ({
  "network-policy": { parent_type: "project", fq_name: ["default-domain", project, name], network_policy_entries: { policy_rule: rules } },
});

const rule = (extra: Record<string, unknown> = {}) => ({
  direction: "<>",
  protocol: "any",
  src_addresses: [{ virtual_network: `default-domain:${project}:left` }],
  dst_addresses: [{ virtual_network: `default-domain:${project}:right` }],
  src_ports: [{ start_port: -1, end_port: -1 }],
  dst_ports: [{ start_port: -1, end_port: -1 }],
  action_list: { simple_action: "pass" },
  ...extra,
});

describe("auth (multi-tenancy on)", () => {
  it("answers 401 without a token, 403 Permission Denied without the admin role", async () => {
    const anonymous = await c("/service-templates", { tok: null });
    expect(anonymous.status).toBe(401);
    const member = await c("/service-templates", { tok: await token(lab, "member") });
    expect(member.status).toBe(403);
    expect(member.text).toBe("Permission Denied");
    expect((await c("/service-templates", { tok: "made-up" })).status).toBe(401);
  });

  it("needs no token once multi-tenancy is switched off", async () => {
    const other = await startLab({ multiTenancy: false });
    try {
      const res = await call(`${other.urls.contrail}/`);
      expect(res.status).toBe(200);
      expect(res.json().links.some((l: { link: { href: string } }) => l.link.href.endsWith("/network-policys"))).toBe(true);
    } finally {
      await other.stop();
    }
  });
});

describe("create", () => {
  it("answers 200 with name, fq_name, uuid, href and parent", async () => {
    const res = await c("/service-templates", { json: template("t-create") });
    expect(res.status).toBe(200);
    const body = res.json()["service-template"];
    expect(body).toMatchObject({ name: "t-create", fq_name: ["default-domain", "t-create"] });
    expect(body.href).toBe(`${lab.urls.contrail}/service-template/${body.uuid}`);
    expect(body.parent_href).toBe(`${lab.urls.contrail}/domain/${body.parent_uuid}`);
    const got = (await c(`/service-template/${body.uuid}`)).json()["service-template"];
    expect(got.display_name).toBe("t-create");
    expect(got.id_perms).toMatchObject({ enable: true, permissions: { owner: "admin", owner_access: 7, group: "admin", other_access: 7 } });
    expect(typeof got.id_perms.uuid.uuid_mslong).toBe("number");
  });

  it("answers 409 for a taken fq_name and for a taken uuid", async () => {
    const uuid = "6f1f0f5c-8f8a-4a51-9b0e-3c2d6b5a4e01";
    const first = await c("/service-templates", { json: { "service-template": { ...template("t-dup")["service-template"], uuid } } });
    expect(first.status).toBe(200);
    const sameName = await c("/service-templates", { json: template("t-dup") });
    expect(sameName.status).toBe(409);
    expect(sameName.text).toBe(`['default-domain', 't-dup'] already exists with uuid: ${uuid}`);
    const sameUuid = await c("/service-templates", { json: { "service-template": { ...template("t-other")["service-template"], uuid } } });
    expect(sameUuid.status).toBe(409);
    expect(sameUuid.text).toBe(`${uuid} already exists with fq_name: ['default-domain', 't-dup']`);
  });

  it("answers 400 for a missing fq_name, a bad parent, a bad uuid, illegal name characters and enum violations", async () => {
    const noFq = await c("/service-templates", { json: { "service-template": { parent_type: "domain" } } });
    expect([noFq.status, noFq.text]).toEqual([400, "Bad Request, no fq_name in POST body"]);
    const noParent = await c("/network-policys", { json: policy("p", [])["network-policy"] && { "network-policy": { parent_type: "project", fq_name: ["default-domain", "nope", "p"] } } });
    expect([noParent.status, noParent.text]).toEqual([400, "Parent ['default-domain', 'nope'] type project does not exist"]);
    const wrongParentType = await c("/service-templates", { json: { "service-template": { parent_type: "project", fq_name: ["default-domain", "x"] } } });
    expect(wrongParentType.status).toBe(400);
    expect(wrongParentType.text).toMatch(/^Invalid parent type/);
    const badUuid = await c("/service-templates", { json: { "service-template": { ...template("t-uuid")["service-template"], uuid: "not-a-uuid" } } });
    expect(badUuid.status).toBe(400);
    expect(badUuid.text).toMatch(/^Invalid UUID format/);
    const colon = await c("/service-templates", { json: template("a:b") });
    expect(colon.status).toBe(400);
    const mode = await c("/service-templates", { json: template("t-enum", { service_mode: "bridged" }) });
    expect([mode.status, mode.text]).toEqual([400, "ServiceModeType must be one of ['transparent', 'in-network', 'in-network-nat']"]);
    const itf = await c("/service-templates", { json: template("t-itf", { interface_type: [{ service_interface_type: "other1" }] }) });
    expect(itf.text).toBe("ServiceInterfaceType must be one of ['management', 'left', 'right', 'other']");
  });

  it("validates policy rules and generates rule_uuid", async () => {
    const proto = await c("/network-policys", { json: policy("pol-bad", [rule({ protocol: "gre" })]) });
    expect([proto.status, proto.text]).toEqual([400, "Rule with invalid protocol : gre"]);
    const noAction = await c("/network-policys", { json: policy("pol-bad", [rule({ action_list: undefined })]) });
    expect([noAction.status, noAction.text]).toEqual([400, "Action is required"]);
    const direction = await c("/network-policys", { json: policy("pol-bad", [rule({ direction: "<" })]) });
    expect(direction.text).toBe("DirectionType must be one of ['>', '<>']");
    const ok = await c("/network-policys", { json: policy("pol-ok", [rule(), rule({ protocol: "17" })]) });
    expect(ok.status).toBe(200);
    const got = (await c(`/network-policy/${ok.json()["network-policy"].uuid}`)).json()["network-policy"];
    const uuids = got.network_policy_entries.policy_rule.map((r: { rule_uuid: string }) => r.rule_uuid);
    expect(uuids).toHaveLength(2);
    for (const u of uuids) expect(u).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-/);
    expect(new Set(uuids).size).toBe(2);
  });

  it("resolves refs by `to`; a dangling ref is a 500 as in 2.x", async () => {
    const dangling = await c("/service-instances", {
      json: { "service-instance": { parent_type: "project", fq_name: ["default-domain", project, "si-x"], service_template_refs: [{ to: ["default-domain", "missing"] }] } },
    });
    expect(dangling.status).toBe(500);
    await c("/service-templates", { json: template("t-ref") });
    const ok = await c("/service-instances", {
      json: { "service-instance": { parent_type: "project", fq_name: ["default-domain", project, "si-ref"], service_template_refs: [{ to: ["default-domain", "t-ref"], uuid: "ignored" }] } },
    });
    expect(ok.status).toBe(200);
    const si = (await c(`/service-instance/${ok.json()["service-instance"].uuid}`)).json()["service-instance"];
    expect(si.service_template_refs[0].to).toEqual(["default-domain", "t-ref"]);
  });
});

describe("read, update, delete", () => {
  it("404s unknown uuids and uuids of another type", async () => {
    const missing = await c("/service-template/6f1f0f5c-0000-4a51-9b0e-3c2d6b5a4e99");
    expect([missing.status, missing.text]).toEqual([404, "No service-template object found for id 6f1f0f5c-0000-4a51-9b0e-3c2d6b5a4e99"]);
    expect((await c(`/service-template/${left}`)).status).toBe(404);
  });

  it("PUT is partial and a ref list present replaces the refs of that type", async () => {
    const pol = (await c("/network-policys", { json: policy("pol-put", [rule()]) })).json()["network-policy"];
    const pol2 = (await c("/network-policys", { json: policy("pol-put2", [rule()]) })).json()["network-policy"];
    const attach = (p: { fq_name: string[] }) => ({ to: p.fq_name, attr: { sequence: { major: 0, minor: 0 }, timer: null } });
    const put = await c(`/virtual-network/${left}`, { method: "PUT", json: { "virtual-network": { network_policy_refs: [attach(pol)] } } });
    expect(put.status).toBe(200);
    expect(put.json()).toEqual({ "virtual-network": { uuid: left, href: `${lab.urls.contrail}/virtual-network/${left}` } });
    await c(`/virtual-network/${left}`, { method: "PUT", json: { "virtual-network": { network_policy_refs: [attach(pol2)] } } });
    const vn = (await c(`/virtual-network/${left}`)).json()["virtual-network"];
    expect(vn.network_policy_refs.map((r: { uuid: string }) => r.uuid)).toEqual([pol2.uuid]);
    expect(vn.network_ipam_refs).toHaveLength(1);
    const nullAttr = await c(`/virtual-network/${left}`, { method: "PUT", json: { "virtual-network": { network_policy_refs: [{ to: pol.fq_name, attr: null }] } } });
    expect(nullAttr.status).toBe(500);
    await c(`/virtual-network/${left}`, { method: "PUT", json: { "virtual-network": { network_policy_refs: [] } } });
  });

  it("blocks deletes while back-refs or children exist (409)", async () => {
    const st = (await c("/service-templates", { json: template("t-del") })).json()["service-template"];
    const si = (
      await c("/service-instances", {
        json: { "service-instance": { parent_type: "project", fq_name: ["default-domain", project, "si-del"], service_template_refs: [{ to: st.fq_name }] } },
      })
    ).json()["service-instance"];
    const blocked = await c(`/service-template/${st.uuid}`, { method: "DELETE" });
    expect([blocked.status, blocked.text]).toEqual([409, `Back-References from ${lab.urls.contrail}/service-instance/${si.uuid} still exist`]);
    const domain = (await c("/fqname-to-id", { json: { type: "domain", fq_name: ["default-domain"] } })).json().uuid;
    const children = await c(`/domain/${domain}`, { method: "DELETE" });
    expect(children.status).toBe(409);
    expect(children.text).toMatch(/^Children http:\/\/.*\/project\/.* still exist$/);
    const del = await c(`/service-instance/${si.uuid}`, { method: "DELETE" });
    expect([del.status, del.text]).toEqual([200, ""]);
    expect((await c(`/service-template/${st.uuid}`, { method: "DELETE" })).status).toBe(200);
  });

  it("serves ETag / If-None-Match", async () => {
    const res = await c(`/virtual-network/${right}`);
    const etag = res.headers.get("etag") as string;
    expect(etag).toMatch(/^".+"$/);
    expect((await c(`/virtual-network/${right}`, { headers: { "if-none-match": etag } })).status).toBe(304);
  });
});

describe("lists and name resolution", () => {
  it("lists by parent_id with detail, by back_ref_id, and counts", async () => {
    const projectUuid = (await c(`/virtual-network/${left}`)).json()["virtual-network"].parent_uuid;
    const plain = (await c(`/virtual-networks?parent_id=${projectUuid}`)).json()["virtual-networks"];
    expect(plain.map((v: { uuid: string }) => v.uuid).sort()).toEqual([left, right].sort());
    expect(Object.keys(plain[0]).sort()).toEqual(["fq_name", "href", "uuid"]);
    const detail = (await c(`/virtual-networks?parent_id=${projectUuid}&detail=true`)).json()["virtual-networks"];
    expect(detail[0]["virtual-network"].id_perms).toBeDefined();
    const count = (await c(`/virtual-networks?parent_id=${projectUuid}&count=true`)).json();
    expect(count).toEqual({ "virtual-networks": { count: 2 } });
    const byRef = (await c(`/virtual-machine-interfaces?back_ref_id=${left}`)).json()["virtual-machine-interfaces"];
    expect(byRef).toEqual([]);
  });

  it("resolves fqname-to-id and id-to-fqname, with their 404 texts", async () => {
    const id = await c("/fqname-to-id", { json: { type: "virtual-network", fq_name: ["default-domain", project, "left"] } });
    expect(id.json()).toEqual({ uuid: left });
    const missing = await c("/fqname-to-id", { json: { type: "virtual-network", fq_name: ["default-domain", project, "nope"] } });
    expect([missing.status, missing.text]).toEqual([404, `Name ['default-domain', '${project}', 'nope'] not found`]);
    const unknown = await c("/id-to-fqname", { json: { uuid: "6f1f0f5c-0000-4a51-9b0e-000000000000" } });
    expect([unknown.status, unknown.text]).toEqual([404, "UUID 6f1f0f5c-0000-4a51-9b0e-000000000000 not found"]);
  });

  it("creates a Keystone project on demand with GET /project/<uuid>", async () => {
    const inventory = lab.inventory();
    const demo = inventory.keystone.projects.find((p) => p.name === "demo") as { id: string };
    const dashed = demo.id.replace(/^(.{8})(.{4})(.{4})(.{4})(.{12})$/, "$1-$2-$3-$4-$5");
    expect((await c("/fqname-to-id", { json: { type: "project", fq_name: ["default-domain", "demo"] } })).status).toBe(404);
    const res = await c(`/project/${dashed}`);
    expect(res.status).toBe(200);
    expect(res.json().project.fq_name).toEqual(["default-domain", "demo"]);
    expect((await c("/project/6f1f0f5c-0000-4a51-9b0e-000000000000")).status).toBe(404);
  });
});

describe("ref-update", () => {
  it("follows the §3.3 rules", async () => {
    const pol = (await c("/network-policys", { json: policy("pol-ref", [rule()]) })).json()["network-policy"];
    const base = { type: "virtual-network", uuid: left, "ref-type": "network-policy" };
    const add = (attr: unknown) => c("/ref-update", { json: { ...base, "ref-uuid": pol.uuid, operation: "ADD", attr } });

    expect((await add({ sequence: { major: 0, minor: 0 }, timer: null })).json()).toEqual({ uuid: left });
    // ADD of an existing ref overwrites its attr.
    await add({ sequence: { major: 3, minor: 1 }, timer: null });
    let vn = (await c(`/virtual-network/${left}`)).json()["virtual-network"];
    expect(vn.network_policy_refs).toHaveLength(1);
    expect(vn.network_policy_refs[0].attr.sequence).toEqual({ major: 3, minor: 1 });
    // The policy shows the back-ref, and cannot be deleted while attached.
    const back = (await c(`/network-policy/${pol.uuid}`)).json()["network-policy"].virtual_network_back_refs;
    expect(back.map((b: { uuid: string }) => b.uuid)).toEqual([left]);
    const blocked = await c(`/network-policy/${pol.uuid}`, { method: "DELETE" });
    expect([blocked.status, blocked.text]).toEqual([409, `Back-References from ${lab.urls.contrail}/virtual-network/${left} still exist`]);

    // By fq-name; DELETE twice (the second is a no-op).
    const byName = { ...base, "ref-fq-name": pol.fq_name, operation: "DELETE", attr: null };
    expect((await c("/ref-update", { json: byName })).status).toBe(200);
    expect((await c("/ref-update", { json: byName })).status).toBe(200);
    vn = (await c(`/virtual-network/${left}`)).json()["virtual-network"];
    expect(vn.network_policy_refs).toBeUndefined();

    const neither = await c("/ref-update", { json: { ...base, operation: "ADD" } });
    expect([neither.status, neither.text]).toEqual([400, "Either ref-uuid or ref-fq-name must be specified"]);
    expect((await c("/ref-update", { json: { ...base, "ref-uuid": pol.uuid, operation: null } })).status).toBe(400);
    const noTarget = await c("/ref-update", { json: { ...base, "ref-uuid": "6f1f0f5c-0000-4a51-9b0e-000000000000", operation: "ADD" } });
    expect([noTarget.status, noTarget.text]).toEqual([404, "Object Not Found: 6f1f0f5c-0000-4a51-9b0e-000000000000"]);
    const noName = await c("/ref-update", { json: { ...base, "ref-fq-name": ["default-domain", project, "nope"], operation: "ADD" } });
    expect([noName.status, noName.text]).toEqual([404, `Name ['default-domain', '${project}', 'nope'] not found`]);
    const noObject = await c("/ref-update", { json: { ...base, uuid: "6f1f0f5c-0000-4a51-9b0e-000000000001", "ref-uuid": pol.uuid, operation: "ADD" } });
    expect([noObject.status, noObject.text]).toEqual([404, "uuid 6f1f0f5c-0000-4a51-9b0e-000000000001 not found"]);

    expect((await c(`/network-policy/${pol.uuid}`, { method: "DELETE" })).status).toBe(200);
  });
});
