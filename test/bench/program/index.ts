/**
 * `npm run bench`'s program: `dockwall:chains` service chains in one stack over existing networks
 * (`dockwall:networks`, a list of {left, right, management} ids). Each chain has its own aggregate
 * name (same "docker" zone) and its own firewall rule, so its own content-unique image.
 */
import * as pulumi from "@pulumi/pulumi";
import { ServiceChain } from "../../../provider";

const cfg = new pulumi.Config("dockwall");
const nets = cfg.requireObject<{ left: string; right: string; management: string }[]>("networks");

export const instances = nets.map((n, i) => {
  const chain = new ServiceChain(`bench-${i}`, {
    left: { id: n.left },
    right: { id: n.right },
    management: { id: n.management },
    computeHosts: ["dw-compute-1"],
    aggregate: { name: `bench-${i}-docker` },
    image: { build: { firewallRules: [{ action: "drop", protocol: "tcp", ports: [9000 + i], comment: `bench chain ${i}` }] } },
  });
  return chain.instanceFqName;
});
