/**
 * Running host commands for the lab's data plane (ip, dnsmasq, tcpdump, nsenter), with errors
 * that say which command failed and what it printed.
 */
import { execFile, spawn, ChildProcess } from "child_process";

export interface RunResult {
  stdout: string;
  stderr: string;
  code: number;
}

export class CommandError extends Error {
  constructor(
    public readonly argv: string[],
    public readonly result: RunResult,
  ) {
    super(`command failed (exit ${result.code}): ${argv.join(" ")}\n${(result.stderr || result.stdout).trim()}`);
    this.name = "CommandError";
  }
}

export interface RunOptions {
  /** Resolve instead of rejecting on a non-zero exit. */
  allowFail?: boolean;
  input?: string;
  timeoutMs?: number;
}

/** Run a command (no shell); reject with CommandError on failure unless allowFail. */
export function run(argv: string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      argv[0],
      argv.slice(1),
      { maxBuffer: 64 * 1024 * 1024, timeout: opts.timeoutMs ?? 60_000, encoding: "utf8" },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === "number" ? ((err as { code: number }).code) : 1) : 0;
        const result: RunResult = { stdout: String(stdout), stderr: String(stderr), code };
        if (err && (err as { code?: unknown }).code === "ENOENT") {
          reject(new Error(`command not found: ${argv[0]} (needed for: ${argv.join(" ")})`));
          return;
        }
        if (code !== 0 && !opts.allowFail) reject(new CommandError(argv, result));
        else resolve(result);
      },
    );
    if (opts.input !== undefined) {
      child.stdin?.end(opts.input);
    }
  });
}

/** `ip -n <ns> …` (or plain `ip …` when ns is null). */
export function ip(ns: string | null, ...args: string[]): Promise<RunResult> {
  return run(ns ? ["ip", "-n", ns, ...args] : ["ip", ...args]);
}

export async function ipAllowFail(ns: string | null, ...args: string[]): Promise<RunResult> {
  return run(ns ? ["ip", "-n", ns, ...args] : ["ip", ...args], { allowFail: true });
}

/** Run a command inside a named network namespace. */
export function inNetns(ns: string, argv: string[], opts: RunOptions = {}): Promise<RunResult> {
  return run(["ip", "netns", "exec", ns, ...argv], opts);
}

/** Run a command in the network namespace of a process (a container's init). */
export function inPidNetns(pid: number, argv: string[], opts: RunOptions = {}): Promise<RunResult> {
  return run(["nsenter", "-t", String(pid), "-n", "--", ...argv], opts);
}

export async function netnsList(): Promise<string[]> {
  const r = await run(["ip", "netns", "list"], { allowFail: true });
  return r.stdout
    .split("\n")
    .map((l) => l.trim().split(/\s+/)[0])
    .filter((l) => l);
}

export async function linkExists(ns: string | null, name: string): Promise<boolean> {
  const r = await ipAllowFail(ns, "link", "show", "dev", name);
  return r.code === 0;
}

/** Long-running child process helper: spawn, wait for a line on stdout/stderr. */
export function spawnWaitFor(
  argv: string[],
  ready: RegExp,
  timeoutMs = 10_000,
): Promise<{ child: ChildProcess; stdout: string[]; stderr: string[] }> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { stdio: ["ignore", "pipe", "pipe"] });
    const stdout: string[] = [];
    const stderr: string[] = [];
    let done = false;
    const timer = setTimeout(() => {
      if (done) return;
      done = true;
      child.kill("SIGKILL");
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${ready} from: ${argv.join(" ")}\n${stderr.join("\n")}`));
    }, timeoutMs);
    const feed = (buf: string[]) => {
      let rest = "";
      return (chunk: Buffer) => {
        const lines = (rest + chunk.toString()).split("\n");
        rest = lines.pop() ?? "";
        for (const l of lines) buf.push(l);
        // A prompt-like last fragment ("listening on ...") may come without its newline yet.
        if (!done && (lines.some((l) => ready.test(l)) || ready.test(rest))) {
          done = true;
          clearTimeout(timer);
          resolve({ child, stdout, stderr });
        }
      };
    };
    child.stdout!.on("data", feed(stdout));
    child.stderr!.on("data", feed(stderr));
    child.on("error", (e) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      reject(new Error(`cannot start ${argv.join(" ")}: ${e.message}`));
    });
    child.on("exit", (code) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      reject(new Error(`${argv.join(" ")} exited (${code}) before ${ready}:\n${stderr.concat(stdout).join("\n")}`));
    });
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Poll `fn` until it returns a truthy value or the time is up (then throw with `what`). */
export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | null | false>, timeoutMs = 30_000, everyMs = 200): Promise<T> {
  const end = Date.now() + timeoutMs;
  let lastErr: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as T;
    } catch (e) {
      lastErr = e;
    }
    if (Date.now() >= end) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? `: ${(lastErr as Error).message}` : ""}`);
    }
    await sleep(everyMs);
  }
}

/** Split a command line like Python's shlex.split (what docker-py does with a string command). */
export function shellSplit(s: string): string[] {
  const out: string[] = [];
  let cur = "";
  let inWord = false;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (quote === "'") {
      if (c === "'") quote = null;
      else cur += c;
    } else if (quote === '"') {
      if (c === '"') quote = null;
      else if (c === "\\" && i + 1 < s.length && '"\\$`'.includes(s[i + 1])) cur += s[++i];
      else cur += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      inWord = true;
    } else if (c === "\\" && i + 1 < s.length) {
      cur += s[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) out.push(cur);
      cur = "";
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (quote) throw new Error(`unterminated ${quote} quote in command line: ${s}`);
  if (inWord) out.push(cur);
  return out;
}
