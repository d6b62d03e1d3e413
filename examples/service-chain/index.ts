/**
 * The seed's chain, spelled out: three networks, the docker aggregate, the VNF image, template,
 * instance and chain policy — what the root Pulumi.yaml stack does, as a standalone example of
 * using the `ServiceChain` component.
 */
import * as pulumi from "@pulumi/pulumi";
import { ServiceChain } from "../../provider";

const cfg = new pulumi.Config("dockwall");

const chain = new ServiceChain("seed", {
  left: { name: "left", cidr: "10.0.0.0/24" },
  right: { name: "right", cidr: "10.0.1.0/24" },
  management: { name: "mgmt", cidr: "172.16.0.0/24" },
  computeHosts: cfg.getObject<string[]>("computeHosts") ?? ["computedocker"],
  // The dockwall image, built with the seed's behaviour (forward everything) plus one rule.
  image: { build: { firewallRules: [{ action: "drop", protocol: "tcp", ports: [23], comment: "no telnet through the chain" }] }, visibility: "public" },
  template: { serviceMode: "in-network", serviceType: "firewall" },
  instance: { maxInstances: 1 },
});

export const instance = chain.instanceFqName;
export const policy = chain.policyFqName;
export const networks = chain.networkIds;
