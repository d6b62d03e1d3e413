/**
 * svc-monitor (2.x, v1 templates): after a service-instance is created or updated it launches
 * `scale_out.max_instances` service VMs through Neutron and Nova, asynchronously and one SI at a
 * time; on scale-down or SI delete it tears them down. Problems are only logged, as in Contrail.
 */
import type { ConfigDb, CObject } from "./contrail/db";
import type { ContrailMirror } from "./contrail/mirror";
import type { ChangeEvent, LabBus } from "./core";
import type { ImageStore } from "./glance/images";
import type { Identity, User } from "./keystone/identity";
import type { Networking } from "./neutron/networking";
import type { Compute } from "./nova/compute";
import { isObject, undashUuid } from "./util/ids";
import { SerialQueue } from "./util/queue";

interface Instance {
  index: number;
  serverId: string;
  portIds: string[];
}

interface LaunchPlan {
  si: CObject;
  projectId: string;
  networkIds: string[];
  interfaceTypes: string[];
  imageId: string;
  flavorId: string;
  zone: string | undefined;
}

export interface SvcMonitorDeps {
  bus: LabBus;
  db: ConfigDb;
  mirror: ContrailMirror;
  identity: Identity;
  glance: ImageStore;
  neutron: Networking;
  compute: Compute;
  /** The user svc-monitor acts as (the cloud admin). */
  admin: User;
  delayMs: number;
}

const LEGACY_FIELDS: Record<string, string> = {
  management: "management_virtual_network",
  left: "left_virtual_network",
  right: "right_virtual_network",
};

export class SvcMonitor {
  private readonly queue: SerialQueue;
  private readonly instances = new Map<string, Map<number, Instance>>();
  /** SIs waiting for a virtual network to appear (config_pending). */
  private readonly pending = new Set<string>();
  private readonly scheduled = new Set<string>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly listener = (e: ChangeEvent) => this.onChange(e);

  constructor(private readonly d: SvcMonitorDeps) {
    this.queue = new SerialQueue((err) => this.log(`unexpected error: ${err instanceof Error ? err.stack ?? err.message : String(err)}`));
  }

  start(): void {
    this.d.bus.events.on("change", this.listener);
  }

  stop(): void {
    this.d.bus.events.off("change", this.listener);
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.queue.close();
  }

  /** Resolves when no SI is scheduled or being worked on. */
  async idle(): Promise<void> {
    while (this.timers.size > 0 || this.queue.busy) {
      await this.queue.idle();
      if (this.timers.size > 0) await new Promise((r) => setTimeout(r, this.d.delayMs));
    }
  }

  get busy(): boolean {
    return this.timers.size > 0 || this.queue.busy;
  }

  /** The service VMs (Nova server ids) svc-monitor manages for an SI. */
  serversOf(siUuid: string): string[] {
    return [...(this.instances.get(siUuid)?.values() ?? [])].map((i) => i.serverId);
  }

  private onChange(e: ChangeEvent): void {
    if (e.service !== "contrail") return;
    if (e.type === "service-instance") this.schedule(e.id);
    else if (e.type === "virtual-network" && e.op !== "delete") for (const si of this.pending) this.schedule(si);
  }

  private schedule(siUuid: string): void {
    if (this.scheduled.has(siUuid) || this.d.bus.stopped) return;
    this.scheduled.add(siUuid);
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.queue.post(async () => {
        this.scheduled.delete(siUuid);
        await this.reconcile(siUuid);
      });
    }, this.d.delayMs);
    this.timers.add(timer);
  }

  private log(message: string): void {
    this.d.bus.log("svc-monitor", message);
  }

  private async reconcile(siUuid: string): Promise<void> {
    const si = this.d.db.get(siUuid);
    const live = si && si.type === "service-instance" ? si : undefined;
    const desired = live ? desiredCount(live) : 0;
    const instances = this.instances.get(siUuid) ?? new Map<number, Instance>();
    this.instances.set(siUuid, instances);

    const surplus = [...instances.values()].filter((i) => i.index >= desired).sort((a, b) => b.index - a.index);
    for (const instance of surplus) {
      await this.teardown(instance);
      instances.delete(instance.index);
    }
    if (live && desired > instances.size) {
      const plan = this.plan(live);
      if (plan) {
        for (let index = 0; index < desired; index++) {
          if (instances.has(index)) continue;
          const instance = await this.launch(plan, index);
          if (!instance) break;
          instances.set(index, instance);
        }
      }
    }
    if (instances.size === 0) this.instances.delete(siUuid);
    if (!live) this.pending.delete(siUuid);
  }

  /** Validates template, networks, image and flavor; null (with a log line) when it cannot launch. */
  private plan(si: CObject): LaunchPlan | null {
    const name = si.fq_name.join(":");
    const stLink = (si.refs["service-template"] ?? [])[0];
    const st = stLink ? this.d.db.get(stLink.uuid) : undefined;
    if (!st) {
      this.log(`${name}: no service template, nothing launched`);
      return null;
    }
    const stProps = isObject(st.props.service_template_properties) ? st.props.service_template_properties : {};
    const virtualization = stProps.service_virtualization_type ?? "virtual-machine";
    if (virtualization !== "virtual-machine") {
      this.log(`${name}: service_virtualization_type ${String(virtualization)} is not launched by the lab`);
      return null;
    }
    const interfaceTypes = (Array.isArray(stProps.interface_type) ? stProps.interface_type : []).map((t) =>
      isObject(t) ? String(t.service_interface_type) : "other",
    );
    const siProps = isObject(si.props.service_instance_properties) ? si.props.service_instance_properties : {};
    let interfaceList = Array.isArray(siProps.interface_list) ? siProps.interface_list : undefined;
    if (interfaceList === undefined) {
      interfaceList = interfaceTypes.map((t) => ({ virtual_network: (siProps[LEGACY_FIELDS[t] ?? ""] as string | undefined) ?? "" }));
      this.log(`${name}: no interface_list, rebuilt from the legacy *_virtual_network fields and written back`);
      this.d.db.update("service-instance", si.uuid, { service_instance_properties: { ...siProps, interface_list: interfaceList } });
    }
    if (interfaceList.length !== interfaceTypes.length) {
      this.log(`${name}: interface_list has ${interfaceList.length} entries, the template ${interfaceTypes.length}; nothing launched`);
      return null;
    }
    const networkIds: string[] = [];
    for (const entry of interfaceList) {
      const fq = isObject(entry) && typeof entry.virtual_network === "string" ? entry.virtual_network : "";
      const vn = fq === "" ? undefined : this.d.db.byFqName("virtual-network", fq.split(":"));
      if (!vn) {
        this.pending.add(si.uuid);
        this.log(`${name}: virtual network ${fq === "" ? "(auto)" : fq} not found, instance stays config_pending`);
        return null;
      }
      if (!this.d.neutron.networks.has(vn.uuid)) {
        this.log(`${name}: virtual network ${fq} was not created through Neutron; the lab creates service ports through Neutron only`);
        return null;
      }
      networkIds.push(vn.uuid);
    }
    this.pending.delete(si.uuid);

    const imageName = String(stProps.image_name ?? "");
    const images = this.d.glance.findByName(imageName).filter((i) => i.status === "active");
    if (images.length !== 1) {
      this.log(`${name}: Image not found ${imageName}${images.length > 1 ? " (name is not unique)" : ""}`);
      return null;
    }
    const flavor = stProps.flavor ? this.d.compute.flavor(String(stProps.flavor)) : this.d.compute.flavor("m1.medium");
    if (!flavor) {
      this.log(`${name}: Flavor not found ${String(stProps.flavor)}`);
      return null;
    }
    const projectId = si.parent_uuid ? undashUuid(si.parent_uuid) : "";
    if (!this.d.identity.projects.has(projectId) || this.d.identity.roleIdsOn(this.d.admin.id, projectId).length === 0) {
      this.log(`${name}: svc-monitor's user ${this.d.admin.name} has no role in the SI's project; nothing launched`);
      return null;
    }
    const zone = stProps.availability_zone_enable === true && typeof siProps.availability_zone === "string" ? siProps.availability_zone : undefined;
    return { si, projectId, networkIds, interfaceTypes, imageId: images[0].id, flavorId: flavor.id, zone };
  }

  private async launch(plan: LaunchPlan, index: number): Promise<Instance | null> {
    const { si } = plan;
    const siName = si.fq_name[si.fq_name.length - 1];
    const instanceName = `${si.fq_name.slice(0, -1).join("__")}__${siName}__${index + 1}`;
    const portIds: string[] = [];
    try {
      for (let i = 0; i < plan.networkIds.length; i++) {
        const vmiName = `${instanceName}__${plan.interfaceTypes[i]}__${i + 1}`;
        const port = await this.d.neutron.createPort(
          { network_id: plan.networkIds[i], tenant_id: plan.projectId, name: vmiName },
          { vmiName, serviceInterfaceType: plan.interfaceTypes[i] },
        );
        portIds.push(port.id);
      }
      const server = await this.d.compute.createServer({
        name: `${siName}_${String(index + 1).padStart(3, "0")}`,
        tenantId: plan.projectId,
        userId: this.d.admin.id,
        imageId: plan.imageId,
        flavorId: plan.flavorId,
        availabilityZone: plan.zone,
        networks: portIds.map((port) => ({ port })),
        isAdmin: true,
      });
      const vm = this.d.mirror.virtualMachine(server.id);
      this.d.db.addRef(vm, si, null);
      this.log(`${si.fq_name.join(":")}: launched ${server.name} (${server.id})`);
      return { index, serverId: server.id, portIds };
    } catch (err) {
      this.log(`${si.fq_name.join(":")}: launch of instance ${index + 1} failed: ${err instanceof Error ? err.message : String(err)}`);
      for (const id of portIds) if (this.d.neutron.ports.has(id)) await this.d.neutron.deletePort(id);
      return null;
    }
  }

  private async teardown(instance: Instance): Promise<void> {
    if (this.d.compute.servers.has(instance.serverId)) await this.d.compute.deleteServer(instance.serverId);
    for (const id of instance.portIds) if (this.d.neutron.ports.has(id)) await this.d.neutron.deletePort(id);
    const vm = this.d.db.get(instance.serverId);
    if (vm && vm.type === "virtual-machine") this.d.db.purge(vm);
    this.log(`deleted service VM ${instance.serverId}`);
  }
}

/** 2.x: no scale_out → 0 VMs (unless active-standby, which forces 2). */
function desiredCount(si: CObject): number {
  const props = isObject(si.props.service_instance_properties) ? si.props.service_instance_properties : {};
  if (props.ha_mode === "active-standby") return 2;
  if (!isObject(props.scale_out)) return 0;
  const n = props.scale_out.max_instances;
  if (n === undefined || n === null) return 1;
  return typeof n === "number" && Number.isInteger(n) && n > 0 ? n : 0;
}
