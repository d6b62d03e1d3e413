/**
 * The seam between the lab's control plane (test/lab/control-plane: the miniature Keystone, Nova,
 * Glance, Neutron and Contrail APIs) and its data plane (test/lab/data-plane: namespaces, bridges,
 * dnsmasq, the Docker engine).
 *
 * The control plane owns every API object. It calls a `DataPlane` whenever something that exists
 * on the wire changes: a Neutron network or port appears or goes, svc-monitor boots or deletes a
 * service VM through Nova, or the set of service chains (policies with `apply_service` attached to
 * both of their networks, whose instances have left/right addresses) changes. The default data
 * plane (`NullDataPlane`) does nothing, so the control plane runs alone in unit and provider tests.
 *
 * Errors thrown by `spawn` put the Nova server in ERROR with the error's message as its fault, as
 * nova-compute does when the virt driver raises.
 */

/** A Neutron network with its (single, IPv4) subnet, as the data plane needs it. */
export interface LabNetwork {
  /** Neutron network id == Contrail virtual-network uuid. */
  id: string;
  name: string;
  /** Contrail fq-name of the virtual network, e.g. ["default-domain", "admin", "left"]. */
  fqName: string[];
  /** CIDR of the first IPv4 subnet, e.g. "10.0.0.0/24"; null while the network has no subnet. */
  cidr: string | null;
  /** Gateway of that subnet (DHCP option 3), or null. */
  gatewayIp: string | null;
  /** Whether the subnet has DHCP enabled. */
  enableDhcp: boolean;
}

/** A Neutron port. */
export interface LabPort {
  id: string;
  networkId: string;
  macAddress: string;
  /** First fixed IPv4 address. */
  ipAddress: string;
  /** Nova server id, or "" for a port that belongs to no server. */
  deviceId: string;
  deviceOwner: string;
}

/** What nova-compute hands the virt driver (nova-docker) when it boots a server. */
export interface SpawnRequest {
  serverId: string;
  /** Nova server name, e.g. "fw-si_001"? svc-monitor names them `<si name>_<index>` style; see control plane. */
  serverName: string;
  /** nova-compute service host name the scheduler chose. */
  host: string;
  /** Glance image name (nova-docker uses it as the Docker `repo:tag`). */
  imageName: string;
  imageId: string;
  /** Glance image properties (e.g. `os_command_line`). */
  imageProperties: Record<string, string>;
  /** Opens the Glance image data (the `docker save` tarball) as a stream. */
  openImageData(): NodeJS.ReadableStream;
  /** The server's ports, in the order Nova was given them (template interface order). */
  ports: LabPort[];
  /** The network of each port (same index as `ports`). */
  networks: LabNetwork[];
}

/** One hop of a chain: a service VM and its left/right addresses. */
export interface ChainHop {
  serviceInstanceFqName: string[];
  serverId: string;
  leftIp: string;
  rightIp: string;
}

/**
 * A service chain the schema transformer would build: a policy rule with `apply_service`,
 * attached (with a sequence) to both its left and right networks, every instance ready.
 */
export interface ChainSpec {
  policyUuid: string;
  ruleIndex: number;
  leftNetworkId: string;
  rightNetworkId: string;
  /** "<>" or ">". */
  direction: string;
  protocol: string;
  hops: ChainHop[];
}

export interface DataPlane {
  networkChanged(net: LabNetwork): Promise<void>;
  networkDeleted(networkId: string): Promise<void>;
  portCreated(port: LabPort, net: LabNetwork): Promise<void>;
  portDeleted(port: LabPort): Promise<void>;
  /** Boot a server (nova-docker spawn). Resolve when the container runs with its ports plugged. */
  spawn(req: SpawnRequest): Promise<void>;
  /** Delete a server's container and unplug its ports. Must treat an unknown server as done. */
  destroy(serverId: string): Promise<void>;
  /** The complete, current set of chains (not a delta). */
  chainsChanged(chains: ChainSpec[]): Promise<void>;
}

export class NullDataPlane implements DataPlane {
  async networkChanged(): Promise<void> {}
  async networkDeleted(): Promise<void> {}
  async portCreated(): Promise<void> {}
  async portDeleted(): Promise<void> {}
  async spawn(): Promise<void> {}
  async destroy(): Promise<void> {}
  async chainsChanged(): Promise<void> {}
}
