/**
 * Host preparation over SSH — the seed's steps on the compute node and the controller, done
 * idempotently by `DockerAggregate`:
 *
 * compute host: the Docker engine answers (its version is reported); nova-docker is importable by
 *   nova-compute's Python; `nova-compute.conf` gets `[DEFAULT] compute_driver` and
 *   `[docker] vif_driver` (other settings and comments kept, unless `replaceConfig` asks for the
 *   seed's "remove everything else"); the `nova` user is in the `docker` group; nova-compute is
 *   restarted only when something changed, with the host's service manager.
 * controller: `docker` is added to Glance's `container_formats` (`[image_format]`, or the legacy
 *   `[DEFAULT]` when the file uses that) and glance-api is restarted only when it changed.
 *
 * The original of every changed file is kept on the host (`<file>.dockwall-orig`, written once) and
 * returned, so that delete can put it back when asked. Nothing here logs file contents or keys.
 */
import { HostShell, SshConnection, shq } from "./ssh";
import { iniGet, iniOnly, iniSet, withListItem, IniEdit } from "./ini";

export { SshConnection, sshProblems, describeSsh } from "./ssh";

export const NOVA_DOCKER_DRIVER = "novadocker.virt.docker.DockerDriver";
export const OPENCONTRAIL_VIF_DRIVER = "novadocker.virt.docker.opencontrail.OpenContrailVIFDriver";
export const NOVA_COMPUTE_CONF = "/etc/nova/nova-compute.conf";
export const GLANCE_API_CONF = "/etc/glance/glance-api.conf";
/** Glance's container formats when the file does not set them (before docker is added). */
export const GLANCE_DEFAULT_FORMATS = "ami,ari,aki,bare,ovf,ova";

export interface ComputeSettings {
  /** `[DEFAULT] compute_driver`. Default the nova-docker driver. */
  computeDriver: string;
  /** `[docker] vif_driver`. Default the OpenContrail VIF driver. */
  vifDriver: string;
  /** The seed's "remove everything else": the file holds only these two settings. Default false. */
  replaceConfig: boolean;
  /** Path of the file. Default /etc/nova/nova-compute.conf. */
  configPath: string;
}

/** What is on a compute host now (read by refresh; compared offline by diff). */
export interface ComputeState {
  computeDriver: string | null;
  vifDriver: string | null;
  novaInDockerGroup: boolean;
  dockerVersion: string | null;
}

export interface ComputeReport extends ComputeState {
  name: string;
  /** Files changed and services restarted by this run. */
  changed: string[];
  restarted: string[];
  /** Originals of the files dockwall changed, by path (kept across runs). */
  originals: Record<string, string>;
}

export interface GlanceState {
  containerFormats: string | null;
  section: string;
}

export interface GlanceReport extends GlanceState {
  changed: string[];
  restarted: string[];
  originals: Record<string, string>;
}

/** Restart a service with the host's service manager (systemd when it runs, else `service`). */
async function restart(sh: HostShell, service: string): Promise<void> {
  await sh.must(
    `restart ${service}`,
    `if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then systemctl restart ${service}; else service ${service} restart; fi`,
  );
}

/** Keep the first original of a file on the host, and return it. */
async function keepOriginal(sh: HostShell, path: string, content: string): Promise<string> {
  const orig = `${path}.dockwall-orig`;
  const existing = await sh.readFile(orig);
  if (existing !== undefined) return existing;
  await sh.writeFile(orig, content);
  return content;
}

function computeEdits(s: ComputeSettings): IniEdit[] {
  return [
    { section: "DEFAULT", key: "compute_driver", value: s.computeDriver },
    { section: "docker", key: "vif_driver", value: s.vifDriver },
  ];
}

async function readComputeState(sh: HostShell, s: ComputeSettings): Promise<ComputeState & { conf: string | undefined }> {
  const conf = await sh.readFile(s.configPath);
  const groups = await sh.run("id -nG nova", { privileged: false });
  const dv = await sh.run("docker version --format '{{.Server.Version}}'");
  return {
    conf,
    computeDriver: conf === undefined ? null : iniGet(conf, "DEFAULT", "compute_driver") ?? null,
    vifDriver: conf === undefined ? null : iniGet(conf, "docker", "vif_driver") ?? null,
    novaInDockerGroup: groups.code === 0 && groups.stdout.trim().split(/\s+/).includes("docker"),
    dockerVersion: dv.code === 0 && dv.stdout.trim() ? dv.stdout.trim() : null,
  };
}

/** Read a compute host's state without changing anything (refresh). */
export async function inspectComputeHost(name: string, ssh: SshConnection, s: ComputeSettings): Promise<ComputeState> {
  const sh = await HostShell.open(ssh, `host ${name}`);
  try {
    const { conf: _conf, ...state } = await readComputeState(sh, s);
    return state;
  } finally {
    sh.close();
  }
}

/** Make a compute host a nova-docker host; restarts nova-compute only when something changed. */
export async function prepareComputeHost(name: string, ssh: SshConnection, s: ComputeSettings, originals: Record<string, string> = {}): Promise<ComputeReport> {
  const sh = await HostShell.open(ssh, `host ${name}`);
  try {
    const before = await readComputeState(sh, s);
    if (!before.dockerVersion) {
      const why = await sh.run("docker version");
      throw new Error(`host ${name}: the Docker engine does not answer (docker version: ${(why.stderr || why.stdout).trim().split("\n").pop() || `exit ${why.code}`}); install and start it (Debian: apt-get install docker.io)`);
    }
    const py = await sh.run("python3 -c 'import novadocker.virt.docker' 2>&1 || python -c 'import novadocker.virt.docker' 2>&1");
    if (py.code !== 0) {
      throw new Error(`host ${name}: nova-docker is not importable by nova-compute's Python (${py.stdout.trim().split("\n").pop()}); install it (pip install nova-docker, or the OpenContrail nova-docker package) and run again`);
    }
    if (before.conf === undefined) throw new Error(`host ${name}: ${s.configPath} does not exist; is nova-compute installed?`);
    const changed: string[] = [];
    const kept = { ...originals };
    const edits = computeEdits(s);
    const next = s.replaceConfig ? iniOnly(edits) : iniSet(before.conf, edits).text;
    if (next !== before.conf) {
      kept[s.configPath] = await keepOriginal(sh, s.configPath, before.conf);
      await sh.writeFile(s.configPath, next);
      changed.push(s.configPath);
    }
    if (!before.novaInDockerGroup) {
      await sh.must("add nova to the docker group", "usermod -a -G docker nova");
      changed.push("group docker: +nova");
    }
    const restarted: string[] = [];
    if (changed.length) {
      await restart(sh, "nova-compute");
      restarted.push("nova-compute");
    }
    const { conf: _c, ...after } = await readComputeState(sh, s);
    return { name, ...after, changed, restarted, originals: kept };
  } finally {
    sh.close();
  }
}

/** Put back the original files, drop their kept copies, and restart the service (delete with restore). */
async function restoreFiles(sh: HostShell, originals: Record<string, string>, service: string): Promise<string[]> {
  for (const [path, content] of Object.entries(originals)) {
    await sh.writeFile(path, content);
    await sh.run(`rm -f ${shq(`${path}.dockwall-orig`)}`);
  }
  await restart(sh, service);
  return Object.keys(originals);
}

/** Put back nova-compute.conf as it was and restart nova-compute. */
export async function restoreComputeHost(name: string, ssh: SshConnection, originals: Record<string, string>): Promise<string[]> {
  if (!Object.keys(originals).length) return [];
  const sh = await HostShell.open(ssh, `host ${name}`);
  try {
    return await restoreFiles(sh, originals, "nova-compute");
  } finally {
    sh.close();
  }
}

/** Where container_formats lives in this file: [image_format], else the legacy [DEFAULT]. */
function glanceSection(conf: string): string {
  if (iniGet(conf, "image_format", "container_formats") !== undefined) return "image_format";
  if (iniGet(conf, "DEFAULT", "container_formats") !== undefined) return "DEFAULT";
  return /^\s*\[image_format\]/m.test(conf) ? "image_format" : "DEFAULT";
}

export async function inspectGlanceHost(ssh: SshConnection, configPath = GLANCE_API_CONF): Promise<GlanceState> {
  const sh = await HostShell.open(ssh, "glance host");
  try {
    const conf = await sh.readFile(configPath);
    if (conf === undefined) return { containerFormats: null, section: "image_format" };
    const section = glanceSection(conf);
    return { containerFormats: iniGet(conf, section, "container_formats") ?? null, section };
  } finally {
    sh.close();
  }
}

/** Let Glance accept container_format=docker; restarts glance-api only when the file changed. */
export async function prepareGlanceHost(ssh: SshConnection, configPath = GLANCE_API_CONF, originals: Record<string, string> = {}): Promise<GlanceReport> {
  const sh = await HostShell.open(ssh, "glance host");
  try {
    const conf = await sh.readFile(configPath);
    if (conf === undefined) throw new Error(`glance host: ${configPath} does not exist on ${ssh.host}; is glance-api installed there?`);
    const section = glanceSection(conf);
    const current = iniGet(conf, section, "container_formats");
    const want = withListItem(current ?? GLANCE_DEFAULT_FORMATS, "docker");
    const next = iniSet(conf, [{ section, key: "container_formats", value: want }]);
    const kept = { ...originals };
    const changed: string[] = [];
    const restarted: string[] = [];
    if (next.changed) {
      kept[configPath] = await keepOriginal(sh, configPath, conf);
      await sh.writeFile(configPath, next.text);
      changed.push(configPath);
      await restart(sh, "glance-api");
      restarted.push("glance-api");
    }
    return { containerFormats: want, section, changed, restarted, originals: kept };
  } finally {
    sh.close();
  }
}

export async function restoreGlanceHost(ssh: SshConnection, originals: Record<string, string>): Promise<string[]> {
  if (!Object.keys(originals).length) return [];
  const sh = await HostShell.open(ssh, "glance host");
  try {
    return await restoreFiles(sh, originals, "glance-api");
  } finally {
    sh.close();
  }
}
