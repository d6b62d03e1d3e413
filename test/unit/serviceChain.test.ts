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

  it("serializes every provider as a small loader that finds the compiled provider and validates with it", async () => {
    const dynamic = registered.filter((r) => r.type.startsWith("pulumi-nodejs:dynamic/dockwall:"));
    expect(dynamic.length).toBeGreaterThanOrEqual(5);
    for (const r of dynamic) {
      const text = r.inputs.__provider;
      expect(typeof text, `${r.type} has a serialized provider`).toBe("string");
      expect(text).toContain("exports.handler");
      // The state carries where the code is, not the code: a few KB, not 80-130 KB per resource.
      expect(text.length, `${r.type} serialized size`).toBeLessThan(6000);
      expect(text).toMatch(/lib\/provider\/resources\/\w+\.js/);
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
      // A bad name is refused by the loaded provider, naming the property.
      if (r.type.endsWith("ServiceTemplate")) {
        const res = await provider.check({}, { name: "a:b", imageName: "x:y" });
        expect(res.failures.map((f: any) => f.property)).toContain("name");
      }
    }
  });

  it("the loader finds the provider by package name, then relative to the program's folder, then by absolute path; and says what it tried when none is there", async () => {
    const req = Module.createRequire(`${process.cwd()}/package.json`);
    const real = req("@pulumi/pulumi") as typeof pulumi;
    const { locate, providerLoader } = req("./lib/provider/resources/loader.js");
    const file = `${process.cwd()}/lib/provider/resources/serviceTemplate.js`;
    const where = locate(file, "serviceTemplateProvider", process.cwd());
    expect(where).toEqual({ packageSpecifier: "dockwall/lib/provider/resources/serviceTemplate.js", relativeToProgram: "lib/provider/resources/serviceTemplate.js", absolute: file, exportName: "serviceTemplateProvider" });
    // From the TypeScript sources, the compiled module is what runs.
    expect(locate(`${process.cwd()}/provider/resources/serviceTemplate.ts`, "serviceTemplateProvider", process.cwd()).absolute).toBe(file);
    const load = async (w: any) => {
      const sf = await real.runtime.serializeFunction(() => providerLoader(w), { allowSecrets: false });
      expect(sf.containsSecrets).toBe(false);
      const m = new Module("loader.js");
      m.filename = `${process.cwd()}/loader.js`;
      (m as any).paths = (Module as any)._nodeModulePaths(process.cwd());
      (m as any)._compile(sf.text, m.filename);
      return m.exports.handler();
    };
    // Only the relative path is right (a checkout at another path), or only the absolute one.
    for (const w of [{ ...where, packageSpecifier: "no-such-package/x.js", absolute: "/nowhere/x.js" }, { ...where, packageSpecifier: undefined, relativeToProgram: "nowhere/x.js" }]) {
      const p = await load(w);
      expect((await p.check({}, { name: "a:b", imageName: "x:y" })).failures.map((f: any) => f.property)).toContain("name");
    }
    const lost = await load({ packageSpecifier: "no-such-package/x.js", relativeToProgram: "nowhere/x.js", absolute: "/nowhere/x.js", exportName: "serviceTemplateProvider" });
    await expect(lost.check({}, {})).rejects.toThrow(/cannot find the provider code for this resource \(tried no-such-package\/x\.js, .*nowhere\/x\.js, \/nowhere\/x\.js from .*\)\. Run pulumi from the program's folder with dockwall installed/);
    const wrong = await load({ ...where, exportName: "nothingHere" });
    await expect(wrong.check({}, {})).rejects.toThrow(/has no export nothingHere/);
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
