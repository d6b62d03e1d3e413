/**
 * The data plane's record of everything it created on this machine. Written (atomically) on every
 * change to `<runDir>/state.json`, so that `cleanup` — in this process, or a later one after a crash
 * (`cleanupRecorded(path)`) — removes exactly what was created and nothing else.
 */
import * as fs from "fs";
import * as path from "path";

export interface RecordedContainer {
  id: string;
  name: string;
  serverId: string;
}

export interface RecordedVeth {
  /** Host-side (or gateway-side) name. */
  name: string;
  /** Namespace it lives in once plugged (null = the host's). */
  netns: string | null;
}

export interface RecordedProcess {
  pid: number;
  what: string;
  /** A string the process's /proc/<pid>/cmdline must contain before it is signalled (pid reuse). */
  match: string;
}

export interface LabState {
  version: 1;
  runId: string;
  runDir: string;
  createdAt: string;
  namespaces: string[];
  containers: RecordedContainer[];
  veths: RecordedVeth[];
  processes: RecordedProcess[];
  /** Images that `spawn` loaded with `docker load` (removed by cleanup unless keepImages). */
  images: string[];
}

export function emptyState(runId: string, runDir: string): LabState {
  return {
    version: 1,
    runId,
    runDir,
    createdAt: new Date().toISOString(),
    namespaces: [],
    containers: [],
    veths: [],
    processes: [],
    images: [],
  };
}

export class StateFile {
  constructor(
    public readonly file: string,
    public state: LabState,
  ) {}

  static create(runDir: string, runId: string): StateFile {
    fs.mkdirSync(runDir, { recursive: true });
    const sf = new StateFile(path.join(runDir, "state.json"), emptyState(runId, runDir));
    sf.save();
    return sf;
  }

  static load(file: string): StateFile {
    const state = JSON.parse(fs.readFileSync(file, "utf8")) as LabState;
    if (state.version !== 1) throw new Error(`${file}: unknown lab state version ${state.version}`);
    return new StateFile(file, state);
  }

  save(): void {
    const tmp = `${this.file}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(this.state, null, 2) + "\n");
    fs.renameSync(tmp, this.file);
  }

  addNamespace(ns: string): void {
    if (!this.state.namespaces.includes(ns)) this.state.namespaces.push(ns);
    this.save();
  }
  removeNamespace(ns: string): void {
    this.state.namespaces = this.state.namespaces.filter((n) => n !== ns);
    this.save();
  }
  addContainer(c: RecordedContainer): void {
    this.state.containers = this.state.containers.filter((x) => x.id !== c.id);
    this.state.containers.push(c);
    this.save();
  }
  removeContainer(id: string): void {
    this.state.containers = this.state.containers.filter((x) => x.id !== id);
    this.save();
  }
  addVeth(v: RecordedVeth): void {
    this.state.veths = this.state.veths.filter((x) => x.name !== v.name);
    this.state.veths.push(v);
    this.save();
  }
  removeVeth(name: string): void {
    this.state.veths = this.state.veths.filter((x) => x.name !== name);
    this.save();
  }
  addProcess(p: RecordedProcess): void {
    this.state.processes = this.state.processes.filter((x) => x.pid !== p.pid);
    this.state.processes.push(p);
    this.save();
  }
  removeProcess(pid: number): void {
    this.state.processes = this.state.processes.filter((x) => x.pid !== pid);
    this.save();
  }
  addImage(name: string): void {
    if (!this.state.images.includes(name)) this.state.images.push(name);
    this.save();
  }
}
