/**
 * Plumbing shared by the five dynamic providers: stack config captured by `configure()`, the
 * session for a resource's connection, the unknown-value sentinel, check-failure helpers, input
 * validators and diff helpers.
 *
 * Everything here is serialized by value into each provider (it is local code), so it must hold no
 * live objects at module scope. Third-party and Node modules are required inside functions.
 */
import { ConfigError, ConnectionArgs, STACK_CONFIG_KEYS, StackConfig, resolveConnection } from "../config";
import { Session } from "../clients/keystone";

/** The engine's placeholder for values not known at preview. */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

export interface CheckFailure {
  property: string;
  reason: string;
}

/** Stack config lives on globalThis (one provider process, several providers); the key is made inside functions because a captured Symbol does not survive serialization. */
function stackConfigKey(): symbol {
  return Symbol.for("dockwall.stackConfig");
}

/** `configure()` of every provider: keep the stack config for this provider process. */
export async function configureFromStack(req: { config: { get(key: string): string | undefined } }): Promise<void> {
  const cfg: StackConfig = {};
  for (const k of STACK_CONFIG_KEYS) {
    for (const ns of ["dockwall", "openstack"]) {
      const v = req.config.get(`${ns}:${k}`);
      if (v !== undefined) cfg[`${ns}:${k}`] = v;
    }
  }
  (globalThis as any)[stackConfigKey()] = cfg;
}

export function stackConfig(): StackConfig | undefined {
  return (globalThis as any)[stackConfigKey()];
}

/** Log a line to the Pulumi CLI (dynamic-provider stdout is passed through). Never give it secrets. */
export function log(message: string): void {
  console.log(`[dockwall] ${message}`);
}

/** The authenticated session for a resource, from its `connection` input/output and the stack config. */
export function sessionFor(connection: ConnectionArgs | undefined): Session {
  return new Session(resolveConnection({ connection, stackConfig: stackConfig(), env: process.env }), log);
}

/** True when a value is, or contains, the preview placeholder. */
export function containsUnknown(v: unknown): boolean {
  if (v === UNKNOWN) return true;
  if (Array.isArray(v)) return v.some(containsUnknown);
  if (v && typeof v === "object") return Object.values(v).some(containsUnknown);
  return false;
}

/** Deterministic JSON (sorted keys) for comparisons. */
export function stable(v: unknown): string {
  return JSON.stringify(v, (_k, val) => {
    if (val && typeof val === "object" && !Array.isArray(val)) {
      return Object.keys(val)
        .sort()
        .reduce((o: Record<string, unknown>, k) => {
          o[k] = val[k];
          return o;
        }, {});
    }
    return val;
  });
}

/** Keys whose old output and new input differ (unknown counts as different). */
export function changedKeys(olds: Record<string, any>, news: Record<string, any>, keys: readonly string[]): string[] {
  return keys.filter((k) => containsUnknown(news[k]) || stable(olds[k]) !== stable(news[k]));
}

export function newUuid(): string {
  return (require("crypto") as typeof import("crypto")).randomUUID();
}

export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * A uuid for a resource's place in a program (its type, project, stack and name): the same on
 * every run. Resource constructors pass it as the `stableUuid` input, so that an `up` after a create
 * that acted but failed or was killed before Pulumi recorded it (check then has no old inputs)
 * still chooses the same uuid, meets its own object and adopts it instead of leaving an orphan.
 */
export function programUuid(type: string, project: string, stack: string, name: string): string {
  const h = (require("crypto") as typeof import("crypto")).createHash("sha256").update(`dockwall:${type}\0${project}\0${stack}\0${name}`).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((parseInt(h[16], 16) & 3) | 8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** `programUuid` of a resource named `name` in the running program's project and stack (program side, in constructors). */
export function stableUuidFor(type: string, name: string): string {
  const pulumi = require("@pulumi/pulumi") as typeof import("@pulumi/pulumi");
  return programUuid(type, pulumi.getProject(), pulumi.getStack(), name);
}

/** The uuid `check` fixes for `field`: given, else kept from the old inputs, else the program's `stableUuid`, else a fresh one. */
export function checkedUuid(olds: Record<string, unknown> | undefined, news: Record<string, unknown> | undefined, field = "uuid"): string {
  for (const v of [news?.[field], olds?.[field], news?.stableUuid]) if (typeof v === "string" && UUID_RE.test(v)) return v;
  return newUuid();
}

/** Bad input found by `check`; collects failures so all of them are reported at once. */
export class Checker {
  readonly failures: CheckFailure[] = [];

  fail(property: string, reason: string): void {
    this.failures.push({ property, reason });
  }

  /** A required non-empty string (unknown passes). */
  requiredString(property: string, v: unknown, max = 255): v is string {
    if (v === UNKNOWN) return false;
    if (typeof v !== "string" || v.trim() === "") {
      this.fail(property, `${property} is required: a non-empty string`);
      return false;
    }
    if (v.length > max) {
      this.fail(property, `${property} must be at most ${max} characters (got ${v.length})`);
      return false;
    }
    return true;
  }

  /** A Nova name (aggregate name or zone): printable characters only, not starting or ending with whitespace (Nova answers 400). */
  novaName(property: string, v: unknown): v is string {
    if (!this.requiredString(property, v)) return false;
    if (!/^[^\p{C}\p{Zl}\p{Zp}]*$/u.test(v) || /^\s|\s$/.test(v)) {
      this.fail(property, `${property} must be printable characters only and must not start or end with whitespace (Nova refuses it); got ${JSON.stringify(v).slice(0, 80)}`);
      return false;
    }
    return true;
  }

  optionalString(property: string, v: unknown, max = 255): void {
    if (v === undefined || v === null || v === UNKNOWN) return;
    this.requiredString(property, v, max);
  }

  /**
   * A Contrail object name (last fq-name element): no `:` (it separates fq-name parts) and no
   * characters illegal in XML (the 2.x API stores names in IF-MAP XML and answers 400).
   */
  contrailName(property: string, v: unknown): void {
    if (!this.requiredString(property, v)) return;
    const s = v as string;
    if (s.includes(":")) this.fail(property, `${property} must not contain ":" (it separates the parts of a Contrail fq-name); got "${printable(s)}"`);
    // eslint-disable-next-line no-control-regex
    if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/.test(s) || /[\ud800-\udfff]/.test(s.replace(/[\ud800-\udbff][\udc00-\udfff]/g, ""))) {
      this.fail(property, `${property} contains characters that are not allowed in XML (control characters or unpaired surrogates)`);
    }
    if (/[<>&"']/.test(s)) this.fail(property, `${property} must not contain < > & " or ' (got "${printable(s)}")`);
  }

  oneOf<T extends string>(property: string, v: unknown, allowed: readonly T[]): void {
    if (v === undefined || v === UNKNOWN) return;
    if (typeof v !== "string" || !allowed.includes(v as T)) {
      this.fail(property, `${property} must be one of ${allowed.map((a) => `"${a}"`).join(", ")}; got ${JSON.stringify(v)}`);
    }
  }

  integer(property: string, v: unknown, min: number, max: number): void {
    if (v === undefined || v === UNKNOWN) return;
    if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
      this.fail(property, `${property} must be an integer from ${min} to ${max}; got ${JSON.stringify(v)}`);
    }
  }

  boolean(property: string, v: unknown): void {
    if (v === undefined || v === UNKNOWN) return;
    if (typeof v !== "boolean") this.fail(property, `${property} must be true or false; got ${JSON.stringify(v)}`);
  }

  /** A map of string to string (Glance properties, aggregate metadata). */
  stringMap(property: string, v: unknown, maxKey = 255, maxValue = 255): void {
    if (v === undefined || v === UNKNOWN) return;
    if (!v || typeof v !== "object" || Array.isArray(v)) {
      this.fail(property, `${property} must be a map of strings`);
      return;
    }
    for (const [k, val] of Object.entries(v)) {
      if (val === UNKNOWN) continue;
      if (!k) this.fail(property, `${property} has an empty key`);
      else if (k.length > maxKey) this.fail(`${property}.${k.slice(0, 40)}`, `${property} keys must be at most ${maxKey} characters`);
      if (typeof val !== "string") this.fail(`${property}.${k}`, `${property}.${k} must be a string; got ${JSON.stringify(val)}`);
      else if (Buffer.byteLength(val) > maxValue) this.fail(`${property}.${k}`, `${property}.${k} must be at most ${maxValue} bytes`);
    }
  }

  /** A Neutron network id (uuid) or a Contrail fq-name "domain:project:network". */
  networkRef(property: string, v: unknown): void {
    if (!this.requiredString(property, v, 1024)) return;
    const s = v as string;
    if (UUID_RE.test(s)) return;
    const parts = s.split(":");
    if (parts.length !== 3 || parts.some((p) => !p)) {
      this.fail(property, `${property} must be a Neutron network id (uuid) or a Contrail fq-name "domain:project:network"; got "${printable(s)}"`);
    }
  }

  connection(v: unknown): void {
    if (v === undefined || v === null || v === UNKNOWN) return;
    if (typeof v !== "object" || Array.isArray(v)) {
      this.fail("connection", "connection must be an object (authUrl, username, password, projectName, … see the README)");
      return;
    }
    const known = new Set([
      "authUrl", "cloud", "username", "userId", "password", "projectName", "projectId", "userDomainName", "userDomainId",
      "projectDomainName", "projectDomainId", "domainName", "applicationCredentialId", "applicationCredentialName",
      "applicationCredentialSecret", "identityApiVersion", "region", "interface", "cacert", "insecure", "contrailApiUrl",
      "timeoutMs", "retries",
    ]);
    for (const k of Object.keys(v as object)) if (!known.has(k)) this.fail(`connection.${k}`, `connection.${k} is not a known setting (known: ${Array.from(known).join(", ")})`);
  }
}

function printable(s: string): string {
  const t = s.length > 80 ? `${s.slice(0, 80)}…` : s;
  // eslint-disable-next-line no-control-regex
  return t.replace(/[\u0000-\u001f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** Validate the connection eagerly only when it is fully known, so a bad setting fails at preview. */
export function checkConnectionResolvable(c: Checker, connection: ConnectionArgs | undefined): void {
  if (containsUnknown(connection)) return;
  try {
    resolveConnection({ connection, stackConfig: stackConfig(), env: process.env });
  } catch (e) {
    if ((e as { name?: string })?.name === "ConfigError") c.fail("connection", (e as Error).message);
    else throw e;
  }
}

export { ConfigError };

/** Poll `probe` until it returns a value, or throw after `timeoutMs` with `describe()`'s text. */
export async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>, intervalMs = 500): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let delay = Math.min(intervalMs, 200);
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() >= deadline) throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, delay));
    // Back off from 200 ms up to intervalMs, never past the deadline: an asynchronous change that
    // lands between polls is noticed within intervalMs (a longer cap made 10 parallel deletes slow).
    delay = Math.min(delay * 2, intervalMs, Math.max(deadline - Date.now(), 10));
  }
}

/** Turn a "d:p:n" string into an fq-name array. */
export function splitFqName(s: string): string[] {
  return s.split(":");
}
