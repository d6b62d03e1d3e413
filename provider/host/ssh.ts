/**
 * SSH to a host with `node-ssh`: pinned host key, key or agent auth, an optional jump host, `sudo`
 * when the user is not root, a bounded number of connection attempts, and errors that name the
 * host and the step but never carry a key or a file's content.
 *
 * Used inside dynamic providers: `node-ssh` and node built-ins are required inside functions.
 */

/** How to reach a host (secret as a whole: it may hold a private key). */
export interface SshConnection {
  /** Address or name of the host's sshd. */
  host: string;
  /** Default 22. */
  port?: number;
  /** Default "root". */
  user?: string;
  /** Private key (OpenSSH/PEM text). Either this or `agent`. */
  privateKey?: string;
  /** Passphrase of the private key. */
  passphrase?: string;
  /** ssh-agent socket path (e.g. process.env.SSH_AUTH_SOCK). */
  agent?: string;
  /** The host's public key, pinned: "ssh-ed25519 AAAA…" (as in known_hosts, without the host name). Required. */
  hostKey: string;
  /** Reach the host through this one (ssh -J). */
  jumpHost?: SshConnection;
  /** Run privileged commands with `sudo -n`. Default: when user is not root. */
  sudo?: boolean;
  /** Connection attempts before giving up. Default 3. */
  attempts?: number;
  /** Per-attempt timeout, ms. Default 10000. */
  timeoutMs?: number;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** `user@host:port`, for messages. */
export function describeSsh(c: SshConnection): string {
  return `${c.user ?? "root"}@${c.host}:${c.port ?? 22}${c.jumpHost ? ` via ${describeSsh(c.jumpHost)}` : ""}`;
}

/** The base64 key blob of a pinned key line ("ssh-ed25519 AAAA… comment" or "host ssh-ed25519 AAAA…"). */
export function pinnedKeyBlob(line: string): { type: string; blob: string } | undefined {
  const parts = line.trim().split(/\s+/);
  const i = parts.findIndex((p) => /^(ssh-(ed25519|rsa|dss)|ecdsa-sha2-nistp(256|384|521)|sk-)/.test(p));
  if (i < 0 || !parts[i + 1] || !/^[A-Za-z0-9+/]+=*$/.test(parts[i + 1])) return undefined;
  return { type: parts[i], blob: parts[i + 1] };
}

function fingerprint(blob: Buffer): string {
  const crypto = require("crypto") as typeof import("crypto");
  return `SHA256:${crypto.createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`;
}

/** Validation for `check`: problems with the connection, each naming the property. */
export function sshProblems(c: any, property: string): { property: string; reason: string }[] {
  const out: { property: string; reason: string }[] = [];
  if (!c || typeof c !== "object") return [{ property, reason: `${property} must be an object { host, hostKey, user?, port?, privateKey? | agent?, jumpHost?, sudo? }` }];
  if (typeof c.host !== "string" || !/^[A-Za-z0-9._:-]{1,253}$/.test(c.host)) out.push({ property: `${property}.host`, reason: `${property}.host must be a host name or address` });
  if (c.port !== undefined && (!Number.isInteger(c.port) || c.port < 1 || c.port > 65535)) out.push({ property: `${property}.port`, reason: `${property}.port must be an integer 1..65535` });
  if (c.user !== undefined && (typeof c.user !== "string" || !/^[a-z_][a-z0-9_.-]{0,31}$/i.test(c.user))) out.push({ property: `${property}.user`, reason: `${property}.user must be a user name` });
  if (typeof c.hostKey !== "string" || !pinnedKeyBlob(c.hostKey)) out.push({ property: `${property}.hostKey`, reason: `${property}.hostKey is required: the host's public key as in known_hosts, e.g. "ssh-ed25519 AAAAC3Nza…" (never connect to an unverified host)` });
  if (c.privateKey === undefined && c.agent === undefined) out.push({ property: `${property}.privateKey`, reason: `${property}: give privateKey or agent` });
  if (c.privateKey !== undefined && (typeof c.privateKey !== "string" || !/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(c.privateKey))) out.push({ property: `${property}.privateKey`, reason: `${property}.privateKey must be a private key in OpenSSH or PEM form` });
  if (c.attempts !== undefined && (!Number.isInteger(c.attempts) || c.attempts < 1 || c.attempts > 20)) out.push({ property: `${property}.attempts`, reason: `${property}.attempts must be an integer 1..20` });
  if (c.jumpHost !== undefined) out.push(...sshProblems(c.jumpHost, `${property}.jumpHost`));
  return out;
}

/** An open SSH session to one host. */
export class HostShell {
  private constructor(
    private readonly ssh: any,
    private readonly jump: any | undefined,
    readonly conn: SshConnection,
    readonly label: string,
  ) {}

  get useSudo(): boolean {
    return this.conn.sudo ?? (this.conn.user ?? "root") !== "root";
  }

  /** Connect, trying `attempts` times; a host key mismatch is not retried. */
  static async open(c: SshConnection, label: string): Promise<HostShell> {
    const attempts = c.attempts ?? 3;
    let last = "";
    for (let i = 1; i <= attempts; i++) {
      try {
        const jump = c.jumpHost ? (await HostShell.open(c.jumpHost, `${label} (jump host)`)).ssh : undefined;
        const ssh = await connectOnce(c, label, jump);
        return new HostShell(ssh, jump, c, label);
      } catch (e) {
        last = (e as Error).message;
        if (/host key/.test(last)) throw e;
        if (i < attempts) await new Promise((r) => setTimeout(r, 500 * i));
      }
    }
    throw new Error(`${label}: cannot reach ${describeSsh(c)} over SSH after ${attempts} attempt(s): ${last}`);
  }

  /** Run a shell command (privileged with sudo when needed); never throws on a non-zero exit. */
  async run(command: string, opts: { stdin?: string; privileged?: boolean } = {}): Promise<RunResult> {
    const cmd = opts.privileged !== false && this.useSudo ? `sudo -n sh -c ${shq(command)}` : command;
    const r = await this.ssh.execCommand(cmd, { noTrim: true, ...(opts.stdin !== undefined ? { stdin: opts.stdin } : {}) });
    return { code: r.code ?? (r.signal ? 128 : 0), stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
  }

  /** Run and require exit 0; the error names the step and carries stderr (never stdin). */
  async must(step: string, command: string, opts: { stdin?: string } = {}): Promise<string> {
    const r = await this.run(command, opts);
    if (r.code !== 0) {
      const why = (r.stderr || r.stdout).trim().split("\n").slice(-3).join(" | ");
      if (this.useSudo && /sudo: a password is required|sudo: a terminal is required|not in the sudoers/.test(why)) {
        throw new Error(`${this.label}: ${step}: ${this.conn.user} cannot run sudo without a password on ${this.conn.host} (needs NOPASSWD sudo): ${why}`);
      }
      throw new Error(`${this.label}: ${step} failed on ${this.conn.host} (exit ${r.code}): ${why}`);
    }
    return r.stdout;
  }

  /** A file's content, or undefined when it does not exist. */
  async readFile(path: string): Promise<string | undefined> {
    const r = await this.run(`if [ -e ${shq(path)} ]; then cat ${shq(path)}; else exit 3; fi`);
    if (r.code === 3) return undefined;
    if (r.code !== 0) throw new Error(`${this.label}: cannot read ${path} on ${this.conn.host}: ${r.stderr.trim()}`);
    return r.stdout;
  }

  /** Replace a file atomically (temp file + mv), keeping its owner and mode when it exists. */
  async writeFile(path: string, content: string): Promise<void> {
    const tmp = `${path}.dockwall-tmp`;
    await this.must(
      `write ${path}`,
      `cat > ${shq(tmp)} && if [ -e ${shq(path)} ]; then chown --reference=${shq(path)} ${shq(tmp)} && chmod --reference=${shq(path)} ${shq(tmp)}; fi && mv ${shq(tmp)} ${shq(path)}`,
      { stdin: content },
    );
  }

  close(): void {
    this.ssh.dispose();
    this.jump?.dispose();
  }
}

async function connectOnce(c: SshConnection, label: string, jump: any | undefined): Promise<any> {
  const { NodeSSH } = require("node-ssh");
  const pinned = pinnedKeyBlob(c.hostKey);
  if (!pinned) throw new Error(`${label}: hostKey of ${describeSsh(c)} is not a public key line`);
  let offered: Buffer | undefined;
  const ssh = new NodeSSH();
  const config: Record<string, unknown> = {
    host: c.host,
    port: c.port ?? 22,
    username: c.user ?? "root",
    readyTimeout: c.timeoutMs ?? 10_000,
    hostVerifier: (key: Buffer) => {
      offered = key;
      return key.toString("base64") === pinned.blob;
    },
  };
  if (c.privateKey) config.privateKey = c.privateKey;
  if (c.passphrase) config.passphrase = c.passphrase;
  if (c.agent) config.agent = c.agent;
  if (jump) {
    config.sock = await new Promise((resolve, reject) =>
      jump.connection.forwardOut("127.0.0.1", 0, c.host, c.port ?? 22, (err: Error | undefined, stream: unknown) => (err ? reject(err) : resolve(stream))),
    );
  }
  try {
    await ssh.connect(config);
    return ssh;
  } catch (e) {
    ssh.dispose();
    const msg = (e as Error).message ?? String(e);
    if (offered && offered.toString("base64") !== pinned.blob) {
      throw new Error(
        `${label}: refused ${describeSsh(c)}: its host key (${fingerprint(offered)}) is not the pinned hostKey (${fingerprint(Buffer.from(pinned.blob, "base64"))}); nothing was changed. If the host was reinstalled, update hostKey.`,
      );
    }
    if (/authentication methods failed|All configured authentication methods failed/i.test(msg)) {
      throw new Error(`${label}: ${describeSsh(c)} refused the key (authentication failed)`);
    }
    throw new Error(msg);
  }
}

/** Single-quote for sh. */
export function shq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
