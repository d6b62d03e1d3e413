/**
 * Another stack consuming `ServiceChain`: it owns its own networks (a "web" tier on the left, an
 * "uplink" on the right) created with the stock `@pulumi/openstack` provider, and passes their ids
 * to the component, which only adds the chain around them. Names are prefixed so this stack can run
 * beside the service-chain stack on the same cloud.
 *
 * Where the networks already exist, give their ids instead:
 * `dockwall:existingNetworks` = {"web": id, "uplink": id, "management": id}.
 */
import * as pulumi from "@pulumi/pulumi";
import * as openstack from "@pulumi/openstack";
import { ServiceChain } from "../../provider";

const cfg = new pulumi.Config("dockwall");
const prefix = cfg.get("namePrefix") ?? "reuse";

const existing = cfg.getObject<{ web: string; uplink: string; management: string }>("existingNetworks");
const subnets: openstack.networking.Subnet[] = [];
function net(role: string, cidr: string): pulumi.Output<string> {
  const n = new openstack.networking.Network(`${prefix}-${role}`, { name: `${prefix}-${role}` });
  subnets.push(new openstack.networking.Subnet(`${prefix}-${role}`, { networkId: n.id, cidr, ipVersion: 4 }));
  return n.id;
}

const web = existing ? pulumi.output(existing.web) : net("web", cfg.get("webCidr") ?? "10.10.0.0/24");
const uplink = existing ? pulumi.output(existing.uplink) : net("uplink", cfg.get("uplinkCidr") ?? "10.10.1.0/24");

const chain = new ServiceChain(
  prefix,
  {
    left: { id: web },
    right: { id: uplink },
    management: existing ? { id: existing.management } : { name: `${prefix}-mgmt`, cidr: cfg.get("managementCidr") ?? "172.16.10.0/24" },
    computeHosts: cfg.getObject<string[]>("computeHosts") ?? ["dw-compute-1"],
    // The zone may already exist in the other stack: this stack gets its own aggregate in the same zone.
    aggregate: { name: `${prefix}-docker`, availabilityZone: cfg.get("availabilityZone") ?? "docker" },
    // A web tier's firewall: HTTP, HTTPS and ping pass, everything else is dropped.
    image: {
      build: {
        firewallRules: [
          { action: "accept", protocol: "tcp", ports: [80, 443], comment: "web" },
          { action: "accept", protocol: "icmp", comment: "ping" },
        ],
        defaultPolicy: "drop",
      },
    },
    policy: { rules: [{ direction: "<>", protocol: "any" }] },
  },
  // Networks made outside the component: svc-monitor needs their subnets before the instance.
  { dependsOn: subnets },
);

export const instance = chain.instanceFqName;
export const policy = chain.policyFqName;
export const serviceVmIds = chain.serviceVmIds;
export const imageName = chain.imageName;
export const networkIds = chain.networkIds;
