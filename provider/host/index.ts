/**
 * Host preparation: the seam through which `DockerAggregate` will make each compute host a
 * nova-docker host over SSH (Docker engine check, nova-docker check, `nova-compute.conf`
 * `compute_driver` / `[docker] vif_driver`, the `nova` user in the `docker` group, a restart only
 * when something changed) and let Glance accept `container_format=docker`.
 *
 * Today a host is given by its nova-compute service host name only and nothing runs on it: the
 * operator has done the seed's host steps by hand. `prepareHost` is where the SSH work plugs in.
 */

/** A compute host as `DockerAggregate` sees it. */
export interface HostSpec {
  /** nova-compute service host name (`os-services[].host`). */
  name: string;
}

/** What preparing a host did (reported in outputs). */
export interface HostReport {
  name: string;
  /** Files changed on the host (none when nothing had to change). */
  changed: string[];
  /** Services restarted on the host. */
  restarted: string[];
}

/** Prepare one host; without a connection there is nothing to do and nothing is touched. */
export async function prepareHost(host: HostSpec): Promise<HostReport> {
  return { name: host.name, changed: [], restarted: [] };
}
