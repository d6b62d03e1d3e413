/** Fault injection: per-route latency, error statuses and dropped connections. */
import type { ServiceName } from "./http/router";

export interface FaultRule {
  service?: ServiceName;
  method?: string;
  /** RegExp source matched against the request path (without the query string). */
  path?: string;
  kind: "status" | "latency" | "drop" | "drop-after-act";
  status?: number;
  body?: string;
  delayMs?: number;
  /** How many matching requests it applies to (default unlimited). */
  times?: number;
}

interface ActiveRule {
  id: string;
  rule: FaultRule;
  pathRe: RegExp | null;
  remaining: number;
}

/** What to do with one request. */
export interface FaultDecision {
  delayMs: number;
  action: { kind: "status"; status: number; body?: string } | { kind: "drop" } | { kind: "drop-after-act" } | null;
}

export class FaultRegistry {
  private readonly rules: ActiveRule[] = [];
  /** Requests each rule has applied to, kept after the rule is used up (until clear). */
  private readonly applied = new Map<string, number>();
  private seq = 0;

  add(rule: FaultRule): string {
    if (!["status", "latency", "drop", "drop-after-act"].includes(rule.kind)) {
      throw new Error(`unknown fault kind ${String(rule.kind)}`);
    }
    if (rule.kind === "status" && (rule.status === undefined || rule.status < 100 || rule.status > 599)) {
      throw new Error("a status fault needs a status between 100 and 599");
    }
    const id = `fault-${++this.seq}`;
    this.rules.push({
      id,
      rule: { ...rule },
      pathRe: rule.path === undefined ? null : new RegExp(rule.path),
      remaining: rule.times ?? Infinity,
    });
    return id;
  }

  remove(id: string): void {
    const i = this.rules.findIndex((r) => r.id === id);
    if (i >= 0) this.rules.splice(i, 1);
  }

  clear(): void {
    this.rules.length = 0;
    this.applied.clear();
  }

  /** How many requests the rule `id` has applied to so far. */
  fired(id: string): number {
    return this.applied.get(id) ?? 0;
  }

  /**
   * Decides the faults for one request and consumes one use of each rule applied: every matching
   * latency rule adds its delay; the first matching non-latency rule decides the outcome.
   */
  decide(service: ServiceName, method: string, path: string): FaultDecision {
    const decision: FaultDecision = { delayMs: 0, action: null };
    for (const active of [...this.rules]) {
      const { rule } = active;
      if (rule.service !== undefined && rule.service !== service) continue;
      if (rule.method !== undefined && rule.method.toUpperCase() !== method) continue;
      if (active.pathRe !== null && !active.pathRe.test(path)) continue;
      if (rule.kind === "latency") {
        decision.delayMs += rule.delayMs ?? 0;
      } else if (decision.action === null) {
        decision.action =
          rule.kind === "status" ? { kind: "status", status: rule.status as number, body: rule.body } : { kind: rule.kind };
      } else {
        continue;
      }
      this.applied.set(active.id, (this.applied.get(active.id) ?? 0) + 1);
      active.remaining--;
      if (active.remaining <= 0) this.remove(active.id);
    }
    return decision;
  }
}
