/**
 * Composition with `@pulumi/docker`: the dockwall image is built by the stock `docker.Image`
 * resource (for instance because your pipeline already builds and scans images that way), and
 * `DockwallImage` only saves that prebuilt `repo:tag` into Glance.
 *
 * The build context is the same one `DockwallImage`'s own `build` uses — `provider/image` plus the
 * rendered firewall — written to a folder named after its digest, and the tag is content-unique
 * (`dockwall:<digest12>`), because nova-docker boots by name and a host that already has a name
 * never loads it again.
 *
 * Needs the `pulumi-resource-docker` plugin (`pulumi plugin install resource docker 4.x`, or the
 * version @pulumi/docker 5.2.0 asks for) — the lab's CI cannot build that plugin offline, so this
 * example is type-checked there but not run; `DockwallImage({ build })` is what the tests run.
 */
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";
import { buildContext, imageTag, DockwallImage, FirewallRule, ServiceChain } from "../../provider";

const cfg = new pulumi.Config("dockwall");
const rules = cfg.getObject<FirewallRule[]>("firewallRules") ?? [{ action: "drop", protocol: "tcp", ports: [23], comment: "no telnet" }];

// Write the context (image files + rendered firewall) where docker.Image can read it.
const ctx = buildContext(rules);
const dir = path.join(process.cwd(), ".dockwall-build", ctx.digest.slice(0, 12));
for (const [file, content] of ctx.files) {
  fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
  fs.writeFileSync(path.join(dir, file), content, { mode: file.startsWith("dockwall-") ? 0o755 : 0o644 });
}

const built = new docker.Image("dockwall", {
  imageName: imageTag(ctx), // dockwall:<digest12>
  build: { context: dir, args: { BASE_IMAGE: "debian:bookworm-slim" }, network: "host" },
  skipPush: true, // nova-docker loads it from Glance, not from a registry
});

// Either on its own …
export const image = new DockwallImage("dockwall", { imageRef: built.imageName }, { dependsOn: [built] });

// … or inside the component, which then uses the prebuilt image instead of building one.
const chain = new ServiceChain("prebuilt", {
  left: { id: cfg.require("leftNetworkId") },
  right: { id: cfg.require("rightNetworkId") },
  management: { id: cfg.require("managementNetworkId") },
  computeHosts: cfg.getObject<string[]>("computeHosts") ?? ["dw-compute-1"],
  image: { imageRef: built.imageName },
}, { dependsOn: [built] });

export const glanceImage = image.name;
export const instance = chain.instanceFqName;
