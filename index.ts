/**
 * The service-chain stack (root Pulumi.yaml): the seed's chain — left, right and management
 * networks, the docker aggregate, the dockwall image in Glance, the service template, the service
 * instance and the chain policy — configured by stack config:
 *
 *   dockwall:firewallRules   rules for forwarded traffic baked into the built image, a JSON list of
 *                            { action, protocol?, ports?, source?, destination?, comment? } (default [])
 *   dockwall:defaultPolicy   verdict when no rule matches: accept (default) or drop
 *   dockwall:baseImage       base image of the build (default debian:bookworm-slim)
 *   dockwall:imageRef        a prebuilt local Docker image repo:tag to upload instead of building
 *   dockwall:computeHosts    nova-compute host names, a JSON list (default ["dw-compute-1"], the lab's)
 *   dockwall:aggregateName   the docker host aggregate's name (default "docker"; a second stack on the same
 *                            hosts needs its own aggregate, in the same zone)
 *   dockwall:policySequence  the policy's place among the networks' policies, JSON {"major": n, "minor": n}
 *                            (default {"major": 0, "minor": 0})
 *   dockwall:namePrefix      prefix of every name (default "dw")
 *   dockwall:leftCidr / rightCidr / managementCidr   subnets (default 10.0.0.0/24, 10.0.1.0/24, 172.16.0.0/24)
 *   dockwall:leftNetworkId / rightNetworkId / managementNetworkId   use existing networks instead
 *   dockwall:hostAccess      (secret) SSH access to the compute hosts to prepare, {"<host>": {host, port?, user?,
 *                            privateKey | agent, hostKey, jumpHost?, sudo?}}; hosts without an entry are taken as prepared
 *   dockwall:glanceHost      (secret) SSH access to the controller, to let Glance accept docker
 *   dockwall:restoreOnDelete put the hosts' original files back on destroy (default false)
 *
 * Connection settings come from dockwall:* / openstack:* config, OS_* variables or clouds.yaml
 * (see README "Configuration").
 */
import * as pulumi from "@pulumi/pulumi";
import { ChainNetworkArgs, FirewallRule, ServiceChain, SshConnection } from "./provider";

const cfg = new pulumi.Config("dockwall");
const prefix = cfg.get("namePrefix") ?? "dw";

function network(role: "left" | "right" | "management", defaultCidr: string): ChainNetworkArgs {
  const id = cfg.get(`${role}NetworkId`);
  return id ? { id } : { name: `${prefix}-${role}`, cidr: cfg.get(`${role}Cidr`) ?? defaultCidr };
}

const chain = new ServiceChain(prefix, {
  left: network("left", "10.0.0.0/24"),
  right: network("right", "10.0.1.0/24"),
  management: network("management", "172.16.0.0/24"),
  computeHosts: cfg.getObject<string[]>("computeHosts") ?? ["dw-compute-1"],
  aggregate: {
    name: cfg.get("aggregateName") ?? "docker",
    hostAccess: cfg.getSecretObject<Record<string, SshConnection>>("hostAccess"),
    glanceHost: cfg.getSecretObject<SshConnection>("glanceHost"),
    restoreOnDelete: cfg.getBoolean("restoreOnDelete") ?? false,
  },
  image: cfg.get("imageRef")
    ? { imageRef: cfg.require("imageRef") }
    : {
        build: {
          firewallRules: cfg.getObject<FirewallRule[]>("firewallRules") ?? [],
          defaultPolicy: (cfg.get("defaultPolicy") as "accept" | "drop" | undefined) ?? "accept",
          baseImage: cfg.get("baseImage") ?? "debian:bookworm-slim",
        },
      },
  policy: { sequence: cfg.getObject<{ major: number; minor: number }>("policySequence") ?? { major: 0, minor: 0 } },
});

export const networkIds = chain.networkIds;
export const availabilityZone = chain.availabilityZone;
export const imageName = chain.imageName;
export const imageId = chain.imageId;
export const templateFqName = chain.templateFqName;
export const instanceFqName = chain.instanceFqName;
export const instanceUuid = chain.instanceUuid;
export const serviceVmIds = chain.serviceVmIds;
export const policyFqName = chain.policyFqName;
export const policyUuid = chain.policyUuid;
