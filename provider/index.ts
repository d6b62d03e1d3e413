/** dockwall: a Docker-based firewall VNF in an OpenContrail / Tungsten Fabric service chain, as Pulumi resources. */
export { ConnectionArgs, ResolvedConnection, resolveConnection, ConfigError } from "./config";
export { DockerAggregate, DockerAggregateArgs } from "./resources/dockerAggregate";
export { DockwallImage, DockwallImageArgs, DockwallBuildArgs, DockerEndpoint } from "./resources/dockwallImage";
export { FirewallRule, FirewallAction, FirewallProtocol } from "./image/firewall";
export { buildContext, imageTag } from "./image/build";
export { ServiceTemplate, ServiceTemplateArgs } from "./resources/serviceTemplate";
export { ServiceInstance, ServiceInstanceArgs } from "./resources/serviceInstance";
export { ChainPolicy, ChainPolicyArgs, ChainRule, PortRange } from "./resources/chainPolicy";
export { ServiceChain, ServiceChainArgs, ChainNetworkArgs, NewNetworkArgs, ExistingNetworkArgs } from "./components/serviceChain";
export { ApiError } from "./clients/http";
export { SshConnection } from "./host/ssh";
