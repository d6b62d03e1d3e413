/**
 * What nova-compute and glance-api do when they (re)start on a lab host, decided from what the
 * service would see at that moment (a snapshot taken by the host's init script as the service's
 * user: the config files' text or the error opening them, its groups, the Docker socket).
 *
 * nova-compute (Juno, with the OpenContrail-patched nova-docker), in the order nova starts:
 *  1. oslo.config reads /etc/nova/nova.conf then /etc/nova/nova-compute.conf (later wins); a
 *     missing, unreadable (as nova) or malformed file stops it;
 *  2. `[DEFAULT] compute_driver` must be set, and load (nova tries `nova.virt.<name>`, then
 *     `<name>`); nova's own drivers (libvirt.LibvirtDriver, …) load but are not nova-docker;
 *  3. DockerDriver's constructor loads `[docker] vif_driver` (default nova-docker's generic one);
 *  4. DockerDriver.init_host pings the engine through /var/run/docker.sock: nova must be root or in
 *     group docker (as of this start: group changes need a restart);
 *  5. running. Boots of docker images work only with the OpenContrail VIF driver: the generic one
 *     fails every boot on a vRouter port with "Cannot setup network: Unexpected vif_type=vrouter".
 *
 * glance-api: reads /etc/glance/glance-api.conf (as glance); `container_formats` comes from
 * `[image_format]`, else the deprecated `[DEFAULT]` name, else Juno's default.
 */
import { IniParseError, iniValue, parseIni, parseList, type IniData } from "./ini";

export const NOVA_DOCKER_DRIVER = "novadocker.virt.docker.DockerDriver";
export const NOVA_DOCKER_DRIVER_CLASS = "novadocker.virt.docker.driver.DockerDriver";
export const OPENCONTRAIL_VIF_DRIVER = "novadocker.virt.docker.opencontrail.OpenContrailVIFDriver";
export const GENERIC_VIF_DRIVER = "novadocker.virt.docker.vifs.DockerGenericVIFDriver";
/** Juno's `[image_format] container_formats` default. */
export const GLANCE_DEFAULT_CONTAINER_FORMATS = ["ami", "ari", "aki", "bare", "ovf", "ova"];
/** nova.virt drivers of Juno (load without nova-docker; not docker hosts). */
export const NOVA_VIRT_DRIVERS = [
  "libvirt.LibvirtDriver",
  "xenapi.XenAPIDriver",
  "fake.FakeDriver",
  "baremetal.BareMetalDriver",
  "vmwareapi.VMwareVCDriver",
  "hyperv.HyperVDriver",
  "ironic.IronicDriver",
];

export type LabService = "nova-compute" | "glance-api";

export const SERVICE_FILES: Record<LabService, string[]> = {
  "nova-compute": ["/etc/nova/nova.conf", "/etc/nova/nova-compute.conf"],
  "glance-api": ["/etc/glance/glance-api.conf"],
};
export const SERVICE_USER: Record<LabService, string> = { "nova-compute": "nova", "glance-api": "glance" };
export const SERVICE_LOG: Record<LabService, string> = {
  "nova-compute": "/var/log/nova/nova-compute.log",
  "glance-api": "/var/log/glance/api.log",
};

/** Written by the image's /usr/lib/dw-lab/snapshot.py. */
export interface ServiceSnapshot {
  user: string;
  groups: string[];
  files: Array<{ path: string; content?: string; error?: string; message?: string }>;
  dockerSocket: { exists: boolean; socket: boolean; access: boolean };
}

/** Loads classes by name on the host, as nova (resolve.py): name -> canonical class or error. */
export type ClassResolver = (names: string[], namespace?: string) => Promise<Record<string, { class?: string; error?: string }>>;

export type NovaOutcome =
  | { running: true; docker: boolean; driver: string; vifDriver: string | null; message: string }
  | { running: false; reason: string };

export type GlanceOutcome = { running: true; containerFormats: string[]; section: string } | { running: false; reason: string };

/** The files parsed in order, or the error that stops the service (oslo.config's). */
export function readConfigFiles(snap: ServiceSnapshot): { data: IniData[] } | { reason: string } {
  const data: IniData[] = [];
  for (const f of snap.files) {
    if (f.error === "ENOENT") return { reason: `ConfigFilesNotFoundError: Failed to find some config files: ${f.path}` };
    if (f.error === "EACCES" || f.error === "EPERM") {
      return { reason: `ConfigFilesPermissionDeniedError: Failed to open some config files: ${f.path}` };
    }
    if (f.error || f.content === undefined) return { reason: `Failed to open ${f.path}: ${f.message ?? f.error ?? "unknown error"}` };
    try {
      data.push(parseIni(f.content));
    } catch (e) {
      if (e instanceof IniParseError) return { reason: `ConfigFileParseError: Failed to parse ${f.path}: ${e.message}` };
      throw e;
    }
  }
  return { data };
}

export async function evaluateNovaCompute(host: string, snap: ServiceSnapshot, resolve: ClassResolver): Promise<NovaOutcome> {
  const read = readConfigFiles(snap);
  if ("reason" in read) return { running: false, reason: read.reason };
  const driver = iniValue(read.data, "DEFAULT", "compute_driver");
  if (!driver) return { running: false, reason: "Compute driver option required, but not specified" };
  const short = driver.replace(/^nova\.virt\./, "");
  if (NOVA_VIRT_DRIVERS.includes(short)) {
    return {
      running: true,
      docker: false,
      driver,
      vifDriver: null,
      message: `Host ${host} runs compute_driver ${driver}, not nova-docker (${NOVA_DOCKER_DRIVER}): it cannot boot container_format 'docker' images`,
    };
  }
  const vif = iniValue(read.data, "docker", "vif_driver") || GENERIC_VIF_DRIVER;
  const loaded = await resolve([driver, vif], "nova.virt");
  const d = loaded[driver] ?? { error: "ImportError: not resolved" };
  if (!d.class) return { running: false, reason: `Unable to load the virtualization driver: ${d.error}` };
  if (d.class !== NOVA_DOCKER_DRIVER_CLASS) {
    return {
      running: true,
      docker: false,
      driver,
      vifDriver: null,
      message: `Host ${host} runs compute_driver ${driver} (${d.class}), not nova-docker (${NOVA_DOCKER_DRIVER}): it cannot boot container_format 'docker' images`,
    };
  }
  const v = loaded[vif] ?? { error: "ImportError: not resolved" };
  if (!v.class) return { running: false, reason: `Unable to load the virtualization driver: ${v.error}` };
  if (!snap.dockerSocket.socket || !snap.dockerSocket.access) {
    return {
      running: false,
      reason: `NovaException: Docker daemon is not running or is not reachable (check the rights on /var/run/docker.sock) [nova-compute ran as ${snap.user}, groups ${snap.groups.join(",")}]`,
    };
  }
  if (v.class !== OPENCONTRAIL_VIF_DRIVER) {
    return { running: true, docker: false, driver, vifDriver: vif, message: "Cannot setup network: Unexpected vif_type=vrouter" };
  }
  return { running: true, docker: true, driver, vifDriver: vif, message: "" };
}

export function evaluateGlanceApi(snap: ServiceSnapshot): GlanceOutcome {
  const read = readConfigFiles(snap);
  if ("reason" in read) return { running: false, reason: read.reason };
  for (const section of ["image_format", "DEFAULT"]) {
    const v = iniValue(read.data, section, "container_formats");
    if (v !== undefined) return { running: true, containerFormats: parseList(v), section };
  }
  return { running: true, containerFormats: [...GLANCE_DEFAULT_CONTAINER_FORMATS], section: "(default)" };
}

/** The boot fault of a host whose nova-compute is not running (the scheduler finds no host). */
export function notRunningMessage(host: string, reason: string): string {
  return `No valid host was found. There are not enough hosts available. (lab: nova-compute on ${host} is not running: ${reason})`;
}
