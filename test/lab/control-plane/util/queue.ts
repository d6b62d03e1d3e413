/**
 * A serial work queue: tasks run one at a time in submission order. The lab's asynchronous actors
 * (svc-monitor, the schema transformer, the data-plane bridge) each own one, which keeps their
 * effects ordered and the tests deterministic.
 */
export class SerialQueue {
  private tail: Promise<void> = Promise.resolve();
  private pending = 0;
  private closed = false;
  private readonly idleWaiters: Array<() => void> = [];

  /** `onError` receives failures of `post`ed tasks (a `run` caller gets its own rejection). */
  constructor(private readonly onError: (err: unknown) => void = () => undefined) {}

  /** Runs `task` after every earlier task; resolves or rejects with its result. */
  run<T>(task: () => Promise<T> | T): Promise<T> {
    this.pending++;
    const result = this.tail.then(() => {
      if (this.closed) throw new QueueClosedError();
      return task();
    });
    const settle = () => this.settle();
    this.tail = result.then(settle, settle);
    return result;
  }

  /** Fire-and-forget: failures (other than the queue closing) go to `onError`. */
  post(task: () => Promise<unknown> | unknown): void {
    this.run(task).catch((err: unknown) => {
      if (!(err instanceof QueueClosedError)) this.onError(err);
    });
  }

  get busy(): boolean {
    return this.pending > 0;
  }

  /** Resolves once no task is queued or running. */
  idle(): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Tasks not yet started are dropped (they reject with QueueClosedError). */
  close(): void {
    this.closed = true;
  }

  private settle(): void {
    this.pending--;
    if (this.pending === 0) for (const w of this.idleWaiters.splice(0)) w();
  }
}

export class QueueClosedError extends Error {
  constructor() {
    super("the lab is stopping");
  }
}
