/**
 * The lab hosts' rules without Docker: the INI reader (oslo.config's parsing) and what
 * nova-compute / glance-api do when they start with a given snapshot.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { IniParseError, iniValue, parseIni, parseList } from "./ini";
import {
  evaluateGlanceApi,
  evaluateNovaCompute,
  GENERIC_VIF_DRIVER,
  NOVA_DOCKER_DRIVER,
  NOVA_DOCKER_DRIVER_CLASS,
  OPENCONTRAIL_VIF_DRIVER,
  type ClassResolver,
  type ServiceSnapshot,
} from "./services";

const roles = path.join(__dirname, "image", "roles");
const shipped = (p: string) => fs.readFileSync(path.join(roles, p), "utf8");

describe("INI reader (oslo.config rules)", () => {
  it("reads sections, `=` and `:` assignments, comments, quotes; no inline comments", () => {
    const d = parseIni(
      "# top comment\n[DEFAULT]\na = 1\nb: two\n; semicolon comment\n#c = 3\nd = \"quoted value\"\ne = x # not a comment\nf=\n[Docker]\nvif_driver=V\n",
    );
    expect(iniValue(d, "DEFAULT", "a")).toBe("1");
    expect(iniValue(d, "DEFAULT", "b")).toBe("two");
    expect(iniValue(d, "DEFAULT", "c")).toBeUndefined();
    expect(iniValue(d, "DEFAULT", "d")).toBe("quoted value");
    expect(iniValue(d, "DEFAULT", "e")).toBe("x # not a comment");
    expect(iniValue(d, "DEFAULT", "f")).toBe("");
    expect(iniValue(d, "docker", "vif_driver")).toBe("V");
    expect(iniValue(d, "default", "a")).toBe("1");
  });

  it("lets the last value win, in a file and across files; continues indented lines", () => {
    const a = parseIni("[DEFAULT]\nk = first\nk = second\n[x]\nm = one\n  two\n\n");
    const b = parseIni("[DEFAULT]\nk = third\n");
    expect(iniValue(a, "DEFAULT", "k")).toBe("second");
    expect(iniValue([a, b], "DEFAULT", "k")).toBe("third");
    expect(iniValue([b, a], "DEFAULT", "k")).toBe("second");
    expect(iniValue(a, "x", "m")).toBe("one\ntwo");
  });

  it("fails like oslo.config on malformed lines", () => {
    const err = (text: string) => {
      try {
        parseIni(text);
      } catch (e) {
        expect(e).toBeInstanceOf(IniParseError);
        return (e as Error).message;
      }
      throw new Error("parsed");
    };
    expect(err("[DEFAULT]\nthis is not an assignment\n")).toBe("at line 2, No ':' or '=' found in assignment: 'this is not an assignment'");
    expect(err("[DEFAULT\n")).toBe("at line 1, Invalid section (must end with ]): '[DEFAULT'");
    expect(err(" indented = first\n")).toBe("at line 1, Unexpected continuation line: ' indented = first'");
    expect(err("k = v\n")).toMatch(/^at line 1, Section must be started before assignment/);
    expect(err("[DEFAULT]\n= v\n")).toBe("at line 2, Key cannot be empty: '= v'");
  });

  it("splits list options on commas", () => {
    expect(parseList("ami, ari ,aki,,docker")).toEqual(["ami", "ari", "aki", "docker"]);
    expect(parseList("")).toEqual([]);
  });

  it("parses the files the image ships", () => {
    for (const f of ["compute/etc/nova/nova.conf", "compute/etc/nova/nova-compute.conf", "controller/etc/glance/glance-api.conf"]) {
      expect(() => parseIni(shipped(f)), f).not.toThrow();
    }
    expect(iniValue(parseIni(shipped("compute/etc/nova/nova-compute.conf")), "DEFAULT", "compute_driver")).toBe("libvirt.LibvirtDriver");
    expect(iniValue(parseIni(shipped("compute/etc/nova/nova.conf")), "DEFAULT", "compute_driver")).toBeUndefined();
  });
});

function snap(files: Record<string, string | { error: string }>, more: Partial<ServiceSnapshot> = {}): ServiceSnapshot {
  return {
    user: "nova",
    groups: ["nova", "libvirtd", "docker"],
    files: Object.entries(files).map(([p, c]) => (typeof c === "string" ? { path: p, content: c } : { path: p, error: c.error, message: c.error })),
    dockerSocket: { exists: true, socket: true, access: true },
    ...more,
  };
}

/** nova-docker's classes as the lab's stand-in package defines them. */
const resolver: ClassResolver = async (names) => {
  const known: Record<string, string> = {
    [NOVA_DOCKER_DRIVER]: NOVA_DOCKER_DRIVER_CLASS,
    [NOVA_DOCKER_DRIVER_CLASS]: NOVA_DOCKER_DRIVER_CLASS,
    [OPENCONTRAIL_VIF_DRIVER]: OPENCONTRAIL_VIF_DRIVER,
    [GENERIC_VIF_DRIVER]: GENERIC_VIF_DRIVER,
  };
  return Object.fromEntries(names.map((n) => [n, known[n] ? { class: known[n] } : { error: `ImportError: No module named '${n.split(".")[0]}'` }]));
};

const NOVA_CONF = "/etc/nova/nova.conf";
const COMPUTE_CONF = "/etc/nova/nova-compute.conf";
const RECIPE = `[DEFAULT]\ncompute_driver = ${NOVA_DOCKER_DRIVER}\n[docker]\nvif_driver = ${OPENCONTRAIL_VIF_DRIVER}\n`;

describe("nova-compute starting", () => {
  const nova = (compute: string | { error: string }, more: Partial<ServiceSnapshot> = {}, novaConf: string = shipped("compute/etc/nova/nova.conf")) =>
    evaluateNovaCompute("dw-compute-1", snap({ [NOVA_CONF]: novaConf, [COMPUTE_CONF]: compute }, more), resolver);

  it("is a nova-docker host with the seed's two settings (and nova in group docker)", async () => {
    expect(await nova(RECIPE)).toEqual({ running: true, docker: true, driver: NOVA_DOCKER_DRIVER, vifDriver: OPENCONTRAIL_VIF_DRIVER, message: "" });
    const full = `[DEFAULT]\ncompute_driver=${NOVA_DOCKER_DRIVER_CLASS}\n[docker]\nvif_driver=${OPENCONTRAIL_VIF_DRIVER}\n`;
    expect(await nova(full)).toMatchObject({ running: true, docker: true });
  });

  it("runs libvirt as shipped: not a docker host", async () => {
    expect(await nova(shipped("compute/etc/nova/nova-compute.conf"))).toMatchObject({ running: true, docker: false, driver: "libvirt.LibvirtDriver" });
  });

  it("takes nova-compute.conf over nova.conf", async () => {
    const o = await nova("[DEFAULT]\ncompute_driver=libvirt.LibvirtDriver\n", {}, RECIPE);
    expect(o).toMatchObject({ running: true, docker: false, driver: "libvirt.LibvirtDriver" });
    expect(await nova("[DEFAULT]\nverbose=True\n", {}, RECIPE)).toMatchObject({ running: true, docker: true });
  });

  it("does not start without a driver, with a driver that does not load, or without the docker group", async () => {
    expect(await nova("[DEFAULT]\n")).toEqual({ running: false, reason: "Compute driver option required, but not specified" });
    expect(await nova(RECIPE.replace("DockerDriver", "DokerDriver"))).toMatchObject({ running: false, reason: expect.stringMatching(/^Unable to load the virtualization driver: /) });
    expect(await nova(RECIPE.replace("opencontrail.OpenContrail", "contrail.OpenContrail"))).toMatchObject({ running: false, reason: expect.stringMatching(/^Unable to load the virtualization driver: /) });
    const noGroup = await nova(RECIPE, { groups: ["nova", "libvirtd"], dockerSocket: { exists: true, socket: true, access: false } });
    expect(noGroup).toMatchObject({ running: false, reason: expect.stringMatching(/^NovaException: Docker daemon is not running or is not reachable \(check the rights on \/var\/run\/docker.sock\)/) });
  });

  it("fails boots with the generic VIF driver (the default when [docker] vif_driver is not set)", async () => {
    expect(await nova(`[DEFAULT]\ncompute_driver = ${NOVA_DOCKER_DRIVER}\n`)).toMatchObject({ running: true, docker: false, message: "Cannot setup network: Unexpected vif_type=vrouter" });
  });

  it("does not start when a config file cannot be read or parsed", async () => {
    expect(await nova({ error: "EACCES" })).toEqual({ running: false, reason: `ConfigFilesPermissionDeniedError: Failed to open some config files: ${COMPUTE_CONF}` });
    expect(await nova({ error: "ENOENT" })).toEqual({ running: false, reason: `ConfigFilesNotFoundError: Failed to find some config files: ${COMPUTE_CONF}` });
    expect(await nova(`${RECIPE}oops\n`)).toEqual({
      running: false,
      reason: `ConfigFileParseError: Failed to parse ${COMPUTE_CONF}: at line 5, No ':' or '=' found in assignment: 'oops'`,
    });
  });
});

describe("glance-api starting", () => {
  const GLANCE = "/etc/glance/glance-api.conf";
  const glance = (text: string | { error: string }) => evaluateGlanceApi(snap({ [GLANCE]: text }, { user: "glance", groups: ["glance"] }));

  it("takes container_formats from [image_format], else the legacy [DEFAULT], else Juno's default", () => {
    expect(glance(shipped("controller/etc/glance/glance-api.conf"))).toEqual({ running: true, containerFormats: ["ami", "ari", "aki", "bare", "ovf", "ova"], section: "image_format" });
    expect(glance("[DEFAULT]\ncontainer_formats = bare,docker\n[image_format]\ncontainer_formats = bare\n")).toMatchObject({ containerFormats: ["bare"], section: "image_format" });
    expect(glance("[DEFAULT]\ncontainer_formats = bare,docker\n[image_format]\n#container_formats = bare\n")).toMatchObject({ containerFormats: ["bare", "docker"], section: "DEFAULT" });
    expect(glance("[DEFAULT]\nverbose = True\n")).toMatchObject({ containerFormats: ["ami", "ari", "aki", "bare", "ovf", "ova"] });
  });

  it("does not start when its file cannot be read", () => {
    expect(glance({ error: "EACCES" })).toEqual({ running: false, reason: `ConfigFilesPermissionDeniedError: Failed to open some config files: ${GLANCE}` });
  });
});
