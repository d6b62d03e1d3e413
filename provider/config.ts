/**
 * Connection settings, resolved in this order (first that sets a value wins, per field group):
 *
 *   1. the secret `connection` input of a resource or component;
 *   2. stack config, read by the dynamic provider's `configure()`: `dockwall:*` keys, then the
 *      stock provider's `openstack:*` keys;
 *   3. `OS_*` environment variables;
 *   4. `clouds.yaml` (cloud named by `OS_CLOUD`, or `cloud` in the connection/config), searched in
 *      `OS_CLIENT_CONFIG_FILE`, `./`, `~/.config/openstack/`, `/etc/openstack/`; `secure.yaml` beside
 *      it overrides.
 *
 * A source is taken whole for the credential group (an `OS_*` username is never mixed with a
 * clouds.yaml password): the first source that names an auth URL provides auth; other settings
 * (region, interface, CA bundle, Contrail URL) are looked up field by field.
 *
 * Nothing in here logs or throws a secret.
 */

/** The secret `connection` object a resource or component may be given. */
export interface ConnectionArgs {
  /** Keystone URL, e.g. `https://keystone:5000/v3` or `http://ctrl:5000/v2.0`. */
  authUrl?: string;
  /** Name of a cloud in clouds.yaml. */
  cloud?: string;
  username?: string;
  userId?: string;
  password?: string;
  /** Project (v3) or tenant (v2.0) name. */
  projectName?: string;
  projectId?: string;
  userDomainName?: string;
  userDomainId?: string;
  projectDomainName?: string;
  projectDomainId?: string;
  /** Sets both the user and the project domain name when those are not given. */
  domainName?: string;
  applicationCredentialId?: string;
  applicationCredentialName?: string;
  applicationCredentialSecret?: string;
  /** "2.0" or "3"; by default derived from the auth URL path (`/v2.0` means 2.0), else 3. */
  identityApiVersion?: string;
  region?: string;
  /** Catalog interface: public (default), internal or admin (`publicURL` etc. accepted). */
  interface?: string;
  /** PEM contents of a CA bundle, or a path to one. */
  cacert?: string;
  /** Turn TLS verification off. Explicit and loudly logged. */
  insecure?: boolean;
  /** Contrail config API base URL; default `http(s)://<keystone host>:8082`. */
  contrailApiUrl?: string;
  /** Per-request timeout in ms (default 30000). */
  timeoutMs?: number;
  /** Retries for idempotent calls (default 4). */
  retries?: number;
}

export type AuthMethod = "password" | "application_credential";

export interface ResolvedConnection {
  authUrl: string;
  identityApiVersion: "2.0" | "3";
  authMethod: AuthMethod;
  username?: string;
  userId?: string;
  password?: string;
  projectName?: string;
  projectId?: string;
  userDomainName?: string;
  userDomainId?: string;
  projectDomainName?: string;
  projectDomainId?: string;
  applicationCredentialId?: string;
  applicationCredentialName?: string;
  applicationCredentialSecret?: string;
  region?: string;
  /** Normalized: public | internal | admin. */
  interface: "public" | "internal" | "admin";
  /** PEM contents. */
  cacert?: string;
  insecure: boolean;
  contrailApiUrl: string;
  timeoutMs: number;
  retries: number;
  /** Where the credentials came from (for messages): "connection", "stack config", "environment", "clouds.yaml (<cloud>)". */
  source: string;
}

/** Stack config as `configure()` hands it to a dynamic provider: full keys, plain values. */
export type StackConfig = Record<string, string | undefined>;

/** Config keys read from stack config, under `dockwall:` and then `openstack:`. */
export const STACK_CONFIG_KEYS = [
  "authUrl", "cloud", "userName", "username", "userId", "password", "tenantName", "projectName", "tenantId", "projectId",
  "userDomainName", "userDomainId", "projectDomainName", "projectDomainId", "domainName",
  "applicationCredentialId", "applicationCredentialName", "applicationCredentialSecret",
  "region", "endpointType", "interface", "cacertFile", "cacert", "insecure", "contrailApiUrl", "identityApiVersion",
  "timeoutMs", "retries",
] as const;

/** A connection-setting problem the user must fix; names the setting and its source. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.message = message; // see ApiError: serialized providers lose what `super` sets
    this.name = "ConfigError";
  }
}

type Partial0 = Partial<Record<keyof ConnectionArgs, any>>;

function clean(o: Partial0): Partial0 {
  const out: Partial0 = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined && v !== null && v !== "") (out as any)[k] = v;
  return out;
}

/** Read the dockwall settings out of stack config (`dockwall:x`, falling back to `openstack:x`). */
export function fromStackConfig(cfg: StackConfig | undefined): Partial0 {
  if (!cfg) return {};
  const get = (k: string): string | undefined => cfg[`dockwall:${k}`] ?? cfg[`openstack:${k}`];
  return clean({
    authUrl: get("authUrl"),
    cloud: get("cloud"),
    username: get("userName") ?? get("username"),
    userId: get("userId"),
    password: get("password"),
    projectName: get("projectName") ?? get("tenantName"),
    projectId: get("projectId") ?? get("tenantId"),
    userDomainName: get("userDomainName"),
    userDomainId: get("userDomainId"),
    projectDomainName: get("projectDomainName"),
    projectDomainId: get("projectDomainId"),
    domainName: get("domainName"),
    applicationCredentialId: get("applicationCredentialId"),
    applicationCredentialName: get("applicationCredentialName"),
    applicationCredentialSecret: get("applicationCredentialSecret"),
    identityApiVersion: get("identityApiVersion"),
    region: get("region"),
    interface: get("interface") ?? get("endpointType"),
    cacert: get("cacert") ?? get("cacertFile"),
    insecure: parseBool(get("insecure")),
    contrailApiUrl: cfg["dockwall:contrailApiUrl"],
    timeoutMs: parseNum(cfg["dockwall:timeoutMs"]),
    retries: parseNum(cfg["dockwall:retries"]),
  });
}

/** Read the `OS_*` environment variables (keystoneauth / openstacksdk names). */
export function fromEnv(env: Record<string, string | undefined>): Partial0 {
  return clean({
    authUrl: env.OS_AUTH_URL,
    cloud: env.OS_CLOUD,
    username: env.OS_USERNAME,
    userId: env.OS_USER_ID,
    password: env.OS_PASSWORD,
    projectName: env.OS_PROJECT_NAME ?? env.OS_TENANT_NAME,
    projectId: env.OS_PROJECT_ID ?? env.OS_TENANT_ID,
    userDomainName: env.OS_USER_DOMAIN_NAME,
    userDomainId: env.OS_USER_DOMAIN_ID,
    projectDomainName: env.OS_PROJECT_DOMAIN_NAME,
    projectDomainId: env.OS_PROJECT_DOMAIN_ID,
    domainName: env.OS_DOMAIN_NAME ?? env.OS_DEFAULT_DOMAIN_NAME,
    applicationCredentialId: env.OS_APPLICATION_CREDENTIAL_ID,
    applicationCredentialName: env.OS_APPLICATION_CREDENTIAL_NAME,
    applicationCredentialSecret: env.OS_APPLICATION_CREDENTIAL_SECRET,
    identityApiVersion: env.OS_IDENTITY_API_VERSION,
    region: env.OS_REGION_NAME,
    interface: env.OS_INTERFACE ?? env.OS_ENDPOINT_TYPE,
    cacert: env.OS_CACERT,
    insecure: parseBool(env.OS_INSECURE),
    contrailApiUrl: env.DOCKWALL_CONTRAIL_API_URL,
  });
}

function parseBool(v: string | boolean | undefined): boolean | undefined {
  if (v === undefined || v === "") return undefined;
  if (typeof v === "boolean") return v;
  return /^(1|true|yes|on)$/i.test(v.trim());
}

function parseNum(v: string | undefined): number | undefined {
  if (v === undefined || v === "") return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
}

/** File access used by clouds.yaml lookup, injectable for tests. */
export interface FileAccess {
  exists(path: string): boolean;
  read(path: string): string;
  home(): string;
  cwd(): string;
}

export const nodeFiles: FileAccess = {
  exists: (p) => require("fs").existsSync(p),
  read: (p) => require("fs").readFileSync(p, "utf8"),
  home: () => require("os").homedir(),
  cwd: () => process.cwd(),
};

/** The clouds.yaml search path, in openstacksdk's order. */
export function cloudsYamlCandidates(env: Record<string, string | undefined>, files: FileAccess, base = "clouds"): string[] {
  const path = require("path") as typeof import("path");
  const names = [`${base}.yaml`, `${base}.yml`];
  const dirs = [files.cwd(), path.join(files.home(), ".config", "openstack"), "/etc/openstack"];
  const out: string[] = [];
  const explicit = base === "clouds" ? env.OS_CLIENT_CONFIG_FILE : env.OS_CLIENT_SECURE_FILE;
  if (explicit) out.push(explicit);
  for (const d of dirs) for (const n of names) out.push(path.join(d, n));
  return out;
}

/** Load one cloud from clouds.yaml (+ secure.yaml), mapped to connection fields. */
export function fromCloudsYaml(cloudName: string, env: Record<string, string | undefined>, files: FileAccess = nodeFiles): Partial0 {
  const yaml = require("js-yaml") as typeof import("js-yaml");
  const load = (base: string): { file?: string; cloud?: any } => {
    for (const f of cloudsYamlCandidates(env, files, base)) {
      if (!files.exists(f)) continue;
      let doc: any;
      try {
        doc = yaml.load(files.read(f));
      } catch (e) {
        throw new ConfigError(`${f} is not valid YAML: ${(e as Error).message.split("\n")[0]}`);
      }
      return { file: f, cloud: doc?.clouds?.[cloudName] };
    }
    return {};
  };
  const main = load("clouds");
  if (!main.file) throw new ConfigError(`OS_CLOUD/cloud is "${cloudName}" but no clouds.yaml was found (looked in ${cloudsYamlCandidates(env, files).join(", ")})`);
  if (!main.cloud) throw new ConfigError(`cloud "${cloudName}" is not defined in ${main.file}`);
  const secure = load("secure").cloud ?? {};
  const c = deepMerge(main.cloud, secure);
  const a = c.auth ?? {};
  const authType: string = c.auth_type ?? "password";
  return clean({
    authUrl: a.auth_url,
    username: a.username ?? a.user_name,
    userId: a.user_id,
    password: a.password,
    projectName: a.project_name ?? a.tenant_name,
    projectId: a.project_id ?? a.tenant_id,
    userDomainName: a.user_domain_name,
    userDomainId: a.user_domain_id,
    projectDomainName: a.project_domain_name,
    projectDomainId: a.project_domain_id,
    domainName: a.domain_name ?? a.default_domain_name,
    applicationCredentialId: a.application_credential_id,
    applicationCredentialName: a.application_credential_name,
    applicationCredentialSecret: a.application_credential_secret,
    identityApiVersion: c.identity_api_version !== undefined ? String(c.identity_api_version) : authType === "v2password" ? "2.0" : undefined,
    region: c.region_name ?? (Array.isArray(c.regions) ? (typeof c.regions[0] === "string" ? c.regions[0] : c.regions[0]?.name) : undefined),
    interface: c.interface ?? c.endpoint_type,
    cacert: c.cacert,
    // openstacksdk: verify: false wins over cacert; insecure is its deprecated inverse.
    insecure: c.verify === false ? true : parseBool(c.insecure),
    contrailApiUrl: c.contrail_api_url,
  });
}

function deepMerge(a: any, b: any): any {
  if (!b || typeof b !== "object") return a;
  const out: any = { ...(a ?? {}) };
  for (const [k, v] of Object.entries(b)) {
    out[k] = v && typeof v === "object" && !Array.isArray(v) ? deepMerge(out[k], v) : v;
  }
  return out;
}

const CREDENTIAL_FIELDS = [
  "authUrl", "username", "userId", "password", "projectName", "projectId", "userDomainName", "userDomainId",
  "projectDomainName", "projectDomainId", "domainName", "applicationCredentialId", "applicationCredentialName",
  "applicationCredentialSecret", "identityApiVersion",
] as const;

export interface ResolveInput {
  connection?: ConnectionArgs;
  stackConfig?: StackConfig;
  env?: Record<string, string | undefined>;
  files?: FileAccess;
}

/** Resolve and validate the connection; throws `ConfigError` naming what is missing and where it was looked for. */
export function resolveConnection(input: ResolveInput = {}): ResolvedConnection {
  const env = input.env ?? process.env;
  const files = input.files ?? nodeFiles;
  const layers: { name: string; v: Partial0 }[] = [
    { name: "connection", v: clean((input.connection ?? {}) as Partial0) },
    { name: "stack config", v: fromStackConfig(input.stackConfig) },
    { name: "environment", v: fromEnv(env) },
  ];
  const cloudName = layers.map((l) => l.v.cloud).find((c) => c);
  if (cloudName) layers.push({ name: `clouds.yaml (${cloudName})`, v: fromCloudsYaml(cloudName, env, files) });

  // The credential group comes whole from the first layer that names an auth URL.
  const authLayer = layers.find((l) => l.v.authUrl);
  if (!authLayer) {
    throw new ConfigError(
      "no OpenStack auth URL: set the connection's authUrl, stack config dockwall:authUrl (or openstack:authUrl), OS_AUTH_URL, or OS_CLOUD with a clouds.yaml",
    );
  }
  const creds: Partial0 = {};
  for (const f of CREDENTIAL_FIELDS) if (authLayer.v[f] !== undefined) (creds as any)[f] = authLayer.v[f];
  const pick = <K extends keyof ConnectionArgs>(k: K): any => layers.map((l) => l.v[k]).find((v) => v !== undefined);

  const authUrl = String(creds.authUrl).replace(/\/+$/, "");
  let parsedAuth: URL;
  try {
    parsedAuth = new URL(authUrl);
  } catch {
    throw new ConfigError(`authUrl (from ${authLayer.name}) is not a URL: "${authUrl}"`);
  }
  if (!/^https?:$/.test(parsedAuth.protocol)) throw new ConfigError(`authUrl (from ${authLayer.name}) must be http or https, got "${parsedAuth.protocol}"`);

  let version: "2.0" | "3";
  const explicitVersion = creds.identityApiVersion !== undefined ? String(creds.identityApiVersion) : undefined;
  if (explicitVersion !== undefined) {
    if (/^2(\.0)?$/.test(explicitVersion)) version = "2.0";
    else if (/^3(\.\d+)?$/.test(explicitVersion)) version = "3";
    else throw new ConfigError(`identityApiVersion (from ${authLayer.name}) must be "2.0" or "3", got "${explicitVersion}"`);
  } else {
    version = /\/v2\.0$/.test(parsedAuth.pathname) ? "2.0" : "3";
  }

  const domainName = creds.domainName;
  const resolved: ResolvedConnection = {
    authUrl,
    identityApiVersion: version,
    authMethod: creds.applicationCredentialSecret || creds.applicationCredentialId ? "application_credential" : "password",
    username: creds.username,
    userId: creds.userId,
    password: creds.password,
    projectName: creds.projectName,
    projectId: creds.projectId,
    userDomainName: creds.userDomainName ?? (creds.userDomainId ? undefined : domainName),
    userDomainId: creds.userDomainId,
    projectDomainName: creds.projectDomainName ?? (creds.projectDomainId ? undefined : domainName),
    projectDomainId: creds.projectDomainId,
    applicationCredentialId: creds.applicationCredentialId,
    applicationCredentialName: creds.applicationCredentialName,
    applicationCredentialSecret: creds.applicationCredentialSecret,
    region: pick("region"),
    interface: normalizeInterface(pick("interface")),
    cacert: undefined,
    insecure: pick("insecure") === true,
    contrailApiUrl: "",
    timeoutMs: Number(pick("timeoutMs") ?? 30_000),
    retries: Number(pick("retries") ?? 4),
    source: authLayer.name,
  };

  const cacert = pick("cacert");
  if (cacert) resolved.cacert = loadCa(String(cacert), files);

  const contrail = pick("contrailApiUrl");
  // URL.hostname keeps the brackets of an IPv6 literal ("[2001:db8::1]"): use it as it is.
  resolved.contrailApiUrl = contrail ? String(contrail).replace(/\/+$/, "") : `${parsedAuth.protocol}//${parsedAuth.hostname}:8082`;

  validateCredentials(resolved);
  return resolved;
}

export function normalizeInterface(v: string | undefined): "public" | "internal" | "admin" {
  if (!v) return "public";
  const s = v.toLowerCase().replace(/url$/, "");
  if (s === "public" || s === "internal" || s === "admin") return s;
  throw new ConfigError(`interface/endpoint type must be public, internal or admin (publicURL, internalURL, adminURL), got "${v}"`);
}

function loadCa(v: string, files: FileAccess): string {
  if (v.includes("-----BEGIN")) return v;
  if (!files.exists(v)) throw new ConfigError(`cacert: file "${v}" does not exist`);
  const pem = files.read(v);
  if (!pem.includes("-----BEGIN CERTIFICATE-----")) throw new ConfigError(`cacert: "${v}" holds no PEM certificate`);
  return pem;
}

function validateCredentials(c: ResolvedConnection): void {
  const where = `(credentials from ${c.source})`;
  if (c.authMethod === "application_credential") {
    if (c.identityApiVersion === "2.0") throw new ConfigError(`application credentials need Keystone v3, but the auth URL is a v2.0 one ${where}`);
    if (!c.applicationCredentialSecret) throw new ConfigError(`applicationCredentialSecret is required with an application credential ${where}`);
    if (!c.applicationCredentialId && !c.applicationCredentialName) throw new ConfigError(`applicationCredentialId or applicationCredentialName is required ${where}`);
    if (!c.applicationCredentialId && !c.userId && !c.username) throw new ConfigError(`an application credential given by name also needs the user (userId, or username with userDomainName) ${where}`);
    // A user given by name needs its domain (Keystone: "Expecting to find domain in user"); same default as password auth.
    if (!c.applicationCredentialId && !c.userId && !c.userDomainName && !c.userDomainId) c.userDomainName = "Default";
    return;
  }
  if (!c.username && !c.userId) throw new ConfigError(`username (or userId) is required for password auth ${where}`);
  if (!c.password) throw new ConfigError(`password is required for password auth ${where}`);
  if (!c.projectName && !c.projectId) throw new ConfigError(`projectName (tenant) or projectId is required ${where}`);
  if (c.identityApiVersion === "2.0") {
    if (c.userDomainName || c.userDomainId || c.projectDomainName || c.projectDomainId) {
      // keystoneauth refuses the same: "Cannot use v2 authentication with domain scope".
      throw new ConfigError(`Keystone v2.0 has no domains: remove the domain settings or use a v3 auth URL ${where}`);
    }
    return;
  }
  if (c.username && !c.userId && !c.userDomainName && !c.userDomainId) c.userDomainName = "Default";
  if (c.projectName && !c.projectId && !c.projectDomainName && !c.projectDomainId) c.projectDomainName = "Default";
}
