// A network and a subnet through @pulumi/openstack (see Pulumi.yaml); connection from openstack:* config.
const openstack = require("@pulumi/openstack");

const net = new openstack.networking.Network("dw-net-probe", { name: "dw-net-probe", adminStateUp: true });
const subnet = new openstack.networking.Subnet("dw-net-probe", { name: "dw-net-probe-subnet", networkId: net.id, cidr: "10.77.0.0/24", ipVersion: 4 });

exports.networkId = net.id;
exports.gatewayIp = subnet.gatewayIp;
