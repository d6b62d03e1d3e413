/**
 * Calls into the data plane in a safe order. Network and port wiring is serialised and awaited by
 * the API call that caused it; a spawn waits for the wiring queued before it; chain updates are
 * serialised on their own. Wiring failures are logged, not thrown: the API has already committed.
 */
import type { ChainSpec, DataPlane, LabNetwork, LabPort, SpawnRequest } from "../contracts";
import type { LabBus } from "./core";
import { SerialQueue } from "./util/queue";

export class DataPlaneBridge {
  private readonly wiring: SerialQueue;
  private readonly chains: SerialQueue;
  private readonly inflight = new Set<Promise<unknown>>();

  constructor(
    private readonly dp: DataPlane,
    private readonly bus: LabBus,
  ) {
    this.wiring = new SerialQueue();
    this.chains = new SerialQueue();
  }

  networkChanged(net: LabNetwork): Promise<void> {
    return this.wire(`networkChanged(${net.id})`, () => this.dp.networkChanged(net));
  }

  networkDeleted(networkId: string): Promise<void> {
    return this.wire(`networkDeleted(${networkId})`, () => this.dp.networkDeleted(networkId));
  }

  portCreated(port: LabPort, net: LabNetwork): Promise<void> {
    return this.wire(`portCreated(${port.id})`, () => this.dp.portCreated(port, net));
  }

  portDeleted(port: LabPort): Promise<void> {
    return this.wire(`portDeleted(${port.id})`, () => this.dp.portDeleted(port));
  }

  /** Boots a server once the wiring queued so far is done; rejects with the driver's error. */
  async spawn(req: SpawnRequest): Promise<void> {
    await this.wiring.run(() => undefined);
    await this.track(this.dp.spawn(req));
  }

  /** Destroys a server; a failure is logged (the server is gone from the API regardless). */
  async destroy(serverId: string): Promise<void> {
    try {
      await this.track(this.dp.destroy(serverId));
    } catch (err) {
      this.bus.log("data-plane", `destroy(${serverId}) failed: ${describe(err)}`);
    }
  }

  chainsChanged(chains: ChainSpec[]): Promise<void> {
    return this.chains.run(() => this.dp.chainsChanged(chains)).catch((err: unknown) => {
      this.bus.log("data-plane", `chainsChanged failed: ${describe(err)}`);
    });
  }

  get busy(): boolean {
    return this.wiring.busy || this.chains.busy || this.inflight.size > 0;
  }

  /** Resolves when no data-plane call is queued or running. */
  async idle(): Promise<void> {
    while (this.wiring.busy || this.chains.busy || this.inflight.size > 0) {
      await Promise.allSettled([this.wiring.idle(), this.chains.idle(), ...this.inflight]);
    }
  }

  close(): void {
    this.wiring.close();
    this.chains.close();
  }

  private async wire(what: string, call: () => Promise<void>): Promise<void> {
    try {
      await this.wiring.run(call);
    } catch (err) {
      this.bus.log("data-plane", `${what} failed: ${describe(err)}`);
    }
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.inflight.add(p);
    const done = () => this.inflight.delete(p);
    p.then(done, done);
    return p;
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
