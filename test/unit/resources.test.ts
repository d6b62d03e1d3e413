/**
 * The five dynamic resources' pure logic: `check` (defaults, client-chosen uuids, failures that
 * name the property, the unknown sentinel, the connection), the payload builders (against the
 * shapes in reference/contrail-vnc-api.md §6, §7, §11) and the diff rules (§16, DESIGN.md), by
 * calling each provider object's methods directly (reference/pulumi-dynamic.md §1).
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import * as http from "http";
import type { AddressInfo } from "net";
import { UNKNOWN, UUID_RE, programUuid } from "../../provider/resources/common";
import { checkServiceTemplate, serviceTemplateProvider, templateBody, templateProperties, ServiceTemplateOutputs } from "../../provider/resources/serviceTemplate";
import {
  InstancePlan,
  ServiceInstanceOutputs,
  checkServiceInstance,
  instanceBody,
  instanceProperties,
  serviceInstanceProvider,
} from "../../provider/resources/serviceInstance";
import { ChainPolicyOutputs, PolicyPlan, chainPolicyProvider, checkChainPolicy, policyEntries } from "../../provider/resources/chainPolicy";
import { DockerAggregateOutputs, checkDockerAggregate, dockerAggregateProvider, hostDrift, metadataPatch } from "../../provider/resources/dockerAggregate";
import { DockwallImageOutputs, checkDockwallImage, dockwallImageProvider, parseImageRef } from "../../provider/resources/dockwallImage";

type Failure = { property: string; reason: string };

const NET_L = "11111111-1111-4111-8111-111111111111";
const NET_R = "22222222-2222-4222-8222-222222222222";
const NET_M = "33333333-3333-4333-8333-333333333333";
const SI_UUID = "44444444-4444-4444-8444-444444444444";
const FIXED_UUID = "55555555-5555-4555-8555-555555555555";

// ---- environment: check resolves the connection from process.env and the stack config ----

const savedEnv = { ...process.env };
const STACK_KEY = Symbol.for("dockwall.stackConfig");

function clearAuthEnv(): void {
  for (const k of Object.keys(process.env)) if (k.startsWith("OS_") || k.startsWith("DOCKWALL_")) delete process.env[k];
  (globalThis as any)[STACK_KEY] = undefined;
}

function setAuthEnv(): void {
  clearAuthEnv();
  process.env.OS_AUTH_URL = "http://127.0.0.1:1/v3";
  process.env.OS_USERNAME = "admin";
  process.env.OS_PASSWORD = "unit-password";
  process.env.OS_PROJECT_NAME = "demo";
}

beforeEach(setAuthEnv);
afterAll(() => {
  clearAuthEnv();
  Object.assign(process.env, savedEnv);
});

/** The failure for `property`; fails the test when there is none. */
function failure(failures: Failure[], property: string): Failure {
  const f = failures.find((x) => x.property === property);
  if (!f) throw new Error(`expected a failure for "${property}", got: ${JSON.stringify(failures)}`);
  return f;
}

// =============================================================================================
describe("ServiceTemplate", () => {
  const minimal = { name: "fw", imageName: "dockwall:3f2a9c1e" };

  describe("check", () => {
    it("fills in the defaults", () => {
      const { inputs, failures } = checkServiceTemplate({}, minimal);
      expect(failures).toEqual([]);
      expect(inputs).toMatchObject({
        name: "fw",
        domain: "default-domain",
        imageName: "dockwall:3f2a9c1e",
        serviceMode: "in-network",
        serviceType: "firewall",
        interfaces: ["left", "right", "management"],
        availabilityZoneEnable: true,
        contrailRelease: "2.x",
      });
      expect(inputs.flavor).toBeUndefined();
      expect(inputs.uuid).toMatch(UUID_RE);
    });

    it("keeps the uuid from the old inputs, generates a new one when absent", () => {
      expect(checkServiceTemplate({ uuid: FIXED_UUID }, minimal).inputs.uuid).toBe(FIXED_UUID);
      const a = checkServiceTemplate({}, minimal).inputs.uuid;
      const b = checkServiceTemplate({}, minimal).inputs.uuid;
      expect(a).toMatch(UUID_RE);
      expect(a).not.toBe(b);
    });

    it('refuses a name with ":" or XML-illegal characters, naming "name"', () => {
      expect(failure(checkServiceTemplate({}, { ...minimal, name: "a:b" }).failures, "name").reason).toMatch(/must not contain ":"/);
      expect(failure(checkServiceTemplate({}, { ...minimal, name: "fw\u0001" }).failures, "name").reason).toMatch(/not allowed in XML/);
      expect(failure(checkServiceTemplate({}, { ...minimal, name: "fw<1>" }).failures, "name").reason).toMatch(/< > &/);
      expect(failure(checkServiceTemplate({}, { ...minimal, name: "bad\ud800" }).failures, "name").reason).toMatch(/not allowed in XML/);
      expect(failure(checkServiceTemplate({}, { ...minimal, name: "" }).failures, "name").reason).toMatch(/required/);
      expect(checkServiceTemplate({}, { ...minimal, name: "fw-\ud83d\udd25" }).failures).toEqual([]);
    });

    it("refuses bad enums, listing the allowed values", () => {
      const mode = failure(checkServiceTemplate({}, { ...minimal, serviceMode: "routed" }).failures, "serviceMode").reason;
      for (const v of ["transparent", "in-network", "in-network-nat"]) expect(mode).toContain(`"${v}"`);
      const type = failure(checkServiceTemplate({}, { ...minimal, serviceType: "router" }).failures, "serviceType").reason;
      for (const v of ["firewall", "analyzer", "source-nat", "loadbalancer"]) expect(type).toContain(`"${v}"`);
      const rel = failure(checkServiceTemplate({}, { ...minimal, contrailRelease: "3.x" }).failures, "contrailRelease").reason;
      expect(rel).toContain('"2.x"');
      expect(rel).toContain('"tf"');
      const iface = failure(checkServiceTemplate({}, { ...minimal, interfaces: ["left", "right", "sideways"] }).failures, "interfaces[2]").reason;
      expect(iface).toContain('"management"');
    });

    it("refuses interface lists that cannot carry a chain", () => {
      expect(failure(checkServiceTemplate({}, { ...minimal, interfaces: ["left", "left", "right"] }).failures, "interfaces").reason).toMatch(/"left" more than once/);
      expect(failure(checkServiceTemplate({}, { ...minimal, interfaces: ["left", "management"] }).failures, "interfaces").reason).toMatch(/include "right"/);
      expect(failure(checkServiceTemplate({}, { ...minimal, interfaces: [] }).failures, "interfaces").reason).toMatch(/non-empty/);
    });

    it("refuses a non-boolean availabilityZoneEnable and a malformed uuid", () => {
      failure(checkServiceTemplate({}, { ...minimal, availabilityZoneEnable: "yes" }).failures, "availabilityZoneEnable");
      failure(checkServiceTemplate({}, { ...minimal, uuid: "not-a-uuid" }).failures, "uuid");
    });

    it("accepts the unknown sentinel", () => {
      const { inputs, failures } = checkServiceTemplate({}, { name: UNKNOWN, imageName: UNKNOWN, interfaces: UNKNOWN, serviceMode: UNKNOWN, connection: UNKNOWN });
      expect(failures).toEqual([]);
      expect(inputs.name).toBe(UNKNOWN);
      expect(inputs.interfaces).toBe(UNKNOWN);
      const partly = checkServiceTemplate({}, { ...minimal, interfaces: ["left", UNKNOWN, "management"] });
      expect(partly.failures).toEqual([]);
    });
  });

  describe("templateBody", () => {
    const inputs = checkServiceTemplate({}, { ...minimal, uuid: FIXED_UUID }).inputs;

    it("2.x: a v1 template with no version field, ordered interfaces left, right, management", () => {
      const b = templateBody(inputs);
      expect(b).toMatchObject({ uuid: FIXED_UUID, parent_type: "domain", fq_name: ["default-domain", "fw"], display_name: "fw" });
      const p = b.service_template_properties as Record<string, any>;
      expect("version" in p).toBe(false);
      expect(p).toMatchObject({
        service_mode: "in-network",
        service_type: "firewall",
        image_name: "dockwall:3f2a9c1e",
        ordered_interfaces: true,
        availability_zone_enable: true,
        service_virtualization_type: "virtual-machine",
        service_scaling: false,
      });
      expect(p.interface_type).toEqual([
        { service_interface_type: "left", shared_ip: false, static_route_enable: false },
        { service_interface_type: "right", shared_ip: false, static_route_enable: false },
        { service_interface_type: "management", shared_ip: false, static_route_enable: false },
      ]);
      expect("flavor" in p).toBe(false);
    });

    it('"tf" sends version: 1', () => {
      expect(templateProperties({ ...inputs, contrailRelease: "tf" }).version).toBe(1);
    });

    it("keeps a given interface order and flavor", () => {
      const p = templateProperties({ ...inputs, interfaces: ["management", "left", "right"], flavor: "m1.small" });
      expect((p.interface_type as any[]).map((t) => t.service_interface_type)).toEqual(["management", "left", "right"]);
      expect(p.flavor).toBe("m1.small");
    });
  });

  describe("diff", () => {
    const inputs = checkServiceTemplate({}, { ...minimal, uuid: FIXED_UUID }).inputs;
    const olds: ServiceTemplateOutputs = { ...inputs, fqName: ["default-domain", "fw"] };
    const diff = (news: Record<string, unknown>) => serviceTemplateProvider.diff!(FIXED_UUID, olds, { ...inputs, ...news });

    it("no change: changes false", async () => {
      expect(await diff({})).toMatchObject({ changes: false, replaces: [] });
    });

    it("any property replaces, delete before replace", async () => {
      const changes: Record<string, unknown> = {
        name: "fw2",
        domain: "other-domain",
        imageName: "dockwall:beefcafe",
        serviceMode: "transparent",
        serviceType: "analyzer",
        interfaces: ["management", "left", "right"],
        flavor: "m1.small",
        availabilityZoneEnable: false,
        contrailRelease: "tf",
      };
      for (const [k, v] of Object.entries(changes)) {
        const d = await diff({ [k]: v });
        expect(d.changes, k).toBe(true);
        expect(d.replaces, k).toEqual([k]);
        expect(d.deleteBeforeReplace, k).toBe(true);
      }
    });

    it("a connection change is an update, not a replacement", async () => {
      const d = await diff({ connection: { region: "RegionTwo" } });
      expect(d.changes).toBe(true);
      expect(d.replaces).toEqual([]);
    });

    it("the unknown sentinel in a replace key replaces", async () => {
      const d = await diff({ imageName: UNKNOWN });
      expect(d.replaces).toEqual(["imageName"]);
    });
  });
});

// =============================================================================================
describe("ServiceInstance", () => {
  const minimal = { name: "fw-si", serviceTemplate: "default-domain:fw", leftNetwork: NET_L, rightNetwork: NET_R, managementNetwork: NET_M };

  describe("check", () => {
    it("fills in the defaults", () => {
      const { inputs, failures } = checkServiceInstance({}, minimal);
      expect(failures).toEqual([]);
      expect(inputs).toMatchObject({ domain: "default-domain", availabilityZone: "docker", maxInstances: 1, waitTimeoutSeconds: 300 });
      expect(inputs.project).toBeUndefined();
      expect(inputs.uuid).toMatch(UUID_RE);
    });

    it("keeps the uuid from the old inputs", () => {
      expect(checkServiceInstance({ uuid: FIXED_UUID }, minimal).inputs.uuid).toBe(FIXED_UUID);
    });

    it("accepts network fq-names and a template uuid", () => {
      expect(checkServiceInstance({}, { ...minimal, serviceTemplate: FIXED_UUID, leftNetwork: "default-domain:demo:left", rightNetwork: "default-domain:demo:right" }).failures).toEqual([]);
    });

    it("refuses the same network on left and right", () => {
      expect(failure(checkServiceInstance({}, { ...minimal, rightNetwork: NET_L }).failures, "rightNetwork").reason).toMatch(/different networks/);
      failure(checkServiceInstance({}, { ...minimal, managementNetwork: NET_R }).failures, "rightNetwork");
    });

    it("refuses bad network refs, naming the property", () => {
      expect(failure(checkServiceInstance({}, { ...minimal, leftNetwork: "left-net" }).failures, "leftNetwork").reason).toMatch(/uuid.*fq-name/);
      failure(checkServiceInstance({}, { ...minimal, rightNetwork: "demo:right" }).failures, "rightNetwork");
      failure(checkServiceInstance({}, { ...minimal, managementNetwork: "a::c" }).failures, "managementNetwork");
      failure(checkServiceInstance({}, { ...minimal, leftNetwork: undefined }).failures, "leftNetwork");
    });

    it("refuses a bad template ref, availability zone, name and counts", () => {
      failure(checkServiceInstance({}, { ...minimal, serviceTemplate: "fw" }).failures, "serviceTemplate");
      failure(checkServiceInstance({}, { ...minimal, availabilityZone: "docker:host:x" }).failures, "availabilityZone");
      failure(checkServiceInstance({}, { ...minimal, availabilityZone: ":host" }).failures, "availabilityZone");
      expect(checkServiceInstance({}, { ...minimal, availabilityZone: "docker:compute-1" }).failures).toEqual([]);
      failure(checkServiceInstance({}, { ...minimal, name: "si:1" }).failures, "name");
      for (const v of [0, 65, 1.5, "2"]) failure(checkServiceInstance({}, { ...minimal, maxInstances: v }).failures, "maxInstances");
      failure(checkServiceInstance({}, { ...minimal, waitTimeoutSeconds: 0 }).failures, "waitTimeoutSeconds");
    });

    it("accepts the unknown sentinel (networks not known yet are not compared)", () => {
      const { failures, inputs } = checkServiceInstance({}, { ...minimal, leftNetwork: UNKNOWN, rightNetwork: UNKNOWN, managementNetwork: UNKNOWN, serviceTemplate: UNKNOWN, maxInstances: UNKNOWN });
      expect(failures).toEqual([]);
      expect(inputs.leftNetwork).toBe(UNKNOWN);
    });
  });

  describe("instanceBody / instanceProperties", () => {
    const inputs = checkServiceInstance({}, { ...minimal, uuid: FIXED_UUID, maxInstances: 2 }).inputs;
    const nets = { left: "default-domain:demo:left", right: "default-domain:demo:right", management: "default-domain:demo:mgmt" };
    const plan = (interfaceTypes: string[], networks: InstancePlan["networks"] = nets): InstancePlan => ({
      projectFqName: ["default-domain", "demo"],
      templateUuid: FIXED_UUID,
      templateFqName: ["default-domain", "fw"],
      interfaceTypes,
      networks,
    });

    it("interface_list follows the template order left, right, management", () => {
      const b = instanceBody(inputs, plan(["left", "right", "management"]));
      expect((b.service_instance_properties as any).interface_list).toEqual([{ virtual_network: nets.left }, { virtual_network: nets.right }, { virtual_network: nets.management }]);
    });

    it("interface_list follows a template ordered management, left, right; legacy fields and scale_out are sent", () => {
      const b = instanceBody(inputs, plan(["management", "left", "right"]));
      expect(b).toMatchObject({
        uuid: FIXED_UUID,
        parent_type: "project",
        fq_name: ["default-domain", "demo", "fw-si"],
        display_name: "fw-si",
        service_template_refs: [{ to: ["default-domain", "fw"], uuid: FIXED_UUID }],
      });
      const p = b.service_instance_properties as Record<string, any>;
      expect(p.interface_list).toEqual([{ virtual_network: nets.management }, { virtual_network: nets.left }, { virtual_network: nets.right }]);
      expect(p.left_virtual_network).toBe(nets.left);
      expect(p.right_virtual_network).toBe(nets.right);
      expect(p.management_virtual_network).toBe(nets.management);
      expect(p.scale_out).toEqual({ max_instances: 2, auto_scale: false });
      expect(p.availability_zone).toBe("docker");
    });

    it("without a management network: no management field, scale_out still sent", () => {
      const p = instanceProperties({ ...inputs, maxInstances: 1 }, plan(["left", "right"], { left: nets.left, right: nets.right }));
      expect("management_virtual_network" in p).toBe(false);
      expect(p.interface_list).toEqual([{ virtual_network: nets.left }, { virtual_network: nets.right }]);
      expect(p.scale_out).toEqual({ max_instances: 1, auto_scale: false });
    });

    it("instanceProperties alone (the update PUT) builds the same interface_list as the create body", () => {
      const pl = plan(["management", "left", "right"]);
      expect(instanceProperties(inputs, pl)).toEqual(instanceBody(inputs, pl).service_instance_properties);
    });
  });

  describe("diff", () => {
    const inputs = checkServiceInstance({}, { ...minimal, uuid: FIXED_UUID }).inputs;
    const olds: ServiceInstanceOutputs = {
      ...inputs,
      fqName: ["default-domain", "demo", "fw-si"],
      templateUuid: FIXED_UUID,
      templateFqName: ["default-domain", "fw"],
      interfaceList: ["default-domain:demo:left", "default-domain:demo:right", "default-domain:demo:mgmt"],
      virtualMachineIds: ["vm-1"],
    };
    const diff = (news: Record<string, unknown>, o: Partial<ServiceInstanceOutputs> = {}) => serviceInstanceProvider.diff!(FIXED_UUID, { ...olds, ...o }, { ...inputs, ...news });

    it("no change: changes false", async () => {
      expect(await diff({})).toMatchObject({ changes: false, replaces: [] });
    });

    it("maxInstances is an update (no replaces)", async () => {
      const d = await diff({ maxInstances: 3 });
      expect(d.changes).toBe(true);
      expect(d.replaces).toEqual([]);
    });

    it("a network change replaces, delete before replace", async () => {
      for (const k of ["leftNetwork", "rightNetwork", "managementNetwork"]) {
        const d = await diff({ [k]: "66666666-6666-4666-8666-666666666666" });
        expect(d.replaces, k).toEqual([k]);
        expect(d.changes).toBe(true);
        expect(d.deleteBeforeReplace).toBe(true);
      }
    });

    it("template, availability zone and name replace", async () => {
      expect((await diff({ serviceTemplate: "default-domain:fw2" })).replaces).toEqual(["serviceTemplate"]);
      expect((await diff({ availabilityZone: "docker2" })).replaces).toEqual(["availabilityZone"]);
      expect((await diff({ name: "other" })).replaces).toEqual(["name"]);
    });

    it("fewer service VMs than asked for (found by refresh) is a change", async () => {
      const d = await diff({}, { virtualMachineIds: [] });
      expect(d.changes).toBe(true);
      expect(d.replaces).toEqual([]);
    });

    it("the unknown sentinel in a network replaces", async () => {
      expect((await diff({ leftNetwork: UNKNOWN })).replaces).toEqual(["leftNetwork"]);
    });
  });
});

// =============================================================================================
describe("ChainPolicy", () => {
  const minimal = { name: "chain", leftNetwork: NET_L, rightNetwork: NET_R, services: [SI_UUID] };
  const rule = (r: Record<string, unknown>) => ({ ...minimal, rules: [r] });

  describe("check", () => {
    it("fills in the defaults: one rule <> any, any ports; sequence 0/0", () => {
      const { inputs, failures } = checkChainPolicy({}, minimal);
      expect(failures).toEqual([]);
      expect(inputs.rules).toEqual([{ direction: "<>", protocol: "any", srcPorts: [{ start: -1, end: -1 }], dstPorts: [{ start: -1, end: -1 }] }]);
      expect(inputs.sequence).toEqual({ major: 0, minor: 0 });
      expect(inputs.domain).toBe("default-domain");
      expect(inputs.uuid).toMatch(UUID_RE);
    });

    it("keeps the uuid from the old inputs", () => {
      expect(checkChainPolicy({ uuid: FIXED_UUID }, minimal).inputs.uuid).toBe(FIXED_UUID);
    });

    it("accepts tcp with port ranges and protocol numbers 0..255", () => {
      expect(checkChainPolicy({}, rule({ protocol: "tcp", dstPorts: [{ start: 80, end: 80 }, { start: 8000, end: 8080 }] })).failures).toEqual([]);
      for (const p of ["0", "6", "17", "255"]) expect(checkChainPolicy({}, rule({ protocol: p })).failures, p).toEqual([]);
    });

    it('refuses protocol "foo" and "256", naming rules[i].protocol', () => {
      for (const p of ["foo", "256", "-1", "06", 6]) {
        const f = failure(checkChainPolicy({}, rule({ protocol: p })).failures, "rules[0].protocol");
        expect(f.reason).toMatch(/any, tcp, udp, icmp/);
      }
    });

    it("refuses ports outside -1..65535 and end < start", () => {
      failure(checkChainPolicy({}, rule({ protocol: "tcp", srcPorts: [{ start: 70000, end: 70000 }] })).failures, "rules[0].srcPorts[0].start");
      failure(checkChainPolicy({}, rule({ protocol: "tcp", dstPorts: [{ start: 1, end: 65536 }] })).failures, "rules[0].dstPorts[0].end");
      failure(checkChainPolicy({}, rule({ protocol: "tcp", dstPorts: [{ start: -2, end: 5 }] })).failures, "rules[0].dstPorts[0].start");
      const f = failure(checkChainPolicy({}, rule({ protocol: "tcp", dstPorts: [{ start: 90, end: 80 }] })).failures, "rules[0].dstPorts[0]");
      expect(f.reason).toMatch(/end \(80\) must not be below start \(90\)/);
      failure(checkChainPolicy({}, rule({ protocol: "tcp", dstPorts: [] })).failures, "rules[0].dstPorts");
    });

    it("refuses ports with icmp or any", () => {
      expect(failure(checkChainPolicy({}, rule({ protocol: "icmp", dstPorts: [{ start: 1, end: 2 }] })).failures, "rules[0]").reason).toMatch(/ports can only be given/);
    });

    it("refuses a bad direction, listing the allowed ones", () => {
      const f = failure(checkChainPolicy({}, rule({ direction: "<" })).failures, "rules[0].direction");
      expect(f.reason).toContain('"<>"');
      expect(f.reason).toContain('">"');
    });

    it("refuses left == right, bad network refs and bad services", () => {
      failure(checkChainPolicy({}, { ...minimal, rightNetwork: NET_L }).failures, "rightNetwork");
      failure(checkChainPolicy({}, { ...minimal, leftNetwork: "left" }).failures, "leftNetwork");
      failure(checkChainPolicy({}, { ...minimal, services: [] }).failures, "services");
      failure(checkChainPolicy({}, { ...minimal, services: ["fw-si"] }).failures, "services[0]");
      expect(failure(checkChainPolicy({}, { ...minimal, services: [SI_UUID, SI_UUID] }).failures, "services").reason).toMatch(/twice/);
      failure(checkChainPolicy({}, { ...minimal, rules: [] }).failures, "rules");
      failure(checkChainPolicy({}, { ...minimal, sequence: { major: -1, minor: 0 } }).failures, "sequence.major");
      failure(checkChainPolicy({}, { ...minimal, name: "a:b" }).failures, "name");
    });

    it("accepts the unknown sentinel", () => {
      const { failures } = checkChainPolicy({}, { name: "chain", leftNetwork: UNKNOWN, rightNetwork: UNKNOWN, services: [UNKNOWN], rules: UNKNOWN, sequence: UNKNOWN });
      expect(failures).toEqual([]);
      expect(checkChainPolicy({}, { ...minimal, services: UNKNOWN }).failures).toEqual([]);
      expect(checkChainPolicy({}, rule({ protocol: UNKNOWN })).failures).toEqual([]);
    });
  });

  describe("policyEntries", () => {
    const inputs = checkChainPolicy({}, {
      ...minimal,
      rules: [{}, { direction: ">", protocol: "tcp", srcPorts: [{ start: 1024, end: 65535 }], dstPorts: [{ start: 443, end: 443 }] }],
    }).inputs;
    const plan: PolicyPlan = {
      projectFqName: ["default-domain", "demo"],
      left: { uuid: NET_L, fqName: ["default-domain", "demo", "left"] },
      right: { uuid: NET_R, fqName: ["default-domain", "demo", "right"] },
      serviceFqNames: ["default-domain:demo:fw-si", "default-domain:demo:ids-si"],
    };

    it("builds the 2.x chain rule shape with apply_service and VN fq-names, no rule_uuid", () => {
      const e = policyEntries(inputs, plan);
      expect(e.policy_rule[0]).toEqual({
        direction: "<>",
        protocol: "any",
        ethertype: "IPv4",
        src_addresses: [{ virtual_network: "default-domain:demo:left" }],
        dst_addresses: [{ virtual_network: "default-domain:demo:right" }],
        src_ports: [{ start_port: -1, end_port: -1 }],
        dst_ports: [{ start_port: -1, end_port: -1 }],
        action_list: { simple_action: "pass", apply_service: ["default-domain:demo:fw-si", "default-domain:demo:ids-si"] },
      });
      expect(e.policy_rule[1]).toMatchObject({
        direction: ">",
        protocol: "tcp",
        src_ports: [{ start_port: 1024, end_port: 65535 }],
        dst_ports: [{ start_port: 443, end_port: 443 }],
      });
      for (const r of e.policy_rule) expect("rule_uuid" in r).toBe(false);
    });
  });

  describe("diff", () => {
    const inputs = checkChainPolicy({}, { ...minimal, uuid: FIXED_UUID }).inputs;
    const olds: ChainPolicyOutputs = {
      ...inputs,
      fqName: ["default-domain", "demo", "chain"],
      leftNetworkUuid: NET_L,
      rightNetworkUuid: NET_R,
      leftFqName: "default-domain:demo:left",
      rightFqName: "default-domain:demo:right",
      serviceFqNames: ["default-domain:demo:fw-si"],
      attachedTo: [NET_L, NET_R],
      ruleUuids: ["r-1"],
    };
    const diff = (news: Record<string, unknown>, o: Partial<ChainPolicyOutputs> = {}) => chainPolicyProvider.diff!(FIXED_UUID, { ...olds, ...o }, { ...inputs, ...news });

    it("no change: changes false", async () => {
      expect(await diff({})).toMatchObject({ changes: false, replaces: [] });
    });

    it("rules, services, networks and sequence are updates", async () => {
      for (const news of [
        { rules: [{ direction: "<>", protocol: "tcp", srcPorts: [{ start: -1, end: -1 }], dstPorts: [{ start: 80, end: 80 }] }] },
        { services: [SI_UUID, "66666666-6666-4666-8666-666666666666"] },
        { rightNetwork: NET_M },
        { sequence: { major: 1, minor: 0 } },
      ]) {
        const d = await diff(news);
        expect(d.changes, JSON.stringify(news)).toBe(true);
        expect(d.replaces).toEqual([]);
      }
    });

    it("name and project replace", async () => {
      expect((await diff({ name: "chain2" })).replaces).toEqual(["name"]);
      expect((await diff({ project: "other" })).replaces).toEqual(["project"]);
    });

    it("attachedTo missing a network (drift) is a change", async () => {
      const d = await diff({}, { attachedTo: [NET_L] });
      expect(d.changes).toBe(true);
      expect(d.replaces).toEqual([]);
    });

    it("the unknown sentinel in the name replaces", async () => {
      expect((await diff({ name: UNKNOWN })).replaces).toEqual(["name"]);
    });
  });
});

// =============================================================================================
describe("DockerAggregate", () => {
  const minimal = { hosts: ["compute-1"] };

  describe("check", () => {
    it("fills in the defaults", () => {
      const { inputs, failures } = checkDockerAggregate({}, minimal);
      expect(failures).toEqual([]);
      expect(inputs).toEqual({
        name: "docker",
        availabilityZone: "docker",
        hosts: ["compute-1"],
        metadata: {},
        novaDocker: { computeDriver: "novadocker.virt.docker.DockerDriver", vifDriver: "novadocker.virt.docker.opencontrail.OpenContrailVIFDriver", replaceConfig: false, configPath: "/etc/nova/nova-compute.conf" },
        glanceConfigPath: "/etc/glance/glance-api.conf",
        restoreOnDelete: false,
      });
    });

    it("refuses host access without a pinned host key, for a host not in hosts, and bad SSH settings, naming each property", () => {
      const { failures } = checkDockerAggregate({}, {
        ...minimal,
        hostAccess: { "compute-1": { host: "10.0.0.5", privateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\nx\n-----END OPENSSH PRIVATE KEY-----" }, "compute-9": { host: "h", hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEx", agent: "/run/agent", port: 70000 } },
        glanceHost: { host: "ctl", hostKey: "not a key", agent: "/a" },
        novaDocker: { computeDriver: "bad driver!" },
      });
      const props = failures.map((f) => f.property);
      expect(props).toEqual(expect.arrayContaining(["hostAccess.compute-1.hostKey", "hostAccess.compute-9", "hostAccess.compute-9.port", "glanceHost.hostKey", "novaDocker.computeDriver"]));
      expect(failures.find((f) => f.property === "hostAccess.compute-1.hostKey")!.reason).toMatch(/known_hosts/);
      // No secret in any message.
      expect(JSON.stringify(failures)).not.toMatch(/BEGIN OPENSSH/);
    });

    it("diff: a hand edit found by refresh on a prepared host is a change; the state asked for is none", () => {
      const { inputs } = checkDockerAggregate({}, { ...minimal, hostAccess: { "compute-1": { host: "h", hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEx", agent: "/a" } } });
      const good = { computeDriver: inputs.novaDocker.computeDriver, vifDriver: inputs.novaDocker.vifDriver, novaInDockerGroup: true, dockerVersion: "20.10", name: "compute-1", changed: [], restarted: [], originals: {} };
      expect(hostDrift({ hostReports: { "compute-1": good } }, inputs)).toEqual([]);
      expect(hostDrift({ hostReports: { "compute-1": { ...good, computeDriver: "libvirt.LibvirtDriver" } } }, inputs)).toEqual(["hostReports.compute-1"]);
      expect(hostDrift({ hostReports: { "compute-1": { ...good, novaInDockerGroup: false } } }, inputs)).toEqual(["hostReports.compute-1"]);
    });

    it("refuses duplicate and empty host lists, and bad host names", () => {
      expect(failure(checkDockerAggregate({}, { hosts: ["c1", "c2", "c1"] }).failures, "hosts").reason).toMatch(/"c1" more than once/);
      failure(checkDockerAggregate({}, { hosts: [] }).failures, "hosts");
      failure(checkDockerAggregate({}, {}).failures, "hosts");
      failure(checkDockerAggregate({}, { hosts: ["ok", "bad host"] }).failures, "hosts[1]");
    });

    it("refuses names and zones Nova refuses: control or separator characters, surrounding whitespace", () => {
      for (const bad of [" docker", "docker ", "dock\u0007er", "dock\u0000er", "do\u2028ck", "line\nbreak"]) {
        expect(failure(checkDockerAggregate({}, { ...minimal, name: bad }).failures, "name").reason).toMatch(/printable characters only/);
        expect(failure(checkDockerAggregate({}, { ...minimal, availabilityZone: bad }).failures, "availabilityZone").reason).toMatch(/printable characters only/);
      }
      expect(checkDockerAggregate({}, { ...minimal, name: "docker nfv ü", availabilityZone: "zone 2" }).failures).toEqual([]);
    });

    it('refuses an availability zone with ":" or "nova"', () => {
      expect(failure(checkDockerAggregate({}, { ...minimal, availabilityZone: "docker:c1" }).failures, "availabilityZone").reason).toMatch(/":"/);
      expect(failure(checkDockerAggregate({}, { ...minimal, availabilityZone: "nova" }).failures, "availabilityZone").reason).toMatch(/default zone/);
    });

    it("refuses metadata.availability_zone and non-string metadata", () => {
      failure(checkDockerAggregate({}, { ...minimal, metadata: { availability_zone: "x" } }).failures, "metadata.availability_zone");
      failure(checkDockerAggregate({}, { ...minimal, metadata: { n: 5 } }).failures, "metadata.n");
      failure(checkDockerAggregate({}, { ...minimal, metadata: { long: "x".repeat(256) } }).failures, "metadata.long");
    });

    it("accepts the unknown sentinel", () => {
      expect(checkDockerAggregate({}, { hosts: UNKNOWN }).failures).toEqual([]);
      expect(checkDockerAggregate({}, { hosts: ["c1", UNKNOWN, UNKNOWN] }).failures).toEqual([]);
      expect(checkDockerAggregate({}, { ...minimal, metadata: { k: UNKNOWN } }).failures).toEqual([]);
    });
  });

  describe("metadataPatch", () => {
    it("nulls removed keys, sets new and changed ones, leaves equal ones out", () => {
      expect(metadataPatch({ a: "1", b: "2", c: "3" }, { b: "2", c: "30", d: "4" })).toEqual({ a: null, c: "30", d: "4" });
      expect(metadataPatch({ a: "1" }, { a: "1" })).toEqual({});
    });
  });

  describe("diff", () => {
    const inputs = checkDockerAggregate({}, { hosts: ["c1", "c2"], metadata: { k: "v" } }).inputs;
    const olds: DockerAggregateOutputs = { ...inputs, aggregateId: 7 };
    const diff = (news: Record<string, unknown>) => dockerAggregateProvider.diff!("7", olds, { ...inputs, ...news });

    it("no change, and hosts in another order: changes false", async () => {
      expect(await diff({})).toMatchObject({ changes: false, replaces: [] });
      expect(await diff({ hosts: ["c2", "c1"] })).toMatchObject({ changes: false, replaces: [] });
    });

    it("a host added or removed is an update without replace", async () => {
      expect(await diff({ hosts: ["c1", "c2", "c3"] })).toMatchObject({ changes: true, replaces: [] });
      expect(await diff({ hosts: ["c1"] })).toMatchObject({ changes: true, replaces: [] });
    });

    it("name, zone and metadata are updates", async () => {
      for (const news of [{ name: "docker2" }, { availabilityZone: "docker2" }, { metadata: { k: "w" } }]) {
        expect(await diff(news)).toMatchObject({ changes: true, replaces: [] });
      }
    });

    it("unknown hosts are a change", async () => {
      expect((await diff({ hosts: UNKNOWN })).changes).toBe(true);
      expect((await diff({ hosts: ["c1", UNKNOWN] })).changes).toBe(true);
    });
  });
});

// =============================================================================================
describe("DockwallImage", () => {
  const ID_A = "sha256:" + "a".repeat(64);
  const ID_B = "sha256:" + "b".repeat(64);
  const inspecting = (id: string | undefined) => {
    const calls: string[] = [];
    const fn = async (_ep: unknown, ref: string) => {
      calls.push(ref);
      return id === undefined ? undefined : { Id: id, RepoTags: [ref] };
    };
    return Object.assign(fn, { calls });
  };

  describe("parseImageRef", () => {
    it("needs an explicit tag", () => {
      expect(parseImageRef("dockwall:3f2a")).toEqual({ repo: "dockwall", tag: "3f2a" });
      expect(parseImageRef("registry.local:5000/team/dockwall:v1.2")).toEqual({ repo: "registry.local:5000/team/dockwall", tag: "v1.2" });
      expect(parseImageRef("dockwall")).toBeUndefined();
      expect(parseImageRef("dockwall@sha256:" + "a".repeat(64))).toBeUndefined();
    });
  });

  describe("check", () => {
    it("fills in the defaults and records the content id", async () => {
      const inspect = inspecting(ID_A);
      const { inputs, failures } = await checkDockwallImage({}, { imageRef: "dockwall:3f2a" }, inspect);
      expect(failures).toEqual([]);
      expect(inspect.calls).toEqual(["dockwall:3f2a"]);
      expect(inputs).toEqual({ imageRef: "dockwall:3f2a", visibility: "public", properties: {}, glanceApiVersion: "auto", uploadTimeoutSeconds: 1800, contentId: ID_A, owner: expect.stringMatching(UUID_RE) });
      // The owner id is kept from the old inputs (a retried create adopts only its own upload).
      const again = await checkDockwallImage(inputs, { imageRef: "dockwall:3f2a" }, inspect);
      expect(again.inputs.owner).toBe(inputs.owner);
    });

    it("takes the owner id from the program's stableUuid when there are no old inputs; old inputs win; garbage is replaced", async () => {
      const inspect = inspecting(ID_A);
      const key = programUuid("DockwallImage", "dockwall", "dev", "chain-image");
      expect(key).toMatch(UUID_RE);
      expect(programUuid("DockwallImage", "dockwall", "dev", "chain-image")).toBe(key);
      for (const other of [programUuid("DockwallImage", "dockwall", "prod", "chain-image"), programUuid("DockwallImage", "dockwall", "dev", "chain2-image"), programUuid("ServiceTemplate", "dockwall", "dev", "chain-image")]) {
        expect(other).not.toBe(key);
      }
      const fresh = await checkDockwallImage({}, { imageRef: "dockwall:3f2a", stableUuid: key }, inspect);
      expect(fresh.inputs.owner).toBe(key);
      expect(fresh.inputs).not.toHaveProperty("stableUuid");
      const kept = await checkDockwallImage({ owner: "11111111-2222-3333-4444-555555555555" }, { imageRef: "dockwall:3f2a", stableUuid: key }, inspect);
      expect(kept.inputs.owner).toBe("11111111-2222-3333-4444-555555555555");
      const garbage = await checkDockwallImage({}, { imageRef: "dockwall:3f2a", stableUuid: "x:<>" }, inspect);
      expect(garbage.inputs.owner).toMatch(UUID_RE);
    });

    it("Contrail resources take the program's stableUuid when there are no old inputs, so an up after a lost create meets its own object", async () => {
      const key = programUuid("ServiceTemplate", "dockwall", "dev", "chain-template");
      const news = { name: "dw-template", imageName: "dockwall:3f2a", stableUuid: key };
      expect((await checkServiceTemplate({}, news)).inputs.uuid).toBe(key);
      expect((await checkServiceTemplate({ uuid: "11111111-2222-3333-4444-555555555555" }, news)).inputs.uuid).toBe("11111111-2222-3333-4444-555555555555");
      expect((await checkServiceTemplate({}, { ...news, stableUuid: undefined })).inputs.uuid).not.toBe(key);
    });

    it("refuses an imageRef without a tag", async () => {
      const inspect = inspecting(ID_A);
      expect(failure((await checkDockwallImage({}, { imageRef: "dockwall" }, inspect)).failures, "imageRef").reason).toMatch(/explicit tag/);
      expect(inspect.calls).toEqual([]);
    });

    it('refuses the tag "latest"', async () => {
      expect(failure((await checkDockwallImage({}, { imageRef: "dockwall:latest" }, inspecting(ID_A))).failures, "imageRef").reason).toMatch(/"latest"/);
    });

    it("refuses new content under the same tag; accepts it under a new tag", async () => {
      const olds = { imageRef: "dockwall:v1", contentId: ID_A };
      const same = await checkDockwallImage(olds, { imageRef: "dockwall:v1" }, inspecting(ID_B));
      expect(failure(same.failures, "imageRef").reason).toMatch(/content of "dockwall:v1" changed/);
      expect((await checkDockwallImage(olds, { imageRef: "dockwall:v2" }, inspecting(ID_B))).failures).toEqual([]);
      expect((await checkDockwallImage(olds, { imageRef: "dockwall:v1" }, inspecting(ID_A))).failures).toEqual([]);
    });

    it("refuses an image the engine does not have, and reports an engine error on imageRef", async () => {
      expect(failure((await checkDockwallImage({}, { imageRef: "dockwall:v9" }, inspecting(undefined))).failures, "imageRef").reason).toMatch(/no image "dockwall:v9"/);
      const broken = async () => {
        throw new Error("cannot reach the Docker engine");
      };
      expect(failure((await checkDockwallImage({}, { imageRef: "dockwall:v9" }, broken)).failures, "imageRef").reason).toMatch(/cannot reach the Docker engine/);
    });

    it("refuses bad visibility (listing values), reserved properties, a bad docker host and api version", async () => {
      const vis = failure((await checkDockwallImage({}, { imageRef: "dockwall:v1", visibility: "everyone" }, inspecting(ID_A))).failures, "visibility").reason;
      for (const v of ["public", "private", "shared", "community"]) expect(vis).toContain(`"${v}"`);
      failure((await checkDockwallImage({}, { imageRef: "dockwall:v1", properties: { os_glance_x: "1" } }, inspecting(ID_A))).failures, "properties.os_glance_x");
      failure((await checkDockwallImage({}, { imageRef: "dockwall:v1", properties: { dockwall_content_id: "x" } }, inspecting(ID_A))).failures, "properties.dockwall_content_id");
      failure((await checkDockwallImage({}, { imageRef: "dockwall:v1", docker: { host: "ftp://h" } }, inspecting(ID_A))).failures, "docker.host");
      failure((await checkDockwallImage({}, { imageRef: "dockwall:v1", glanceApiVersion: "3" }, inspecting(ID_A))).failures, "glanceApiVersion");
    });

    it("accepts the unknown sentinel without inspecting", async () => {
      const inspect = inspecting(ID_A);
      const { inputs, failures } = await checkDockwallImage({}, { imageRef: UNKNOWN }, inspect);
      expect(failures).toEqual([]);
      expect(inputs.contentId).toBe(UNKNOWN);
      expect(inspect.calls).toEqual([]);
      const unknownHost = await checkDockwallImage({}, { imageRef: "dockwall:v1", docker: { host: UNKNOWN } }, inspect);
      expect(unknownHost.failures).toEqual([]);
      expect(unknownHost.inputs.contentId).toBe(UNKNOWN);
      expect(inspect.calls).toEqual([]);
    });
  });

  describe("diff", () => {
    const inputs = { imageRef: "dockwall:v1", visibility: "public", properties: { os_command_line: "/init" }, glanceApiVersion: "auto" as const, uploadTimeoutSeconds: 1800, contentId: ID_A, owner: "11111111-2222-3333-4444-555555555555" };
    const olds: DockwallImageOutputs = { ...inputs, name: "dockwall:v1", glanceId: "img-1", glanceVersion: "2", status: "active", checksum: "c", sizeBytes: 10 };
    const diff = (news: Record<string, unknown>, o: Partial<DockwallImageOutputs> = {}) => dockwallImageProvider.diff!("img-1", { ...olds, ...o }, { ...inputs, ...news });

    it("no change: changes false", async () => {
      expect(await diff({})).toMatchObject({ changes: false, replaces: [] });
    });

    it("new content (contentId) or a new imageRef replaces", async () => {
      expect(await diff({ contentId: ID_B })).toMatchObject({ changes: true, replaces: ["contentId"] });
      expect([...((await diff({ imageRef: "dockwall:v2", contentId: ID_B })).replaces ?? [])].sort()).toEqual(["contentId", "imageRef"]);
    });

    it("properties and visibility are updates on Glance v2", async () => {
      expect(await diff({ properties: { os_command_line: "/other" } })).toMatchObject({ changes: true, replaces: [] });
      expect(await diff({ visibility: "private" })).toMatchObject({ changes: true, replaces: [] });
    });

    it("properties and visibility replace on Glance v1", async () => {
      expect(await diff({ properties: {} }, { glanceVersion: "1" })).toMatchObject({ changes: true, replaces: ["properties"] });
      expect(await diff({ visibility: "private" }, { glanceVersion: "1" })).toMatchObject({ changes: true, replaces: ["visibility"] });
    });

    it("the unknown sentinel in contentId replaces", async () => {
      expect((await diff({ contentId: UNKNOWN })).replaces).toEqual(["contentId"]);
    });

    it("an image that is no longer active (refresh) is replaced", async () => {
      expect(await diff({}, { status: "killed" })).toMatchObject({ changes: true, replaces: ["status"] });
    });
  });
});

// =============================================================================================
describe("check through the provider objects: the connection", () => {
  const cases: [string, (news: any) => Promise<{ failures?: readonly Failure[] }>, Record<string, unknown>][] = [
    ["ServiceTemplate", (n) => serviceTemplateProvider.check!({}, n), { name: "fw", imageName: "dockwall:v1" }],
    ["ServiceInstance", (n) => serviceInstanceProvider.check!({}, n), { name: "si", serviceTemplate: "default-domain:fw", leftNetwork: NET_L, rightNetwork: NET_R }],
    ["ChainPolicy", (n) => chainPolicyProvider.check!({}, n), { name: "chain", leftNetwork: NET_L, rightNetwork: NET_R, services: [SI_UUID] }],
    ["DockerAggregate", (n) => dockerAggregateProvider.check!({}, n), { hosts: ["compute-1"] }],
  ];

  for (const [name, check, news] of cases) {
    describe(name, () => {
      it("passes with OS_* credentials in the environment", async () => {
        expect((await check(news)).failures ?? []).toEqual([]);
      });

      it("reports a `connection` failure when no auth is set anywhere", async () => {
        clearAuthEnv();
        const f = failure([...((await check(news)).failures ?? [])], "connection");
        expect(f.reason).toMatch(/auth URL/);
      });

      it("passes with the connection input alone", async () => {
        clearAuthEnv();
        const conn = { authUrl: "http://127.0.0.1:1/v3", username: "u", password: "p", projectName: "demo" };
        expect((await check({ ...news, connection: conn })).failures ?? []).toEqual([]);
      });

      it("passes with stack config alone (as configure() stores it)", async () => {
        clearAuthEnv();
        (globalThis as any)[STACK_KEY] = { "openstack:authUrl": "http://127.0.0.1:1/v3", "openstack:userName": "u", "openstack:password": "p", "openstack:tenantName": "demo" };
        expect((await check(news)).failures ?? []).toEqual([]);
      });

      it("reports a bad connection setting and unknown connection keys", async () => {
        failure([...((await check({ ...news, connection: { interface: "sideways" } })).failures ?? [])], "connection");
        failure([...((await check({ ...news, connection: { authUrl: "http://k/v3", pasword: "typo" } })).failures ?? [])], "connection.pasword");
      });

      it("does not resolve a connection that is not known yet", async () => {
        clearAuthEnv();
        expect((await check({ ...news, connection: UNKNOWN })).failures ?? []).toEqual([]);
      });
    });
  }

  it("DockwallImage (inspect injected) reports the connection too", async () => {
    clearAuthEnv();
    const r = await checkDockwallImage({}, { imageRef: "dockwall:v1" }, async () => ({ Id: "sha256:" + "c".repeat(64) }));
    failure(r.failures, "connection");
    setAuthEnv();
    expect((await checkDockwallImage({}, { imageRef: "dockwall:v1" }, async () => ({ Id: "sha256:" + "c".repeat(64) }))).failures).toEqual([]);
  });
});

// =============================================================================================
describe("DockwallImage update on Glance v1 (fake Keystone + Glance v1 on loopback)", () => {
  let server: http.Server;
  let base = "";
  const seen: string[] = [];

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      req.resume();
      req.on("end", () => {
        seen.push(`${req.method} ${req.url}`);
        if (req.method === "POST" && req.url === "/v3/auth/tokens") {
          res.writeHead(201, { "content-type": "application/json", "x-subject-token": "tok" });
          return res.end(
            JSON.stringify({
              token: {
                expires_at: new Date(Date.now() + 3_600_000).toISOString(),
                project: { id: "p", name: "demo" },
                catalog: [{ type: "image", endpoints: [{ interface: "public", region_id: "RegionOne", url: `${base}/image` }] }],
              },
            }),
          );
        }
        if (req.method === "HEAD" && req.url === "/image/v1/images/img-1") {
          res.writeHead(200, {
            "x-image-meta-id": "img-1",
            "x-image-meta-name": "dockwall:v1",
            "x-image-meta-status": "active",
            "x-image-meta-is_public": "True",
            "x-image-meta-checksum": "abc",
            "x-image-meta-size": "10",
            "x-image-meta-container_format": "docker",
            "x-image-meta-disk_format": "raw",
          });
          return res.end();
        }
        res.writeHead(404, { "content-type": "text/plain" });
        res.end("404 Not Found");
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });

  afterEach(() => {
    seen.length = 0;
  });

  it("a change that touches no Glance field reads the image with v1, not v2", async () => {
    const connection = { authUrl: `${base}/v3`, username: `v1-user`, password: "p", projectName: "demo", retries: 0 };
    const inputs = { connection, imageRef: "dockwall:v1", visibility: "public", properties: {}, glanceApiVersion: "auto" as const, uploadTimeoutSeconds: 1800, contentId: "sha256:" + "a".repeat(64), owner: "11111111-2222-3333-4444-555555555555" };
    const olds: DockwallImageOutputs = { ...inputs, name: "dockwall:v1", glanceId: "img-1", glanceVersion: "1", status: "active", checksum: "abc", sizeBytes: 10 };
    const news = { ...inputs, uploadTimeoutSeconds: 600 };
    expect((await dockwallImageProvider.diff!("img-1", olds, news)).replaces).toEqual([]);
    const r = await dockwallImageProvider.update!("img-1", olds, news);
    expect(seen).toContain("HEAD /image/v1/images/img-1");
    expect(seen.some((s) => s.includes("/v2/"))).toBe(false);
    expect(r.outs).toMatchObject({ glanceId: "img-1", glanceVersion: "1", status: "active", uploadTimeoutSeconds: 600 });
  });
});
