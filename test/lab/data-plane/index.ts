/** The lab's data plane: namespaces, bridges, dnsmasq and Docker on the real kernel. */
export {
  LabDataPlane,
  LabDataPlaneOptions,
  RemoteHost,
  TestHost,
  CaptureTarget,
  LAB_LABEL,
  SERVER_LABEL,
  containerName,
  netnsName,
  vethNames,
  repoRoot,
  cleanupRecorded,
  recordedRuns,
} from "./dataPlane";
export { LabState } from "./state";
export { preflight } from "./preflight";

import { LabDataPlane as DataPlaneImpl } from "./dataPlane";

/** For `node lib/test/lab/cli.js up --data-plane lib/test/lab/data-plane/index.js`. */
export function createDataPlane(): DataPlaneImpl {
  return new DataPlaneImpl({ log: process.env.DOCKWALL_LAB_VERBOSE ? (m) => console.log(`[data-plane] ${m}`) : undefined });
}
