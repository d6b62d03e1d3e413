// Fast checks of the offline Pulumi engine that test/support/engine.sh builds into its cache.
// This test never builds anything: CI runs engine.sh before the tests, and a developer runs
// it once by hand. A missing engine is a failure, not a skip.
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { describe, expect, it } from "vitest";
import { cachedEngine, engineCacheRoot, pulumiHome, repoRoot } from "./engine";

function engine(): { version: string; binDir: string; stampsDir: string } {
    const found = cachedEngine();
    if (!fs.existsSync(path.join(found.binDir, "pulumi"))) {
        // engine.sh builds nothing when a working pulumi is already on PATH.
        const onPath = (process.env.PATH ?? "")
            .split(path.delimiter)
            .find((dir) => dir !== "" && fs.existsSync(path.join(dir, "pulumi")));
        throw new Error(
            `No Pulumi engine ${found.version} in ${found.binDir} (cache root ${engineCacheRoot()}). ` +
                "Run test/support/engine.sh first (it builds the engine from Go modules, several minutes once; " +
                "CI runs it before the tests)." +
                (onPath
                    ? ` A pulumi is on PATH (${onPath}), so run it as DOCKWALL_ENGINE_FORCE_BUILD=1 test/support/engine.sh.`
                    : ""),
        );
    }
    return found;
}

/** The openstack plugin as engine.sh installs it (`pulumi plugin install resource openstack 3.15.2`). */
function openstackPlugin(): string {
    return path.join(pulumiHome(), "plugins", "resource-openstack-v3.15.2", "pulumi-resource-openstack");
}

/** The property names of `export interface <name> { ... }` in a .d.ts file. */
function sdkInterfaceKeys(file: string, name: string): string[] {
    const text = fs.readFileSync(file, "utf8");
    const start = text.indexOf(`export interface ${name} {`);
    if (start < 0) throw new Error(`no interface ${name} in ${file}`);
    const body = text.slice(start, text.indexOf("\n}", start));
    return [...body.matchAll(/^\s+(\w+)\??:/gm)].map((m) => m[1]);
}

function isExecutableFile(file: string): boolean {
    try {
        fs.accessSync(file, fs.constants.X_OK);
        return fs.statSync(file).isFile();
    } catch {
        return false;
    }
}

function versionOf(binary: string, args: string[]): string {
    return execFileSync(binary, args, {
        encoding: "utf8",
        env: { ...process.env, PULUMI_HOME: pulumiHome(), PULUMI_SKIP_UPDATE_CHECK: "true" },
        stdio: ["ignore", "pipe", "pipe"],
        timeout: 20_000,
    }).trim();
}

describe("offline Pulumi engine (test/support/engine.sh)", () => {
    it("pulumi version is the expected release", () => {
        const { version, binDir } = engine();
        expect(versionOf(path.join(binDir, "pulumi"), ["version"])).toBe(`v${version}`);
    });

    it("pulumi, the Node.js language host and the dynamic-provider plugin are executable", () => {
        const { binDir } = engine();
        for (const name of ["pulumi", "pulumi-language-nodejs", "pulumi-resource-pulumi-nodejs"]) {
            expect(isExecutableFile(path.join(binDir, name)), `${name} in ${binDir}`).toBe(true);
        }
    });

    it("the language host reports the same version as the CLI", () => {
        const { version, binDir } = engine();
        expect(versionOf(path.join(binDir, "pulumi-language-nodejs"), ["-version"])).toBe(`v${version}`);
    });

    it("resource plugin openstack 3.15.2 is installed where the engine looks (PULUMI_HOME), not on PATH", () => {
        const { binDir } = engine();
        expect(isExecutableFile(openstackPlugin()), `${openstackPlugin()}: run test/support/engine.sh`).toBe(true);
        // On PATH it would be an "ambient" plugin, announced with a warning on every run.
        expect(fs.existsSync(path.join(binDir, "pulumi-resource-openstack"))).toBe(false);
    });

    it("the openstack plugin serves @pulumi/openstack 3.15.2's Network and Subnet with the SDK's own input names, and its config keys", () => {
        const { binDir } = engine();
        const schema = JSON.parse(
            execFileSync(path.join(binDir, "pulumi"), ["package", "get-schema", openstackPlugin()], {
                encoding: "utf8",
                env: { ...process.env, PULUMI_HOME: pulumiHome(), PULUMI_SKIP_UPDATE_CHECK: "true" },
                maxBuffer: 64 << 20,
                timeout: 60_000,
            }),
        ) as { name: string; config: { variables: Record<string, unknown> }; resources: Record<string, { inputProperties: Record<string, unknown> }> };
        expect(schema.name).toBe("openstack");
        const sdk = path.join(repoRoot(), "node_modules", "@pulumi", "openstack");
        // Inputs of the SDK the programs compile against, against what the plugin accepts. The two
        // Subnet inputs missing are deprecated in 3.15.2 and gone from Terraform's provider v3:
        // allocationPoolsCollection (use allocationPools) and hostRoutes (its successor, SubnetRoute, is not mapped here).
        for (const [tok, file, iface, absent] of [
            ["openstack:networking/network:Network", "networking/network.d.ts", "NetworkArgs", []],
            ["openstack:networking/subnet:Subnet", "networking/subnet.d.ts", "SubnetArgs", ["allocationPoolsCollection", "hostRoutes"]],
        ] as const) {
            const wanted = sdkInterfaceKeys(path.join(sdk, file), iface);
            expect(wanted.length, `${iface} in ${file}`).toBeGreaterThan(10);
            const served = Object.keys(schema.resources[tok]?.inputProperties ?? {});
            expect(wanted.filter((k) => !served.includes(k)), `${tok} inputs the plugin does not take`).toEqual([...absent]);
        }
        // Every resource the SDK and the examples use; nothing else is claimed.
        expect(Object.keys(schema.resources).sort()).toEqual(["openstack:networking/network:Network", "openstack:networking/subnet:Subnet"]);
        const configVars = [...fs.readFileSync(path.join(sdk, "config", "vars.d.ts"), "utf8").matchAll(/export declare const (\w+)/g)].map((m) => m[1]);
        expect(configVars.filter((k) => !(k in schema.config.variables))).toEqual(["useOctavia"]); // gone from Terraform's provider v3
    });
});
