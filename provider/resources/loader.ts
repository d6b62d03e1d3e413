/**
 * What Pulumi stores as each dynamic resource's provider: a small loader, not the provider's code.
 *
 * Pulumi serializes a dynamic resource's provider (with everything it captures) into the resource's
 * inputs and outputs, and the engine rewrites the whole state file after every step. Serialized
 * whole, the five dockwall providers weighed 80–130 KB each, twice per resource: about 1 MB of
 * state per chain, rewritten after every step, so a stack of 10 chains spent most of its
 * `destroy` writing checkpoints (measured: 21.8 s, against 4.6 s with checkpoints skipped).
 *
 * The loader carries only where the provider's module is and loads it in the provider process,
 * like a provider plugin is found by name and version. It tries, in order:
 *   1. the package by name (`dockwall/lib/provider/resources/…`), found from the program's folder:
 *      the usual case, dockwall installed in the program's node_modules;
 *   2. the same file relative to the program's folder (a checkout at another path: a CI clone);
 *   3. the absolute path the program had when the resource was last written.
 * The code that runs is the one installed now, as with any provider plugin.
 */
import * as fs from "fs";
import * as path from "path";
import type * as pulumi from "@pulumi/pulumi";

/** Where a provider module can be found, from the program's side. */
export interface ProviderLocation {
  /** `<package>/<path inside it>`, resolvable from a program that has the package installed. */
  packageSpecifier?: string;
  /** The module relative to the program's folder. */
  relativeToProgram: string;
  absolute: string;
  /** The export holding the provider object. */
  exportName: string;
}

/** Locate `file` (a compiled provider module) for a program running in `programDir`. */
export function locate(file: string, exportName: string, programDir: string = process.cwd()): ProviderLocation {
  let packageSpecifier: string | undefined;
  for (let dir = path.dirname(file); path.dirname(dir) !== dir; dir = path.dirname(dir)) {
    const pj = path.join(dir, "package.json");
    if (!fs.existsSync(pj)) continue;
    // Loaded from the TypeScript sources (ts-node, tests): the provider process runs the compiled module.
    const compiled = path.join(dir, "lib", path.relative(dir, file)).replace(/\.ts$/, ".js");
    if (file.endsWith(".ts") && fs.existsSync(compiled)) file = compiled;
    const name = (JSON.parse(fs.readFileSync(pj, "utf8")) as { name?: string }).name;
    if (name) packageSpecifier = `${name}/${path.relative(dir, file).split(path.sep).join("/")}`;
    break;
  }
  return { packageSpecifier, relativeToProgram: path.relative(programDir, file).split(path.sep).join("/"), absolute: file, exportName };
}

/**
 * The provider Pulumi serializes: every method loads the real provider (once per provider process)
 * and calls it. Only strings and this small function are captured.
 */
export function providerLoader(where: ProviderLocation): pulumi.dynamic.ResourceProvider {
  const loaded: { provider?: pulumi.dynamic.ResourceProvider } = {};
  const load = (): any => {
    if (loaded.provider) return loaded.provider;
    const nodePath = require("path") as typeof import("path");
    const tried: string[] = [];
    const candidates = [where.packageSpecifier, nodePath.resolve(process.cwd(), where.relativeToProgram), where.absolute].filter((c): c is string => !!c);
    for (const spec of candidates) {
      let resolved: string;
      try {
        resolved = require.resolve(spec, { paths: [process.cwd()] });
      } catch {
        tried.push(spec);
        continue;
      }
      const provider = require(resolved)[where.exportName];
      if (!provider) throw new Error(`dockwall: ${resolved} has no export ${where.exportName}; the installed dockwall does not match this stack's resources`);
      loaded.provider = provider;
      return provider;
    }
    throw new Error(`dockwall: cannot find the provider code for this resource (tried ${tried.join(", ")} from ${process.cwd()}). Run pulumi from the program's folder with dockwall installed (npm install) and built.`);
  };
  return {
    configure: async (req) => {
      const p = load();
      if (p.configure) await p.configure(req);
    },
    check: async (olds, news) => load().check(olds, news),
    diff: async (id, olds, news) => load().diff(id, olds, news),
    create: async (inputs) => load().create(inputs),
    read: async (id, props) => load().read(id, props),
    update: async (id, olds, news) => load().update(id, olds, news),
    delete: async (id, props) => load().delete(id, props),
  };
}
