/**
 * Another stack consuming `ServiceChain`: it owns its own networks (a "web" tier on the left, an
 * "uplink" on the right) created with the stock `@pulumi/openstack` provider, and passes their ids
 * to the component, which only adds the chain around them. Names are prefixed so this stack can run
 * beside the service-chain stack on the same cloud.
 */
import * as pulumi from "@pulumi/pulumi";
import * as openstack from "@pulumi/openstack";
import { ServiceChain } from "../../provider";

const cfg = new pulumi.Config("dockwall");
const prefix = cfg.get("namePrefix") ?? "reuse";

const subnets: openstack.networking.Subnet[] = [];
function net(role: string, cidr: string) {
  const n = new openstack.networking.Network(`${prefix}-${role}`, { name: `${prefix}-${role}` });
  subnets.push(new openstack.networking.Subnet(`${prefix}-${role}`, { networkId: n.id, cidr, ipVersion: 4 }));
  return n;
}

const web = net("web", cfg.get("webCidr") ?? "10.10.0.0/24");
const uplink = net("uplink", cfg.get("uplinkCidr") ?? "10.10.1.0/24");

const chain = new ServiceChain(prefix, {
  left: { id: web.id },
  right: { id: uplink.id },
  management: { name: `${prefix}-mgmt`, cidr: cfg.get("managementCidr") ?? "172.16.10.0/24" },
  computeHosts: cfg.getObject<string[]>("computeHosts") ?? ["dw-compute-1"],
  // The aggregate's zone may already exist in the other stack: give this one its own aggregate name.
  aggregate: { name: `${prefix}-docker`, availabilityZone: cfg.get("availabilityZone") ?? "docker" },
  image: { imageRef: cfg.require("imageRef") },
  policy: { rules: [{ direction: "<>", protocol: "tcp", dstPorts: [{ start: 80, end: 80 }, { start: 443, end: 443 }] }] },
  // The networks were made outside the component: svc-monitor needs their subnets before the instance.
}, { dependsOn: subnets });

export const instance = chain.instanceFqName;
export const policy = chain.policyFqName;
