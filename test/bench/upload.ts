/**
 * One upload, in its own process so that its peak memory is its own (`npm run bench` runs it):
 *
 *   node lib/test/bench/upload.js dockwall <repo:tag>   DockwallImage check + create (docker save → Glance, hashed, verified)
 *   node lib/test/bench/upload.js plain <repo:tag>      docker save piped into a bare PUT /v2/images/{id}/file
 *
 * Connection from the OS_* environment (the lab's). Prints one JSON line: {ms, bytes, maxRssMiB}.
 */
import * as http from "http";
import { dockwallImageProvider as p } from "../../provider/resources/dockwallImage";
import { sessionFromEnv } from "../e2e/harness";

async function dockwall(ref: string): Promise<{ ms: number; bytes: number; cleanup: () => Promise<void> }> {
  const c = await p.check!({}, { imageRef: ref, properties: { bench: "dockwall" } });
  if (c.failures?.length) throw new Error(JSON.stringify(c.failures));
  const t0 = process.hrtime.bigint();
  const r = await p.create(c.inputs);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  return { ms, bytes: r.outs.sizeBytes, cleanup: () => p.delete!(r.id, r.outs) };
}

async function plain(ref: string): Promise<{ ms: number; bytes: number; cleanup: () => Promise<void> }> {
  const Docker = require("dockerode");
  const s = sessionFromEnv(process.env);
  const img = (await s.request("glance", { call: "create", method: "POST", path: "/v2/images", expect: [201], json: { name: `bench-plain-${Date.now()}`, container_format: "docker", disk_format: "raw" } })).json();
  const token = (await s.auth()).token;
  const url = new URL(`${await s.endpoint("glance")}/v2/images/${img.id}/file`);
  const t0 = process.hrtime.bigint();
  const src = await new Docker().getImage(ref).get();
  let bytes = 0;
  src.on("data", (b: Buffer) => (bytes += b.length));
  await new Promise<void>((resolve, reject) => {
    const req = http.request(url, { method: "PUT", headers: { "x-auth-token": token, "content-type": "application/octet-stream", "transfer-encoding": "chunked" } }, (res) => {
      res.resume();
      res.on("end", () => (res.statusCode === 204 ? resolve() : reject(new Error(`PUT answered ${res.statusCode}`))));
    });
    req.on("error", reject);
    src.pipe(req);
  });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  return { ms, bytes, cleanup: async () => void (await s.request("glance", { call: "delete", method: "DELETE", path: `/v2/images/${img.id}`, expect: [204] })) };
}

async function main(): Promise<void> {
  const [mode, ref] = process.argv.slice(2);
  const r = mode === "dockwall" ? await dockwall(ref) : mode === "plain" ? await plain(ref) : undefined;
  if (!r) throw new Error("usage: upload.js dockwall|plain <repo:tag>");
  const maxRssMiB = process.resourceUsage().maxRSS / 1024;
  await r.cleanup();
  console.log(JSON.stringify({ ms: r.ms, bytes: r.bytes, maxRssMiB }));
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
