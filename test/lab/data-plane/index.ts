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
