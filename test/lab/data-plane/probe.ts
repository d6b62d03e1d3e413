/**
 * The seed's demonstration as one call, for the demo and the lab's admin endpoint: a host behind
 * the left gateway (198.51.100.11) pings a host behind the right gateway (203.0.113.8) while
 * tcpdump runs on the service container's left and right interfaces; plus the container's
 * `ip rule`, main table and per-interface tables. Neither host is on an attached network, and
 * the container has no static route for them: the two default routes and the cross rules do it.
 */
import type { LabDataPlane, RemoteHost } from "./dataPlane";

export interface ProbeRequest {
  leftNetworkId: string;
  rightNetworkId: string;
  serverId: string;
  /** TCP ports to try from the left host to the right host (a listener is started for each). */
  tcpPorts?: number[];
}

export interface ProbeResult {
  ipRule: string;
  ipRoute: string;
  tables: Record<string, string>;
  leftInterface: string;
  rightInterface: string;
  ping: { ok: boolean; output: string };
  leftCapture: string[];
  rightCapture: string[];
  tcp: Record<string, string>;
}

const SRC = { cidr: "198.51.100.0/24", ip: "198.51.100.11" };
const DST = { cidr: "203.0.113.0/24", ip: "203.0.113.8" };

/** Remote hosts are made once per network and reused by later probes. */
const remotes = new WeakMap<LabDataPlane, Map<string, RemoteHost>>();

async function remote(dp: LabDataPlane, networkId: string, cidr: string, ip: string): Promise<RemoteHost> {
  let m = remotes.get(dp);
  if (!m) remotes.set(dp, (m = new Map()));
  const key = `${networkId} ${ip}`;
  let h = m.get(key);
  if (!h) m.set(key, (h = await dp.addRemoteHost(networkId, cidr, ip)));
  return h;
}

/** The container's interface that holds an address of the network's subnet (by role map). */
async function roles(dp: LabDataPlane, serverId: string): Promise<{ left: string; right: string }> {
  const r = await dp.exec(serverId, ["cat", "/run/dockwall/roles"]);
  const m = /left=(\S+) right=(\S+)/.exec(r.stdout);
  if (r.code !== 0 || !m) throw new Error(`the service container has no role map yet (/run/dockwall/roles): ${r.stderr || r.stdout}`);
  return { left: m[1], right: m[2] };
}

export async function chainProbe(dp: LabDataPlane, req: ProbeRequest): Promise<ProbeResult> {
  const sh = async (cmd: string[]): Promise<string> => {
    const r = await dp.exec(req.serverId, cmd);
    return r.code === 0 ? r.stdout : `(exit ${r.code}) ${r.stderr}${r.stdout}`;
  };
  const { left, right } = await roles(dp, req.serverId);
  const src = await remote(dp, req.leftNetworkId, SRC.cidr, SRC.ip);
  const dst = await remote(dp, req.rightNetworkId, DST.cidr, DST.ip);
  const result: ProbeResult = {
    ipRule: await sh(["ip", "rule", "show"]),
    ipRoute: await sh(["ip", "route", "show"]),
    tables: { [left]: await sh(["ip", "route", "show", "table", left]), [right]: await sh(["ip", "route", "show", "table", right]) },
    leftInterface: left,
    rightInterface: right,
    ping: { ok: false, output: "" },
    leftCapture: [],
    rightCapture: [],
    tcp: {},
  };
  result.leftCapture = await dp.capture(req.serverId, left, "icmp", async () => {
    result.rightCapture = await dp.capture(req.serverId, right, "icmp", async () => {
      const r = await dp.inNamespace(src.ns, ["ping", "-n", "-c", "3", "-i", "0.2", "-W", "1", DST.ip]);
      result.ping = { ok: r.code === 0, output: r.stdout.trim() };
    });
  });
  for (const port of req.tcpPorts ?? []) {
    const l = await dp.tcpListener(dst.ns, DST.ip, port);
    try {
      const c = await dp.tcpConnect(src.ns, DST.ip, port, 1500);
      result.tcp[String(port)] = c.ok ? "connected" : `blocked (${c.detail})`;
    } finally {
      await l.stop();
    }
  }
  return result;
}
