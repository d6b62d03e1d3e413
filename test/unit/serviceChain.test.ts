/**
 * The ServiceChain component under `pulumi.runtime.setMocks`: the resource graph, the data and
 * explicit dependencies that order create and destroy, the outputs, and that every dynamic
 * provider serializes into a module that loads and answers `check` on its own.
 */
import { beforeAll, describe, expect, it } from "vitest";
import * as pulumi from "@pulumi/pulumi";
import Module from "module";

interface Registered {
  type: string;
  name: string;
  inputs: Record<string, any>;
}

const registered: Registered[] = [];
const dependsOn = new Map<string, string[]>();

function output<T>(o: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) => o.apply((v) => resolve(v)));
}

beforeAll(async () => {
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        registered.push({ type: args.type, name: args.name, inputs: args.inputs });
        const state: Record<string, any> = { ...args.inputs };
        switch (args.type) {
          case "openstack:networking/network:Network":
            return { id: `net-${args.name}`, state };
          case "openstack:networking/subnet:Subnet":
            return { id: `subnet-${args.name}`, state };
          case "pulumi-nodejs:dynamic/dockwall:DockerAggregate":
            return { id: "7", state: { ...state, aggregateId: 7, availabilityZone: args.inputs.availabilityZone ?? "docker" } };
          case "pulumi-nodejs:dynamic/dockwall:DockwallImage":
            return { id: "img-1", state: { ...state, name: args.inputs.imageRef, glanceId: "img-1" } };
          case "pulumi-nodejs:dynamic/dockwall:ServiceTemplate":
            return { id: "st-uuid", state: { ...state, uuid: "st-uuid", fqName: ["default-domain", args.inputs.name] } };
          case "pulumi-nodejs:dynamic/dockwall:ServiceInstance":
            return { id: "si-uuid", state: { ...state, uuid: "si-uuid", fqName: ["default-domain", "admin", args.inputs.name] } };
          case "pulumi-nodejs:dynamic/dockwall:ChainPolicy":
            return { id: "pol-uuid", state: { ...state, uuid: "pol-uuid", fqName: ["default-domain", "admin", args.inputs.name] } };
          default:
            return { id: `${args.name}-id`, state };
        }
      },
      call(args) {
        return args.inputs;
      },
    },
    "dockwall",
    "test",
    false,
  );
});

async function build() {
  const { ServiceChain } = await import("../../provider");
  const chain = new ServiceChain(
    "dw",
    {
      left: { name: "left", cidr: "10.0.0.0/24" },
      right: { name: "right", cidr: "10.0.1.0/24" },
      management: { name: "mgmt", cidr: "172.16.0.0/24" },
      computeHosts: ["dw-compute-1"],
      image: { imageRef: "dockwall:abc123" },
    },
    {
      transformations: [
        (a) => {
          const deps = (a.opts.dependsOn ?? []) as pulumi.Resource[];
          const names = Promise.all((Array.isArray(deps) ? deps : [deps]).map((d) => output((d as pulumi.CustomResource).urn)));
          names.then((urns) => dependsOn.set(a.name, urns.map((u) => u.split("::").pop()!)));
          return undefined;
        },
      ],
    },
  );
  return chain;
}

describe("ServiceChain component", () => {
  it("declares three networks with subnets and the five dockwall resources, wired in order", async () => {
    const chain = await build();
    const [instanceFq, policyFq, netIds, imageName] = await Promise.all([output(chain.instanceFqName), output(chain.policyFqName), output(chain.networkIds), output(chain.imageName)]);
    expect(instanceFq).toEqual(["default-domain", "admin", "dw-instance"]);
    expect(policyFq).toEqual(["default-domain", "admin", "dw-policy"]);
    expect(netIds).toEqual({ left: "net-dw-left", right: "net-dw-right", management: "net-dw-management" });
    expect(imageName).toBe("dockwall:abc123");

    const types = registered.map((r) => r.type);
    expect(types.filter((t) => t === "openstack:networking/network:Network")).toHaveLength(3);
    expect(types.filter((t) => t === "openstack:networking/subnet:Subnet")).toHaveLength(3);
    for (const t of ["DockerAggregate", "DockwallImage", "ServiceTemplate", "ServiceInstance", "ChainPolicy"]) {
      expect(types).toContain(`pulumi-nodejs:dynamic/dockwall:${t}`);
    }
    expect(types).toContain("dockwall:index:ServiceChain");

    const byType = (t: string) => registered.find((r) => r.type === `pulumi-nodejs:dynamic/dockwall:${t}`)!;
    // Data dependencies: template ← image name, instance ← template uuid + network ids, policy ← instance uuid.
    expect(byType("ServiceTemplate").inputs.imageName).toBe("dockwall:abc123");
    expect(byType("ServiceInstance").inputs.serviceTemplate).toBe("st-uuid");
    expect(byType("ServiceInstance").inputs.leftNetwork).toBe("net-dw-left");
    expect(byType("ServiceInstance").inputs.rightNetwork).toBe("net-dw-right");
    expect(byType("ServiceInstance").inputs.managementNetwork).toBe("net-dw-management");
    expect(byType("ServiceInstance").inputs.availabilityZone).toBe("docker");
    expect(byType("ChainPolicy").inputs.services).toEqual(["si-uuid"]);
    expect(byType("ChainPolicy").inputs.leftNetwork).toBe("net-dw-left");
    expect(byType("DockerAggregate").inputs.hosts).toEqual(["dw-compute-1"]);

    // Explicit dependencies: the instance waits for the subnets and the aggregate; the image for the aggregate.
    await new Promise((r) => setTimeout(r, 50));
    expect(dependsOn.get("dw-instance")?.sort()).toEqual(["dw-aggregate", "dw-left", "dw-management", "dw-right"]);
    expect(dependsOn.get("dw-image")).toEqual(["dw-aggregate"]);
  });

  it("serializes every provider into a module that loads and validates on its own", async () => {
    const dynamic = registered.filter((r) => r.type.startsWith("pulumi-nodejs:dynamic/dockwall:"));
    expect(dynamic.length).toBeGreaterThanOrEqual(5);
    for (const r of dynamic) {
      const text = r.inputs.__provider;
      expect(typeof text, `${r.type} has a serialized provider`).toBe("string");
      expect(text).toContain("exports.handler");
      // No require of vite/vitest internals, no deep paths into third-party packages (pitfall #5).
      expect(text).not.toMatch(/require\("(vite|vitest)[^"]*"\)/);
      expect(text).not.toMatch(/require\("[^".][^"]*\/[^"]*"\)/);
      const m = new Module(`${r.name}.js`);
      m.filename = `${process.cwd()}/${r.name}.js`;
      (m as any).paths = (Module as any)._nodeModulePaths(process.cwd());
      (m as any)._compile(text, m.filename);
      const provider = m.exports.handler();
      for (const method of ["check", "diff", "create", "read", "update", "delete", "configure"]) {
        expect(typeof provider[method], `${r.type}.${method}`).toBe("function");
      }
      // A bad name is refused by the deserialized code, naming the property.
      if (r.type.endsWith("ServiceTemplate")) {
        const res = await provider.check({}, { name: "a:b", imageName: "x:y" });
        expect(res.failures.map((f: any) => f.property)).toContain("name");
      }
    }
  });

  it("serializes the tsc-compiled providers (what `pulumi up` runs) into small, self-contained modules", async () => {
    // Load lib/ (npm run build) with Node's own require, outside vite's transform.
    const req = Module.createRequire(`${process.cwd()}/package.json`);
    const real = req("@pulumi/pulumi") as typeof pulumi;
    for (const name of ["serviceTemplate", "serviceInstance", "chainPolicy", "dockerAggregate", "dockwallImage"]) {
      const mod = req(`./lib/provider/resources/${name}.js`);
      const provider = mod[`${name}Provider`];
      const sf = await real.runtime.serializeFunction(() => provider, { allowSecrets: false });
      expect(sf.containsSecrets).toBe(false);
      const requires = Array.from(sf.text.matchAll(/require\("([^"]+)"\)/g)).map((m) => m[1]);
      // Only Node built-ins and packages by name: nothing relative, nothing deep.
      for (const r of requires) expect(r, `${name} requires ${r}`).toMatch(/^(crypto|fs|os|path|http|https|stream|dockerode|js-yaml|node-ssh)$/);
      expect(sf.text.length, `${name} serialized size`).toBeLessThan(200_000);
      const m = new Module(`${name}.js`);
      m.filename = `${process.cwd()}/${name}.js`;
      (m as any).paths = (Module as any)._nodeModulePaths(process.cwd());
      (m as any)._compile(sf.text, m.filename);
      const p = m.exports.handler();
      const d = await p.diff("x", { uuid: "u" }, { uuid: "u" });
      expect(d).toHaveProperty("changes");
    }
  });

  it("refuses bad arguments before declaring anything", async () => {
    const { ServiceChain } = await import("../../provider");
    const before = registered.length;
    expect(
      () =>
        new ServiceChain("bad", {
          left: { cidr: "10.0.0.0/33x" },
          right: { id: "r" },
          management: { id: "m" },
          computeHosts: ["h"],
          image: { imageRef: "dockwall:1" },
        }),
    ).toThrow(/left\.cidr must be an IPv4 CIDR/);
    await new Promise((r) => setTimeout(r, 20));
    expect(registered.slice(before).filter((r) => r.name.startsWith("bad-"))).toHaveLength(0);
  });
});
