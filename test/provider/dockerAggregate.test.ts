import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dockerAggregateProvider as p } from "../../provider/resources/dockerAggregate";
import { NovaClient } from "../../provider/clients/nova";
import type { ConnectionArgs } from "../../provider/config";
import { checked, Lab, labWithConnection, requests, sessionOf } from "./helpers";

let lab: Lab;
let connection: ConnectionArgs;
let nova: NovaClient;

beforeAll(async () => {
  ({ lab, connection } = await labWithConnection({ computeHosts: ["dw-compute-1", "dw-compute-2", "dw-compute-3"] }));
  nova = new NovaClient(sessionOf(connection));
});
afterAll(async () => lab?.stop());

describe("DockerAggregate against the lab", () => {
  it("creates the aggregate with its zone and hosts, updates hosts/metadata/name in place, and deletes after removing hosts", async () => {
    const inputs = await checked(p, { connection, hosts: ["dw-compute-1"], metadata: { purpose: "nfv" } });
    const { id, outs } = await p.create(inputs);
    let agg = await nova.getAggregate(Number(id));
    expect(agg).toMatchObject({ name: "docker", availability_zone: "docker", hosts: ["dw-compute-1"] });
    expect(agg!.metadata).toMatchObject({ purpose: "nfv", availability_zone: "docker" });
    const svc = (await nova.listServices({ binary: "nova-compute", host: "dw-compute-1" }))[0];
    expect(svc.zone).toBe("docker");

    const read = await p.read!(id, outs);
    expect(read.props.metadata).toEqual({ purpose: "nfv" }); // the zone key is not user metadata
    expect((await p.diff!(id, read.props, inputs)).changes).toBe(false);
    expect((await p.diff!(id, outs, { ...inputs, hosts: [...inputs.hosts].reverse() })).changes).toBe(false);

    const next = { ...inputs, name: "docker-nfv", hosts: ["dw-compute-2", "dw-compute-3"], metadata: { owner: "net" } };
    const d = await p.diff!(id, outs, next);
    expect(d).toMatchObject({ changes: true, replaces: [] });
    const up = await p.update!(id, outs, next);
    agg = await nova.getAggregate(Number(id));
    expect(agg!.name).toBe("docker-nfv");
    expect([...agg!.hosts].sort()).toEqual(["dw-compute-2", "dw-compute-3"]);
    expect(agg!.metadata).toEqual({ owner: "net", availability_zone: "docker" });

    await p.delete!(id, up.outs);
    expect(await nova.getAggregate(Number(id))).toBeUndefined();
    await p.delete!(id, up.outs); // gone: done
  });

  it("refuses an unknown host before creating anything", async () => {
    lab.counters.reset();
    const inputs = await checked(p, { connection, hosts: ["no-such-host"] });
    await expect(p.create(inputs)).rejects.toThrow(/hosts: "no-such-host" is not a nova-compute service host \(known: dw-compute-1/);
    expect(requests(lab, /^nova POST \/os-aggregates$/)).toBe(0);
  });

  it("refuses a host already in another availability zone", async () => {
    const other = await p.create(await checked(p, { connection, name: "other", availabilityZone: "elsewhere", hosts: ["dw-compute-1"] }));
    const inputs = await checked(p, { connection, hosts: ["dw-compute-1"] });
    await expect(p.create(inputs)).rejects.toThrow(/already in availability zone "elsewhere"/);
    await p.delete!(other.id, other.outs);
  });

  it("reports Nova's 409 when the name is taken, and leaves no aggregate behind", async () => {
    const first = await p.create(await checked(p, { connection, name: "taken", hosts: ["dw-compute-2"] }));
    await expect(p.create(await checked(p, { connection, name: "taken", hosts: ["dw-compute-2"] }))).rejects.toThrow(/409/);
    expect((await nova.listAggregates()).filter((a) => a.name === "taken")).toHaveLength(1);
    await p.delete!(first.id, first.outs);
  });

  it("removes the aggregate again when adding a host fails half-way", async () => {
    lab.faults.add({ service: "nova", method: "POST", path: "/action$", kind: "status", status: 409, body: '{"conflictingRequest": {"code": 409, "message": "injected"}}', times: 1 });
    const inputs = await checked(p, { connection, name: "half", hosts: ["dw-compute-3"] });
    await expect(p.create(inputs)).rejects.toThrow(/injected.*removed again/);
    lab.faults.clear();
    expect((await nova.listAggregates()).filter((a) => a.name === "half")).toHaveLength(0);
  });

  it("refuses bad input in check", async () => {
    const r = await p.check!({}, { connection, availabilityZone: "nova", hosts: ["a", "a", "bad host"], metadata: { availability_zone: "x" } });
    expect(r.failures!.map((f) => f.property).sort()).toEqual(["availabilityZone", "hosts", "hosts[2]", "metadata.availability_zone"]);
  });
});
