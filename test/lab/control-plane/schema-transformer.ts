/**
 * The schema transformer's service-chain view: a policy rule with `apply_service`, attached with a
 * sequence to both its source and destination networks, whose instances all have a running VM with
 * left/right interfaces and addresses, is a chain. The complete list goes to the data plane
 * whenever it changes.
 */
import type { ChainHop, ChainSpec } from "../contracts";
import type { CObject, ConfigDb } from "./contrail/db";
import type { ChangeEvent, LabBus } from "./core";
import type { DataPlaneBridge } from "./dataplane-bridge";
import type { Compute } from "./nova/compute";
import { isObject } from "./util/ids";
import { SerialQueue } from "./util/queue";

export class SchemaTransformer {
  private last = JSON.stringify([]);
  private scheduled = false;
  private readonly queue: SerialQueue;
  private readonly listener = (e: ChangeEvent) => this.onChange(e);

  constructor(
    private readonly db: ConfigDb,
    private readonly compute: Compute,
    private readonly dataPlane: DataPlaneBridge,
    private readonly bus: LabBus,
  ) {
    this.queue = new SerialQueue((err) => bus.log("schema-transformer", `unexpected error: ${String(err)}`));
  }

  start(): void {
    this.bus.events.on("change", this.listener);
  }

  stop(): void {
    this.bus.events.off("change", this.listener);
    this.queue.close();
  }

  get busy(): boolean {
    return this.scheduled || this.queue.busy;
  }

  idle(): Promise<void> {
    return this.queue.idle();
  }

  private onChange(e: ChangeEvent): void {
    if (e.service !== "contrail" && !(e.service === "nova" && e.type === "server")) return;
    if (this.scheduled || this.bus.stopped) return;
    this.scheduled = true;
    this.queue.post(async () => {
      this.scheduled = false;
      const chains = this.chains();
      const text = JSON.stringify(chains);
      if (text === this.last) return;
      this.last = text;
      this.bus.log("schema-transformer", `service chains: ${chains.length}`);
      await this.dataPlane.chainsChanged(chains);
    });
  }

  /** Every chain that is complete right now, in a stable order. */
  chains(): ChainSpec[] {
    const out: ChainSpec[] = [];
    const policies = this.db.list("network-policy").sort((a, b) => a.uuid.localeCompare(b.uuid));
    for (const policy of policies) {
      const entries = policy.props.network_policy_entries;
      const rules = isObject(entries) && Array.isArray(entries.policy_rule) ? entries.policy_rule : [];
      rules.forEach((rule, ruleIndex) => {
        if (!isObject(rule) || !isObject(rule.action_list)) return;
        const services = rule.action_list.apply_service;
        if (!Array.isArray(services) || services.length === 0) return;
        const direction = String(rule.direction ?? "<>");
        for (const left of this.networks(rule.src_addresses)) {
          for (const right of this.networks(rule.dst_addresses)) {
            if (left.uuid === right.uuid) continue;
            if (!this.attached(left, policy) || !this.attached(right, policy)) continue;
            const hops = this.hops(services.map(String), direction);
            if (!hops) continue;
            out.push({
              policyUuid: policy.uuid,
              ruleIndex,
              leftNetworkId: left.uuid,
              rightNetworkId: right.uuid,
              direction,
              protocol: String(rule.protocol ?? "any"),
              hops,
            });
          }
        }
      });
    }
    return out;
  }

  private networks(addresses: unknown): CObject[] {
    if (!Array.isArray(addresses)) return [];
    const out: CObject[] = [];
    for (const a of addresses) {
      const name = isObject(a) ? a.virtual_network : undefined;
      if (typeof name !== "string" || name === "any" || name === "local") continue;
      const vn = this.db.byFqName("virtual-network", name.split(":"));
      if (vn) out.push(vn);
    }
    return out;
  }

  /** A policy ref without `attr.sequence` is skipped, as the 2.x transformer does. */
  private attached(vn: CObject, policy: CObject): boolean {
    return (vn.refs["network-policy"] ?? []).some((l) => l.uuid === policy.uuid && isObject(l.attr) && isObject(l.attr.sequence));
  }

  /** The running VMs of every listed SI, or null when one SI is not ready. */
  private hops(services: string[], direction: string): ChainHop[] | null {
    const hops: ChainHop[] = [];
    for (const name of services) {
      const si = this.db.byFqName("service-instance", name.split(":"));
      if (!si) return null;
      const needRight = direction === "<>" && this.mode(si) !== "in-network-nat";
      const ready: Array<ChainHop & { order: string }> = [];
      for (const { from: vm } of this.db.backRefs(si)) {
        if (vm.type !== "virtual-machine") continue;
        const server = this.compute.servers.get(vm.uuid);
        if (!server || server.status !== "ACTIVE") continue;
        const leftIp = this.addressOf(vm, "left");
        const rightIp = this.addressOf(vm, "right");
        if (!leftIp || (needRight && !rightIp)) continue;
        ready.push({ serviceInstanceFqName: [...si.fq_name], serverId: vm.uuid, leftIp, rightIp: rightIp ?? "", order: server.name });
      }
      if (ready.length === 0) return null;
      ready.sort((a, b) => a.order.localeCompare(b.order));
      for (const { order: _order, ...hop } of ready) hops.push(hop);
    }
    return hops;
  }

  private mode(si: CObject): string {
    const link = (si.refs["service-template"] ?? [])[0];
    const st = link ? this.db.get(link.uuid) : undefined;
    const props = st && isObject(st.props.service_template_properties) ? st.props.service_template_properties : {};
    return String(props.service_mode ?? "transparent");
  }

  private addressOf(vm: CObject, type: string): string | null {
    for (const { from: vmi } of this.db.backRefs(vm)) {
      if (vmi.type !== "virtual-machine-interface") continue;
      const props = vmi.props.virtual_machine_interface_properties;
      if (!isObject(props) || props.service_interface_type !== type) continue;
      for (const { from: iip } of this.db.backRefs(vmi)) {
        if (iip.type === "instance-ip" && typeof iip.props.instance_ip_address === "string") return iip.props.instance_ip_address;
      }
    }
    return null;
  }
}
