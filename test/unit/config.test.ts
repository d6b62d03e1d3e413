/**
 * Connection resolution (provider/config.ts) against the rules in reference/openstack-apis.md §1–3
 * and DESIGN.md: source order, the credential group taken whole, Keystone version detection,
 * application credentials, default domains, interface names, the Contrail URL, CA bundles,
 * clouds.yaml search/secure.yaml/verify/auth_type, and that no error ever carries a secret.
 */
import { afterAll, describe, expect, it } from "vitest";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ConfigError, FileAccess, cloudsYamlCandidates, normalizeInterface, resolveConnection } from "../../provider/config";

const PASSWORD = "Pw-7f3Qz!unit-DISTINCTIVE";
const SECRET = "AppCredSecret-9Kx2-DISTINCTIVE";

const PEM = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUunit\n-----END CERTIFICATE-----\n";

/** An in-memory file system for clouds.yaml lookups; records every path probed. */
function memFiles(files: Record<string, string>, home = "/home/alice", cwd = "/srv/project"): FileAccess & { probed: string[] } {
  const probed: string[] = [];
  return {
    probed,
    exists: (p) => {
      probed.push(p);
      return Object.prototype.hasOwnProperty.call(files, p);
    },
    read: (p) => {
      if (!Object.prototype.hasOwnProperty.call(files, p)) throw new Error(`ENOENT ${p}`);
      return files[p];
    },
    home: () => home,
    cwd: () => cwd,
  };
}

const NO_FILES = memFiles({});

function cloudsYaml(cloud: string, authUrl: string, extra = "", authExtra = ""): string {
  return [
    "clouds:",
    `  ${cloud}:`,
    "    auth:",
    `      auth_url: ${authUrl}`,
    "      username: yamluser",
    `      password: "${PASSWORD}"`,
    "      project_name: yamlproject",
    ...(authExtra ? authExtra.split("\n").map((l) => `      ${l}`) : []),
    ...(extra ? extra.split("\n").map((l) => `    ${l}`) : []),
    "",
  ].join("\n");
}

const fullEnv = (over: Record<string, string | undefined> = {}) => ({
  OS_AUTH_URL: "http://env-keystone:5000/v3",
  OS_USERNAME: "envuser",
  OS_PASSWORD: PASSWORD,
  OS_PROJECT_NAME: "envproject",
  ...over,
});

/** Resolve and expect a ConfigError; returns its message. */
function refuse(input: Parameters<typeof resolveConnection>[0]): string {
  try {
    resolveConnection(input);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error("expected resolveConnection to throw a ConfigError, but it resolved");
}

describe("resolution order: connection > stack config (dockwall: > openstack:) > OS_* env > clouds.yaml", () => {
  const files = memFiles({ "/srv/project/clouds.yaml": cloudsYaml("lab", "http://yaml-keystone:5000/v3") });
  const stack = {
    "dockwall:authUrl": "http://dockwall-keystone:5000/v3",
    "dockwall:userName": "dwuser",
    "dockwall:password": PASSWORD,
    "dockwall:projectName": "dwproject",
    "openstack:authUrl": "http://openstack-keystone:5000/v3",
    "openstack:userName": "osuser",
    "openstack:password": PASSWORD,
    "openstack:tenantName": "osproject",
  };
  const connection = { authUrl: "http://conn-keystone:5000/v3", username: "connuser", password: PASSWORD, projectName: "connproject" };
  const env = fullEnv({ OS_CLOUD: "lab" });

  it("uses the connection first", () => {
    const r = resolveConnection({ connection, stackConfig: stack, env, files });
    expect(r.authUrl).toBe("http://conn-keystone:5000/v3");
    expect(r.username).toBe("connuser");
    expect(r.source).toBe("connection");
  });

  it("then dockwall:* stack config", () => {
    const r = resolveConnection({ stackConfig: stack, env, files });
    expect(r.authUrl).toBe("http://dockwall-keystone:5000/v3");
    expect(r.username).toBe("dwuser");
    expect(r.projectName).toBe("dwproject");
    expect(r.source).toBe("stack config");
  });

  it("then openstack:* stack config (tenantName read as the project)", () => {
    const os = Object.fromEntries(Object.entries(stack).filter(([k]) => k.startsWith("openstack:")));
    const r = resolveConnection({ stackConfig: os, env, files });
    expect(r.authUrl).toBe("http://openstack-keystone:5000/v3");
    expect(r.username).toBe("osuser");
    expect(r.projectName).toBe("osproject");
    expect(r.source).toBe("stack config");
  });

  it("then OS_* environment variables", () => {
    const r = resolveConnection({ env, files });
    expect(r.authUrl).toBe("http://env-keystone:5000/v3");
    expect(r.username).toBe("envuser");
    expect(r.source).toBe("environment");
  });

  it("then clouds.yaml through OS_CLOUD", () => {
    const r = resolveConnection({ env: { OS_CLOUD: "lab" }, files });
    expect(r.authUrl).toBe("http://yaml-keystone:5000/v3");
    expect(r.username).toBe("yamluser");
    expect(r.password).toBe(PASSWORD);
    expect(r.projectName).toBe("yamlproject");
    expect(r.source).toBe("clouds.yaml (lab)");
  });

  it("a cloud named in the connection selects the clouds.yaml cloud", () => {
    const r = resolveConnection({ connection: { cloud: "lab" }, env: {}, files });
    expect(r.source).toBe("clouds.yaml (lab)");
  });

  it("non-credential settings are looked up field by field across sources", () => {
    const r = resolveConnection({
      connection: { region: "ConnRegion" },
      stackConfig: { "openstack:endpointType": "internalURL" },
      env: fullEnv({ OS_REGION_NAME: "EnvRegion", OS_INTERFACE: "admin" }),
      files: NO_FILES,
    });
    expect(r.source).toBe("environment");
    expect(r.region).toBe("ConnRegion");
    expect(r.interface).toBe("internal");
  });

  it("stack-config timeouts and retries apply; defaults are 30000 ms and 4", () => {
    const d = resolveConnection({ env: fullEnv(), files: NO_FILES });
    expect(d.timeoutMs).toBe(30_000);
    expect(d.retries).toBe(4);
    const r = resolveConnection({ stackConfig: { "dockwall:timeoutMs": "1234", "dockwall:retries": "1" }, env: fullEnv(), files: NO_FILES });
    expect(r.timeoutMs).toBe(1234);
    expect(r.retries).toBe(1);
  });

  it("refuses when no source names an auth URL, naming every place looked in", () => {
    const m = refuse({ env: { OS_USERNAME: "u", OS_PASSWORD: PASSWORD }, files: NO_FILES });
    expect(m).toMatch(/auth URL/);
    expect(m).toContain("OS_AUTH_URL");
    expect(m).toContain("dockwall:authUrl");
    expect(m).toContain("OS_CLOUD");
  });
});

describe("the credential group is taken whole from the first source with an auth URL", () => {
  it("does not borrow a clouds.yaml password for an OS_* user", () => {
    const files = memFiles({ "/srv/project/clouds.yaml": cloudsYaml("lab", "http://yaml-keystone:5000/v3") });
    const m = refuse({ env: { OS_CLOUD: "lab", OS_AUTH_URL: "http://env-keystone:5000/v3", OS_USERNAME: "envuser", OS_PROJECT_NAME: "p" }, files });
    expect(m).toMatch(/password is required/);
    expect(m).toContain("environment");
  });

  it("ignores a connection username without authUrl when the environment provides auth", () => {
    const r = resolveConnection({ connection: { username: "connuser", password: "other-password" }, env: fullEnv(), files: NO_FILES });
    expect(r.username).toBe("envuser");
    expect(r.password).toBe(PASSWORD);
    expect(r.source).toBe("environment");
  });

  it("does not take the project or domain from a lower source", () => {
    const m = refuse({
      connection: { authUrl: "http://conn:5000/v3", username: "u", password: PASSWORD },
      env: fullEnv({ OS_USER_DOMAIN_NAME: "EnvDomain" }),
      files: NO_FILES,
    });
    expect(m).toMatch(/projectName/);
    expect(m).toContain("connection");
  });
});

describe("OS_* variables", () => {
  it("OS_TENANT_NAME is an alias of OS_PROJECT_NAME (and OS_TENANT_ID of OS_PROJECT_ID)", () => {
    const r = resolveConnection({ env: { OS_AUTH_URL: "http://k:5000/v2.0", OS_USERNAME: "admin", OS_PASSWORD: PASSWORD, OS_TENANT_NAME: "admin-tenant" }, files: NO_FILES });
    expect(r.projectName).toBe("admin-tenant");
    const byId = resolveConnection({ env: { OS_AUTH_URL: "http://k:5000/v2.0", OS_USERNAME: "admin", OS_PASSWORD: PASSWORD, OS_TENANT_ID: "t-123" }, files: NO_FILES });
    expect(byId.projectId).toBe("t-123");
  });

  it("OS_PROJECT_NAME wins over OS_TENANT_NAME", () => {
    const r = resolveConnection({ env: fullEnv({ OS_PROJECT_NAME: "proj", OS_TENANT_NAME: "tenant" }), files: NO_FILES });
    expect(r.projectName).toBe("proj");
  });

  it("OS_INSECURE=true turns verification off; default is on", () => {
    expect(resolveConnection({ env: fullEnv(), files: NO_FILES }).insecure).toBe(false);
    expect(resolveConnection({ env: fullEnv({ OS_INSECURE: "true" }), files: NO_FILES }).insecure).toBe(true);
    expect(resolveConnection({ env: fullEnv({ OS_INSECURE: "false" }), files: NO_FILES }).insecure).toBe(false);
  });
});

describe("Keystone version", () => {
  const env = (url: string, over: Record<string, string> = {}) => ({ OS_AUTH_URL: url, OS_USERNAME: "admin", OS_PASSWORD: PASSWORD, OS_TENANT_NAME: "admin", ...over });

  it("a /v2.0 path means Keystone v2.0 (trailing slash too)", () => {
    expect(resolveConnection({ env: env("http://ctrl:5000/v2.0"), files: NO_FILES }).identityApiVersion).toBe("2.0");
    const r = resolveConnection({ env: env("http://ctrl:5000/v2.0/"), files: NO_FILES });
    expect(r.identityApiVersion).toBe("2.0");
    expect(r.authUrl).toBe("http://ctrl:5000/v2.0");
  });

  it("a /v3 path, or no version path, means v3", () => {
    expect(resolveConnection({ env: env("http://ctrl:5000/v3"), files: NO_FILES }).identityApiVersion).toBe("3");
    expect(resolveConnection({ env: env("http://ctrl:5000"), files: NO_FILES }).identityApiVersion).toBe("3");
  });

  it("OS_IDENTITY_API_VERSION overrides the path; a bad value is refused", () => {
    expect(resolveConnection({ env: env("http://ctrl:5000", { OS_IDENTITY_API_VERSION: "2" }), files: NO_FILES }).identityApiVersion).toBe("2.0");
    expect(resolveConnection({ env: env("http://ctrl:5000/v2.0", { OS_IDENTITY_API_VERSION: "3" }), files: NO_FILES }).identityApiVersion).toBe("3");
    expect(refuse({ env: env("http://ctrl:5000", { OS_IDENTITY_API_VERSION: "4" }), files: NO_FILES })).toMatch(/identityApiVersion.*"2\.0" or "3"/);
  });

  it("v2.0 with a domain setting is refused (v2.0 has no domains)", () => {
    for (const k of ["OS_USER_DOMAIN_NAME", "OS_PROJECT_DOMAIN_ID", "OS_DOMAIN_NAME"]) {
      const m = refuse({ env: env("http://ctrl:5000/v2.0", { [k]: "Default" }), files: NO_FILES });
      expect(m).toMatch(/v2\.0 has no domains/);
    }
  });

  it("v2.0 gets no default domains", () => {
    const r = resolveConnection({ env: env("http://ctrl:5000/v2.0"), files: NO_FILES });
    expect(r.userDomainName).toBeUndefined();
    expect(r.projectDomainName).toBeUndefined();
  });

  it("a non-http auth URL and a non-URL are refused", () => {
    expect(refuse({ env: env("ftp://ctrl/v3"), files: NO_FILES })).toMatch(/http or https/);
    expect(refuse({ env: env("not a url"), files: NO_FILES })).toMatch(/not a URL/);
  });
});

describe("default domains for v3 password auth", () => {
  it('user and project domain default to "Default"', () => {
    const r = resolveConnection({ env: fullEnv(), files: NO_FILES });
    expect(r.authMethod).toBe("password");
    expect(r.userDomainName).toBe("Default");
    expect(r.projectDomainName).toBe("Default");
  });

  it("a domain id suppresses the default name; a user id needs no user domain", () => {
    const r = resolveConnection({ env: fullEnv({ OS_USER_DOMAIN_ID: "default", OS_PROJECT_DOMAIN_ID: "d2" }), files: NO_FILES });
    expect(r.userDomainName).toBeUndefined();
    expect(r.userDomainId).toBe("default");
    expect(r.projectDomainName).toBeUndefined();
    const byId = resolveConnection({ env: { OS_AUTH_URL: "http://k/v3", OS_USER_ID: "u-1", OS_PASSWORD: PASSWORD, OS_PROJECT_ID: "p-1" }, files: NO_FILES });
    expect(byId.userDomainName).toBeUndefined();
    expect(byId.projectDomainName).toBeUndefined();
  });

  it("domainName fans out to both domains", () => {
    const r = resolveConnection({ env: fullEnv({ OS_DOMAIN_NAME: "Corp" }), files: NO_FILES });
    expect(r.userDomainName).toBe("Corp");
    expect(r.projectDomainName).toBe("Corp");
    const r2 = resolveConnection({ env: fullEnv({ OS_DOMAIN_NAME: "Corp", OS_USER_DOMAIN_NAME: "Users" }), files: NO_FILES });
    expect(r2.userDomainName).toBe("Users");
    expect(r2.projectDomainName).toBe("Corp");
  });

  it("password auth requires a user, a password and a project", () => {
    expect(refuse({ env: { OS_AUTH_URL: "http://k/v3", OS_PASSWORD: PASSWORD, OS_PROJECT_NAME: "p" }, files: NO_FILES })).toMatch(/username/);
    expect(refuse({ env: { OS_AUTH_URL: "http://k/v3", OS_USERNAME: "u", OS_PROJECT_NAME: "p" }, files: NO_FILES })).toMatch(/password is required/);
    expect(refuse({ env: { OS_AUTH_URL: "http://k/v3", OS_USERNAME: "u", OS_PASSWORD: PASSWORD }, files: NO_FILES })).toMatch(/projectName/);
  });
});

describe("application credentials", () => {
  const base = { OS_AUTH_URL: "http://k:5000/v3" };

  it("by id with a secret: no user or project needed", () => {
    const r = resolveConnection({ env: { ...base, OS_APPLICATION_CREDENTIAL_ID: "ac-1", OS_APPLICATION_CREDENTIAL_SECRET: SECRET }, files: NO_FILES });
    expect(r.authMethod).toBe("application_credential");
    expect(r.applicationCredentialId).toBe("ac-1");
    expect(r.applicationCredentialSecret).toBe(SECRET);
  });

  it("by name needs the user: by id or by name (whose domain defaults to Default)", () => {
    const m = refuse({ env: { ...base, OS_APPLICATION_CREDENTIAL_NAME: "ci", OS_APPLICATION_CREDENTIAL_SECRET: SECRET }, files: NO_FILES });
    expect(m).toMatch(/needs the user/);
    const byUserId = resolveConnection({ env: { ...base, OS_APPLICATION_CREDENTIAL_NAME: "ci", OS_APPLICATION_CREDENTIAL_SECRET: SECRET, OS_USER_ID: "u-1" }, files: NO_FILES });
    expect(byUserId.authMethod).toBe("application_credential");
    expect(byUserId.userId).toBe("u-1");
    const byName = resolveConnection({ env: { ...base, OS_APPLICATION_CREDENTIAL_NAME: "ci", OS_APPLICATION_CREDENTIAL_SECRET: SECRET, OS_USERNAME: "alice" }, files: NO_FILES });
    expect(byName.username).toBe("alice");
    expect(byName.userDomainName).toBe("Default");
    const byNameDomain = resolveConnection({
      env: { ...base, OS_APPLICATION_CREDENTIAL_NAME: "ci", OS_APPLICATION_CREDENTIAL_SECRET: SECRET, OS_USERNAME: "alice", OS_USER_DOMAIN_ID: "corp" },
      files: NO_FILES,
    });
    expect(byNameDomain.userDomainId).toBe("corp");
    expect(byNameDomain.userDomainName).toBeUndefined();
  });

  it("needs the secret", () => {
    expect(refuse({ env: { ...base, OS_APPLICATION_CREDENTIAL_ID: "ac-1" }, files: NO_FILES })).toMatch(/applicationCredentialSecret is required/);
  });

  it("needs an id or a name", () => {
    expect(refuse({ env: { ...base, OS_APPLICATION_CREDENTIAL_SECRET: SECRET, OS_USERNAME: "alice" }, files: NO_FILES })).toMatch(/applicationCredentialId or applicationCredentialName/);
  });

  it("needs Keystone v3", () => {
    const m = refuse({ env: { OS_AUTH_URL: "http://k:5000/v2.0", OS_APPLICATION_CREDENTIAL_ID: "ac-1", OS_APPLICATION_CREDENTIAL_SECRET: SECRET }, files: NO_FILES });
    expect(m).toMatch(/need Keystone v3/);
  });
});

describe("interface / endpoint type", () => {
  it("normalises publicURL/internalURL/adminURL and any case; default public", () => {
    expect(normalizeInterface(undefined)).toBe("public");
    expect(normalizeInterface("publicURL")).toBe("public");
    expect(normalizeInterface("internalURL")).toBe("internal");
    expect(normalizeInterface("adminURL")).toBe("admin");
    expect(normalizeInterface("Internal")).toBe("internal");
  });

  it("OS_INTERFACE wins over OS_ENDPOINT_TYPE; OS_ENDPOINT_TYPE alone is read", () => {
    expect(resolveConnection({ env: fullEnv({ OS_ENDPOINT_TYPE: "publicURL" }), files: NO_FILES }).interface).toBe("public");
    expect(resolveConnection({ env: fullEnv({ OS_ENDPOINT_TYPE: "adminURL" }), files: NO_FILES }).interface).toBe("admin");
    expect(resolveConnection({ env: fullEnv({ OS_INTERFACE: "internal", OS_ENDPOINT_TYPE: "adminURL" }), files: NO_FILES }).interface).toBe("internal");
    expect(resolveConnection({ env: fullEnv(), files: NO_FILES }).interface).toBe("public");
  });

  it("a bad value is refused, listing the allowed ones", () => {
    const m = refuse({ env: fullEnv({ OS_INTERFACE: "private" }), files: NO_FILES });
    expect(m).toContain('"private"');
    expect(m).toMatch(/public, internal or admin/);
  });
});

describe("Contrail API URL", () => {
  it("defaults to <scheme>://<keystone host>:8082", () => {
    expect(resolveConnection({ env: fullEnv({ OS_AUTH_URL: "http://ctrl.example:5000/v3" }), files: NO_FILES }).contrailApiUrl).toBe("http://ctrl.example:8082");
    expect(resolveConnection({ env: fullEnv({ OS_AUTH_URL: "https://10.0.0.5/identity/v3" }), files: NO_FILES }).contrailApiUrl).toBe("https://10.0.0.5:8082");
  });

  it("keeps an IPv6 keystone host in brackets (once)", () => {
    expect(resolveConnection({ env: fullEnv({ OS_AUTH_URL: "http://[2001:db8::5]:5000/v3" }), files: NO_FILES }).contrailApiUrl).toBe("http://[2001:db8::5]:8082");
  });

  it("can be overridden (connection, DOCKWALL_CONTRAIL_API_URL, dockwall:contrailApiUrl); trailing slash dropped", () => {
    expect(resolveConnection({ env: fullEnv({ DOCKWALL_CONTRAIL_API_URL: "http://vnc:9100/" }), files: NO_FILES }).contrailApiUrl).toBe("http://vnc:9100");
    expect(resolveConnection({ stackConfig: { "dockwall:contrailApiUrl": "http://cfg:8082" }, env: fullEnv(), files: NO_FILES }).contrailApiUrl).toBe("http://cfg:8082");
    expect(
      resolveConnection({ connection: { contrailApiUrl: "https://conn:8443" }, stackConfig: { "dockwall:contrailApiUrl": "http://cfg:8082" }, env: fullEnv(), files: NO_FILES }).contrailApiUrl,
    ).toBe("https://conn:8443");
  });
});

describe("CA bundle (OS_CACERT)", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dockwall-unit-ca-"));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("reads a file path (real file system)", () => {
    const f = path.join(dir, "ca.pem");
    fs.writeFileSync(f, PEM);
    expect(resolveConnection({ env: fullEnv({ OS_CACERT: f }) }).cacert).toBe(PEM);
  });

  it("takes PEM contents as they are", () => {
    expect(resolveConnection({ connection: { authUrl: "https://k:5000/v3", username: "u", password: PASSWORD, projectName: "p", cacert: PEM }, env: {} }).cacert).toBe(PEM);
  });

  it("refuses a missing file, naming it", () => {
    const f = path.join(dir, "missing.pem");
    const m = refuse({ env: fullEnv({ OS_CACERT: f }) });
    expect(m).toContain(f);
    expect(m).toMatch(/does not exist/);
  });

  it("refuses a file with no PEM certificate", () => {
    const f = path.join(dir, "junk.txt");
    fs.writeFileSync(f, "hello");
    expect(refuse({ env: fullEnv({ OS_CACERT: f }) })).toMatch(/no PEM certificate/);
  });
});

describe("clouds.yaml", () => {
  const home = "/home/alice";
  const cwd = "/srv/project";
  const inCwd = `${cwd}/clouds.yaml`;
  const inHome = `${home}/.config/openstack/clouds.yaml`;
  const inEtc = "/etc/openstack/clouds.yaml";
  const explicit = "/opt/conf/my-clouds.yaml";

  it("candidate order: OS_CLIENT_CONFIG_FILE, ./, ~/.config/openstack/, /etc/openstack/", () => {
    const c = cloudsYamlCandidates({ OS_CLIENT_CONFIG_FILE: explicit }, memFiles({}, home, cwd));
    expect(c[0]).toBe(explicit);
    const idx = (p: string) => c.indexOf(p);
    expect(idx(inCwd)).toBeGreaterThan(0);
    expect(idx(inHome)).toBeGreaterThan(idx(inCwd));
    expect(idx(inEtc)).toBeGreaterThan(idx(inHome));
    expect(cloudsYamlCandidates({}, memFiles({}, home, cwd))[0]).toBe(inCwd);
  });

  it("the first file found wins", () => {
    const all = {
      [explicit]: cloudsYaml("lab", "http://explicit:5000/v3"),
      [inCwd]: cloudsYaml("lab", "http://cwd:5000/v3"),
      [inHome]: cloudsYaml("lab", "http://home:5000/v3"),
      [inEtc]: cloudsYaml("lab", "http://etc:5000/v3"),
    };
    const pick = (files: Record<string, string>, env: Record<string, string> = {}) =>
      resolveConnection({ env: { OS_CLOUD: "lab", ...env }, files: memFiles(files, home, cwd) }).authUrl;
    expect(pick(all, { OS_CLIENT_CONFIG_FILE: explicit })).toBe("http://explicit:5000/v3");
    expect(pick(all)).toBe("http://cwd:5000/v3");
    const { [inCwd]: _c, ...noCwd } = all;
    expect(pick(noCwd)).toBe("http://home:5000/v3");
    const { [inHome]: _h, ...onlyEtc } = noCwd;
    expect(pick(onlyEtc)).toBe("http://etc:5000/v3");
  });

  it("secure.yaml beside it overrides clouds.yaml values", () => {
    const files = memFiles(
      {
        [inCwd]: "clouds:\n  lab:\n    auth:\n      auth_url: http://k:5000/v3\n      username: u\n      password: old-password\n      project_name: p\n",
        [`${home}/.config/openstack/secure.yaml`]: `clouds:\n  lab:\n    auth:\n      password: "${PASSWORD}"\n`,
      },
      home,
      cwd,
    );
    const r = resolveConnection({ env: { OS_CLOUD: "lab" }, files });
    expect(r.password).toBe(PASSWORD);
    expect(r.username).toBe("u");
  });

  it("verify: false means insecure; region_name, interface and cacert are read", () => {
    const files = memFiles({ [inCwd]: cloudsYaml("lab", "https://k:5000/v3", "verify: false\nregion_name: RegionTwo\ninterface: internal") }, home, cwd);
    const r = resolveConnection({ env: { OS_CLOUD: "lab" }, files });
    expect(r.insecure).toBe(true);
    expect(r.region).toBe("RegionTwo");
    expect(r.interface).toBe("internal");
    const pemFiles = memFiles({ [inCwd]: cloudsYaml("lab", "https://k:5000/v3", "cacert: /etc/ssl/lab-ca.pem"), "/etc/ssl/lab-ca.pem": PEM }, home, cwd);
    const withCa = resolveConnection({ env: { OS_CLOUD: "lab" }, files: pemFiles });
    expect(withCa.cacert).toBe(PEM);
    expect(withCa.insecure).toBe(false);
  });

  it("auth_type: v2password means Keystone v2.0, with tenant_name as the project", () => {
    const yaml = "clouds:\n  juno:\n    auth_type: v2password\n    auth:\n      auth_url: http://ctrl:5000\n      username: admin\n      password: pw\n      tenant_name: admin\n";
    const r = resolveConnection({ env: { OS_CLOUD: "juno" }, files: memFiles({ [inCwd]: yaml }, home, cwd) });
    expect(r.identityApiVersion).toBe("2.0");
    expect(r.projectName).toBe("admin");
  });

  it("an unknown cloud is refused, naming the cloud and the file", () => {
    const m = refuse({ env: { OS_CLOUD: "nope" }, files: memFiles({ [inCwd]: cloudsYaml("lab", "http://k/v3") }, home, cwd) });
    expect(m).toContain('"nope"');
    expect(m).toContain(inCwd);
  });

  it("no clouds.yaml anywhere is refused, listing where it looked", () => {
    const m = refuse({ env: { OS_CLOUD: "lab" }, files: memFiles({}, home, cwd) });
    expect(m).toContain(inCwd);
    expect(m).toContain(inEtc);
  });

  it("invalid YAML is refused, naming the file, without echoing its contents", () => {
    // js-yaml quotes the lines around the error (cutting long ones): use a short password next to it.
    const short = "Zq9!xK7";
    for (const broken of [
      `clouds:\n  lab:\n    auth:\n      password: ${short}\n     username: [broken\n`,
      `clouds:\n  lab:\n    auth:\n      password: "${short}"\n      password: "${short}"\n`,
    ]) {
      const m = refuse({ env: { OS_CLOUD: "lab" }, files: memFiles({ [inCwd]: broken }, home, cwd) });
      expect(m).toContain(inCwd);
      expect(m).toMatch(/not valid YAML/);
      expect(m).not.toContain(short);
    }
  });
});

describe("no error message carries a secret", () => {
  const home = "/home/alice";
  const cwd = "/srv/project";
  const cases: { name: string; input: Parameters<typeof resolveConnection>[0] }[] = [
    { name: "missing project", input: { env: { OS_AUTH_URL: "http://k/v3", OS_USERNAME: "u", OS_PASSWORD: PASSWORD }, files: NO_FILES } },
    { name: "missing user", input: { env: { OS_AUTH_URL: "http://k/v3", OS_PASSWORD: PASSWORD, OS_PROJECT_NAME: "p" }, files: NO_FILES } },
    { name: "no auth url", input: { env: { OS_PASSWORD: PASSWORD }, files: NO_FILES } },
    { name: "bad interface", input: { env: fullEnv({ OS_INTERFACE: "sideways" }), files: NO_FILES } },
    { name: "bad version", input: { env: fullEnv({ OS_IDENTITY_API_VERSION: "9" }), files: NO_FILES } },
    { name: "v2.0 with domain", input: { env: fullEnv({ OS_AUTH_URL: "http://k/v2.0", OS_USER_DOMAIN_NAME: "D" }), files: NO_FILES } },
    { name: "missing CA file", input: { env: fullEnv({ OS_CACERT: "/nonexistent/ca.pem" }), files: NO_FILES } },
    { name: "bad auth url", input: { connection: { authUrl: "::::", username: "u", password: PASSWORD, projectName: "p" }, env: {}, files: NO_FILES } },
    {
      name: "app credential on v2.0",
      input: { env: { OS_AUTH_URL: "http://k/v2.0", OS_APPLICATION_CREDENTIAL_ID: "a", OS_APPLICATION_CREDENTIAL_SECRET: SECRET, OS_PASSWORD: PASSWORD }, files: NO_FILES },
    },
    { name: "unknown cloud", input: { env: { OS_CLOUD: "other", OS_PASSWORD: PASSWORD }, files: memFiles({ [`${cwd}/clouds.yaml`]: cloudsYaml("lab", "http://k/v3") }, home, cwd) } },
    {
      name: "clouds.yaml with a missing project",
      input: { env: { OS_CLOUD: "lab" }, files: memFiles({ [`${cwd}/clouds.yaml`]: `clouds:\n  lab:\n    auth:\n      auth_url: http://k/v3\n      username: u\n      password: "${PASSWORD}"\n` }, home, cwd) },
    },
    {
      name: "stack config with a bad interface",
      input: { stackConfig: { "dockwall:authUrl": "http://k/v3", "dockwall:userName": "u", "dockwall:password": PASSWORD, "dockwall:projectName": "p", "dockwall:interface": "x" }, env: {}, files: NO_FILES },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const m = refuse(c.input);
      expect(m).not.toContain(PASSWORD);
      expect(m).not.toContain(SECRET);
    });
  }
});
