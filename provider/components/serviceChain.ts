/**
 * `ServiceChain` (`dockwall:index:ServiceChain`): the whole seed chain in one declaration —
 * left, right and management networks (stock `@pulumi/openstack` Network + Subnet, or existing
 * network ids), the docker aggregate, the VNF image in Glance, the service template, the service
 * instance and the chain policy attached to left and right.
 *
 * Create order and destroy order both follow from the dependencies: the instance needs the
 * template, the subnets and the aggregate; the policy needs the instance; so destroy detaches and
 * deletes the policy first, then the instance (waiting for its VM to go), and only then the
 * template, image, aggregate and networks.
 */
import * as pulumi from "@pulumi/pulumi";
import * as openstack from "@pulumi/openstack";
import type { ConnectionArgs } from "../config";
import { DockerAggregate, DockerAggregateArgs } from "../resources/dockerAggregate";
import { DockwallImage, DockwallImageArgs } from "../resources/dockwallImage";
import { ServiceTemplate, ServiceTemplateArgs } from "../resources/serviceTemplate";
import { ServiceInstance } from "../resources/serviceInstance";
import { ChainPolicy, ChainRule } from "../resources/chainPolicy";

/** A network the component creates. */
export interface NewNetworkArgs {
  /** Neutron name. Default `<component name>-<role>`. */
  name?: pulumi.Input<string>;
  /** IPv4 CIDR of its subnet, e.g. "10.0.0.0/24". */
  cidr: pulumi.Input<string>;
  /** Gateway address (DHCP router). Default: the first address of the CIDR. */
  gatewayIp?: pulumi.Input<string>;
}

/** A network that already exists: its Neutron id (= Contrail virtual-network uuid). */
export interface ExistingNetworkArgs {
  id: pulumi.Input<string>;
}

export type ChainNetworkArgs = NewNetworkArgs | ExistingNetworkArgs;

export interface ServiceChainArgs {
  /** Connection for the dockwall resources (secret). The networks use the stock openstack provider's settings. */
  connection?: pulumi.Input<ConnectionArgs>;
  /** Contrail project name for the instance and the policy. Default: the credentials' project. */
  project?: pulumi.Input<string>;
  left: ChainNetworkArgs;
  right: ChainNetworkArgs;
  management: ChainNetworkArgs;
  /** nova-compute host names dedicated to docker. */
  computeHosts: pulumi.Input<pulumi.Input<string>[]>;
  /** Aggregate and availability zone (default name and zone "docker"), and the hosts to prepare over SSH. */
  aggregate?: Pick<DockerAggregateArgs, "name" | "availabilityZone" | "metadata" | "hostAccess" | "glanceHost" | "novaDocker" | "glanceConfigPath" | "restoreOnDelete">;
  /** The VNF image: built from `provider/image` (`build`) or a prebuilt local `repo:tag` (`imageRef`), saved into Glance. */
  image: Omit<DockwallImageArgs, "connection">;
  /** Service template settings. Default name `<component name>-template`. */
  template?: Omit<ServiceTemplateArgs, "connection" | "imageName" | "name"> & { name?: pulumi.Input<string> };
  /** Service instance settings. */
  instance?: { name?: pulumi.Input<string>; maxInstances?: pulumi.Input<number>; waitTimeoutSeconds?: pulumi.Input<number> };
  /** Chain policy settings. Default one rule allowing everything, both ways. */
  policy?: { name?: pulumi.Input<string>; rules?: pulumi.Input<pulumi.Input<ChainRule>[]>; sequence?: pulumi.Input<{ major: pulumi.Input<number>; minor: pulumi.Input<number> }> };
}

const ROLES = ["left", "right", "management"] as const;
type Role = (typeof ROLES)[number];

function isExisting(n: ChainNetworkArgs): n is ExistingNetworkArgs {
  return (n as ExistingNetworkArgs).id !== undefined;
}

/** Validate the plain parts of the arguments before any resource is declared. */
export function validateServiceChainArgs(args: ServiceChainArgs): string[] {
  const problems: string[] = [];
  for (const role of ROLES) {
    const n = args[role] as ChainNetworkArgs | undefined;
    if (!n) problems.push(`${role} is required: { cidr } for a new network or { id } for an existing one`);
    else if (isExisting(n) && (n as unknown as NewNetworkArgs).cidr !== undefined) problems.push(`${role}: give either id (existing network) or cidr (new network), not both`);
    else if (!isExisting(n) && typeof n.cidr === "string" && !/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/.test(n.cidr)) problems.push(`${role}.cidr must be an IPv4 CIDR such as 10.0.0.0/24; got "${n.cidr}"`);
    else if (!isExisting(n) && n.cidr === undefined) problems.push(`${role}.cidr is required for a new network`);
  }
  if (!args.image || (args.image.imageRef === undefined && args.image.build === undefined)) problems.push("image: give image.build (build the dockwall image, firewall rules baked in) or image.imageRef (a prebuilt local Docker image repo:tag)");
  else if (args.image.imageRef !== undefined && args.image.build !== undefined) problems.push("image: give either image.build or image.imageRef, not both");
  if (args.computeHosts === undefined) problems.push("computeHosts is required (nova-compute host names)");
  return problems;
}

export class ServiceChain extends pulumi.ComponentResource {
  declare readonly networkIds: pulumi.Output<Record<Role, string>>;
  declare readonly subnetIds: pulumi.Output<Partial<Record<Role, string>>>;
  declare readonly aggregateId: pulumi.Output<number>;
  declare readonly availabilityZone: pulumi.Output<string>;
  declare readonly imageName: pulumi.Output<string>;
  declare readonly imageId: pulumi.Output<string>;
  declare readonly templateUuid: pulumi.Output<string>;
  declare readonly templateFqName: pulumi.Output<string[]>;
  declare readonly instanceUuid: pulumi.Output<string>;
  declare readonly instanceFqName: pulumi.Output<string[]>;
  /** The service VMs (Nova server ids = Contrail virtual-machine uuids) svc-monitor booted. */
  declare readonly serviceVmIds: pulumi.Output<string[]>;
  declare readonly policyUuid: pulumi.Output<string>;
  declare readonly policyFqName: pulumi.Output<string[]>;

  readonly aggregate: DockerAggregate;
  readonly image: DockwallImage;
  readonly template: ServiceTemplate;
  readonly instance: ServiceInstance;
  readonly policy: ChainPolicy;

  constructor(name: string, args: ServiceChainArgs, opts?: pulumi.ComponentResourceOptions) {
    super("dockwall:index:ServiceChain", name, {}, opts);
    const problems = validateServiceChainArgs(args);
    if (problems.length) throw new Error(`ServiceChain ${name}: ${problems.join("; ")}`);

    const connection = args.connection ? pulumi.secret(args.connection) : undefined;
    const child = { parent: this };

    const networkIds = {} as Record<Role, pulumi.Output<string>>;
    const subnetIds: Partial<Record<Role, pulumi.Output<string>>> = {};
    const subnets: pulumi.Resource[] = [];
    for (const role of ROLES) {
      const spec = args[role];
      if (isExisting(spec)) {
        networkIds[role] = pulumi.output(spec.id);
        continue;
      }
      const net = new openstack.networking.Network(`${name}-${role}`, { name: spec.name ?? `${name}-${role}`, adminStateUp: true }, child);
      const subnet = new openstack.networking.Subnet(
        `${name}-${role}`,
        { name: pulumi.interpolate`${spec.name ?? `${name}-${role}`}-subnet`, networkId: net.id, cidr: spec.cidr, ipVersion: 4, enableDhcp: true, ...(spec.gatewayIp ? { gatewayIp: spec.gatewayIp } : {}) },
        child,
      );
      networkIds[role] = net.id;
      subnetIds[role] = subnet.id;
      subnets.push(subnet);
    }

    this.aggregate = new DockerAggregate(
      `${name}-aggregate`,
      { ...args.aggregate, connection, hosts: args.computeHosts },
      child,
    );
    // The image waits for the aggregate: preparing the hosts is also what lets Glance accept docker.
    this.image = new DockwallImage(`${name}-image`, { ...args.image, connection }, { ...child, dependsOn: [this.aggregate] });
    const { name: templateName, ...templateRest } = args.template ?? {};
    this.template = new ServiceTemplate(`${name}-template`, { ...templateRest, connection, name: templateName ?? `${name}-template`, imageName: this.image.name }, child);
    this.instance = new ServiceInstance(
      `${name}-instance`,
      {
        connection,
        name: args.instance?.name ?? `${name}-instance`,
        project: args.project,
        serviceTemplate: this.template.uuid,
        leftNetwork: networkIds.left,
        rightNetwork: networkIds.right,
        managementNetwork: networkIds.management,
        availabilityZone: this.aggregate.availabilityZone,
        maxInstances: args.instance?.maxInstances,
        waitTimeoutSeconds: args.instance?.waitTimeoutSeconds,
      },
      // svc-monitor needs the subnets to create the ports, and the hosts in the zone to boot.
      { ...child, dependsOn: [...subnets, this.aggregate] },
    );
    this.policy = new ChainPolicy(
      `${name}-policy`,
      {
        connection,
        name: args.policy?.name ?? `${name}-policy`,
        project: args.project,
        leftNetwork: networkIds.left,
        rightNetwork: networkIds.right,
        services: [this.instance.uuid],
        rules: args.policy?.rules,
        sequence: args.policy?.sequence,
      },
      child,
    );

    this.networkIds = pulumi.output(networkIds) as pulumi.Output<Record<Role, string>>;
    this.subnetIds = pulumi.output(subnetIds) as pulumi.Output<Partial<Record<Role, string>>>;
    this.aggregateId = this.aggregate.aggregateId;
    this.availabilityZone = this.aggregate.availabilityZone;
    this.imageName = this.image.name;
    this.imageId = this.image.glanceId;
    this.templateUuid = this.template.uuid;
    this.templateFqName = this.template.fqName;
    this.instanceUuid = this.instance.uuid;
    this.instanceFqName = this.instance.fqName;
    this.serviceVmIds = this.instance.virtualMachineIds;
    this.policyUuid = this.policy.uuid;
    this.policyFqName = this.policy.fqName;
    this.registerOutputs({
      networkIds: this.networkIds,
      subnetIds: this.subnetIds,
      aggregateId: this.aggregateId,
      availabilityZone: this.availabilityZone,
      imageName: this.imageName,
      imageId: this.imageId,
      templateUuid: this.templateUuid,
      templateFqName: this.templateFqName,
      instanceUuid: this.instanceUuid,
      instanceFqName: this.instanceFqName,
      serviceVmIds: this.serviceVmIds,
      policyUuid: this.policyUuid,
      policyFqName: this.policyFqName,
    });
  }
}
