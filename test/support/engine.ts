// The offline Pulumi engine for tests and scripts.
//
// `ensureEngine()` runs test/support/engine.sh, which builds (once, into a cache outside the
// repository) or finds the `pulumi` CLI, the Node.js language host, the dynamic-provider plugin
// and the OpenStack provider plugin. `engineEnv()` gives the environment
// that runs that engine without any network access.
//
// PULUMI_HOME: `engineEnv()` points it at <cache root>/pulumi-home (next to the built engines,
// shared by every version). The engine writes its logs, plugin cache, `pulumi login`
// credentials and per-project stack selection there; with the default, all of that would go
// to ~/.pulumi (even `pulumi version` creates ~/.pulumi/logs). Sharing one home is safe for
// parallel tests because state lives in each test's own `file://` backend (PULUMI_BACKEND_URL,
// so no `pulumi login` is needed) and stack selection is keyed by project directory; it also
// lets a plugin installed once with `pulumi plugin install --file` serve every test.
import { execFileSync, spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

/**
 * The binaries engine.sh puts in the bin dir. The OpenStack plugin is not among them: it is
 * installed into PULUMI_HOME as resource plugin openstack 3.15.2 (on PATH it would be an
 * "ambient" plugin, announced with a warning on every run).
 */
export const ENGINE_BINARIES = ["pulumi", "pulumi-language-nodejs", "pulumi-resource-pulumi-nodejs"] as const;

/**
 * Repository root: the nearest ancestor of this module's directory (test/support, or
 * lib/test/support once compiled), else of the working directory, holding test/support/engine.sh.
 */
export function repoRoot(): string {
    for (const start of [__dirname, process.cwd()]) {
        for (let dir = path.resolve(start); ; dir = path.dirname(dir)) {
            if (fs.existsSync(path.join(dir, "test", "support", "engine.sh"))) {
                return dir;
            }
            if (path.dirname(dir) === dir) {
                break;
            }
        }
    }
    throw new Error(`test/support/engine.sh not found above ${__dirname} or ${process.cwd()}`);
}

export function engineScript(): string {
    return path.join(repoRoot(), "test", "support", "engine.sh");
}

/** Cache root of engine.sh: $DOCKWALL_ENGINE_DIR or ~/.cache/dockwall/engine. */
export function engineCacheRoot(): string {
    return process.env.DOCKWALL_ENGINE_DIR || path.join(os.homedir(), ".cache", "dockwall", "engine");
}

/** PULUMI_HOME used for every engine run (see the note at the top of this file). */
export function pulumiHome(): string {
    return path.join(engineCacheRoot(), "pulumi-home");
}

/** The @pulumi/pulumi version in package-lock.json (the version engine.sh aims for). */
export function wantedEngineVersion(): string {
    if (process.env.DOCKWALL_PULUMI_VERSION) {
        return process.env.DOCKWALL_PULUMI_VERSION.replace(/^v/, "");
    }
    const lock = JSON.parse(fs.readFileSync(path.join(repoRoot(), "package-lock.json"), "utf8"));
    const version: unknown = lock?.packages?.["node_modules/@pulumi/pulumi"]?.version;
    if (typeof version !== "string") {
        throw new Error("no @pulumi/pulumi version in package-lock.json");
    }
    return version;
}

/**
 * Where engine.sh keeps (or would keep) the engine for the wanted version, without building
 * anything. `version` is the release actually built: the wanted one, or the closest release the
 * Go module proxy served when engine.sh resolved it.
 */
export function cachedEngine(): { version: string; binDir: string; stampsDir: string } {
    const wanted = wantedEngineVersion();
    const resolvedFile = path.join(engineCacheRoot(), "resolved", wanted);
    const version = fs.existsSync(resolvedFile) ? fs.readFileSync(resolvedFile, "utf8").trim() : wanted;
    const versionDir = path.join(engineCacheRoot(), version);
    return { version, binDir: path.join(versionDir, "bin"), stampsDir: path.join(versionDir, "stamps") };
}

/** `pulumi version` of the CLI in binDir, without the leading "v". */
export function engineVersion(binDir: string): string {
    fs.mkdirSync(pulumiHome(), { recursive: true });
    const out = execFileSync(path.join(binDir, "pulumi"), ["version"], {
        encoding: "utf8",
        env: { ...process.env, PULUMI_HOME: pulumiHome(), PULUMI_SKIP_UPDATE_CHECK: "true" },
        stdio: ["ignore", "pipe", "pipe"],
    });
    return out.trim().replace(/^v/, "");
}

/**
 * Runs engine.sh (building the engine on first use: several minutes; later: a second) with its
 * progress on stderr, and returns the engine's bin dir and version.
 */
export async function ensureEngine(): Promise<{ binDir: string; version: string }> {
    const script = engineScript();
    const stdout = await new Promise<string>((resolve, reject) => {
        const child = spawn("bash", [script], { stdio: ["ignore", "pipe", "inherit"] });
        let out = "";
        child.stdout.setEncoding("utf8");
        child.stdout.on("data", (chunk: string) => {
            out += chunk;
        });
        child.on("error", reject);
        child.on("close", (code, signal) => {
            if (code === 0) {
                resolve(out);
            } else {
                reject(new Error(`${script} failed (${signal ?? `exit code ${code}`}); its progress output above says why`));
            }
        });
    });
    const lines = stdout.split("\n").map((l) => l.trim()).filter((l) => l !== "");
    const binDir = lines[lines.length - 1];
    if (!binDir || !fs.existsSync(path.join(binDir, "pulumi"))) {
        throw new Error(`${script} did not print a bin dir holding pulumi (stdout: ${JSON.stringify(stdout)})`);
    }
    return { binDir, version: engineVersion(binDir) };
}

/**
 * The environment (to lay over process.env, e.g. `{ ...process.env, ...engineEnv(...) }`, or
 * as LocalWorkspace `envVars`) that runs the engine in binDir offline, with its state in
 * stateDir (a local `file://` backend) and secrets encrypted with passphrase.
 *
 * PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK is not set: the built CLI reports its real version,
 * which the Automation API accepts. Note that `PulumiCommand.get()` runs `pulumi version` with
 * process.env only, so also set process.env.PULUMI_HOME = pulumiHome() before calling it if
 * nothing at all may be written to ~/.pulumi.
 */
export function engineEnv(binDir: string, stateDir: string, passphrase: string): Record<string, string> {
    const inherited = process.env.PATH ?? "";
    return {
        PATH: inherited ? `${binDir}${path.delimiter}${inherited}` : binDir,
        PULUMI_HOME: pulumiHome(),
        PULUMI_SKIP_UPDATE_CHECK: "true",
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
        PULUMI_BACKEND_URL: `file://${path.resolve(stateDir)}`,
        PULUMI_CONFIG_PASSPHRASE: passphrase,
    };
}
