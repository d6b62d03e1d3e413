/**
 * The shared state of one lab: the service models, the change event bus, the log, and the bridge
 * to the data plane. Route modules and the asynchronous actors all hang off this object.
 */
import { EventEmitter } from "node:events";
import type { ServiceName } from "./http/router";

export interface LabUrls {
  keystone: string;
  nova: string;
  glance: string;
  neutron: string;
  contrail: string;
}

/** Emitted as `events.emit("change", event)` after every mutation. */
export interface ChangeEvent {
  service: ServiceName;
  type: string;
  op: "create" | "update" | "delete";
  id: string;
}

export class LabBus {
  readonly events = new EventEmitter();
  readonly urls: LabUrls = { keystone: "", nova: "", glance: "", neutron: "", contrail: "" };
  private readonly lines: string[] = [];
  stopped = false;

  constructor(private readonly sink?: (line: string) => void) {
    // A listener-less "error" event would throw; the lab never emits one, but keep emitters safe.
    this.events.setMaxListeners(100);
  }

  change(service: ServiceName, type: string, op: ChangeEvent["op"], id: string): void {
    const event: ChangeEvent = { service, type, op, id };
    this.events.emit("change", event);
  }

  log(source: string, message: string): void {
    const line = `${new Date().toISOString()} ${source}: ${message}`;
    this.lines.push(line);
    if (this.lines.length > 2000) this.lines.splice(0, this.lines.length - 2000);
    this.sink?.(line);
  }

  logs(): string[] {
    return [...this.lines];
  }
}
