import { describe, expect, it } from "vitest";
import { iniGet, iniOnly, iniSet, withListItem } from "../../provider/host/ini";

const NOVA = `# nova-compute.conf from the distribution
[DEFAULT]
# compute_driver = libvirt.LibvirtDriver is the default
compute_driver=libvirt.LibvirtDriver
debug = false

[libvirt]
virt_type=kvm
`;

describe("INI editing keeps everything it does not set", () => {
  it("replaces a value in place, keeping its style, comments and the other sections", () => {
    const r = iniSet(NOVA, [{ section: "DEFAULT", key: "compute_driver", value: "novadocker.virt.docker.DockerDriver" }]);
    expect(r.changed).toBe(true);
    expect(r.text).toBe(NOVA.replace("compute_driver=libvirt.LibvirtDriver\n", "compute_driver=novadocker.virt.docker.DockerDriver\n"));
    expect(iniGet(r.text, "DEFAULT", "compute_driver")).toBe("novadocker.virt.docker.DockerDriver");
    expect(iniGet(r.text, "libvirt", "virt_type")).toBe("kvm");
  });

  it("adds a missing section at the end and a missing key at the end of its section", () => {
    const r = iniSet(NOVA, [
      { section: "docker", key: "vif_driver", value: "novadocker.virt.docker.opencontrail.OpenContrailVIFDriver" },
      { section: "DEFAULT", key: "state_path", value: "/var/lib/nova" },
    ]);
    expect(r.text).toContain("debug = false\nstate_path = /var/lib/nova\n");
    expect(r.text.trimEnd().endsWith("[docker]\nvif_driver = novadocker.virt.docker.opencontrail.OpenContrailVIFDriver")).toBe(true);
    expect(r.text.startsWith("# nova-compute.conf from the distribution\n[DEFAULT]\n# compute_driver")).toBe(true);
  });

  it("is idempotent: a second run changes nothing", () => {
    const edits = [
      { section: "DEFAULT", key: "compute_driver", value: "novadocker.virt.docker.DockerDriver" },
      { section: "docker", key: "vif_driver", value: "x.Y" },
    ];
    const once = iniSet(NOVA, edits);
    const twice = iniSet(once.text, edits);
    expect(twice.changed).toBe(false);
    expect(twice.text).toBe(once.text);
  });

  it("sets every duplicate of a key (oslo.config takes the last one)", () => {
    const r = iniSet("[DEFAULT]\na = 1\nb = 2\na = 3\n", [{ section: "DEFAULT", key: "a", value: "9" }]);
    expect(r.text).toBe("[DEFAULT]\na = 9\nb = 2\na = 9\n");
  });

  it("ignores commented-out keys and keys of other sections", () => {
    expect(iniGet(NOVA, "DEFAULT", "virt_type")).toBeUndefined();
    expect(iniGet("[DEFAULT]\n#compute_driver = x\n", "DEFAULT", "compute_driver")).toBeUndefined();
    expect(iniGet("[DEFAULT]\n;compute_driver = x\n", "DEFAULT", "compute_driver")).toBeUndefined();
  });

  it("the seed's replace-everything mode writes only the given keys", () => {
    expect(iniOnly([{ section: "DEFAULT", key: "compute_driver", value: "d" }, { section: "docker", key: "vif_driver", value: "v" }])).toBe("[DEFAULT]\ncompute_driver = d\n\n[docker]\nvif_driver = v\n");
  });

  it("adds an item to a comma-separated list once", () => {
    expect(withListItem("ami,ari, aki,bare", "docker")).toBe("ami,ari,aki,bare,docker");
    expect(withListItem("ami,docker", "docker")).toBe("ami,docker");
    expect(withListItem(undefined, "docker")).toBe("docker");
  });
});
