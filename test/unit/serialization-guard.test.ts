/**
 * Pulumi's closure serializer copies captured module-level values into the serialized provider.
 * A captured Set or Map arrives as a plain object ("Method Set.prototype.has called on incompatible
 * receiver"), which broke DockwallImage under the real engine once. This guard keeps module-level
 * Sets and Maps out of everything a dynamic provider can capture.
 */
import * as fs from "fs";
import * as path from "path";
import { describe, expect, it } from "vitest";

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sources(p);
    return e.name.endsWith(".ts") && !e.name.endsWith(".d.ts") ? [p] : [];
  });
}

describe("serialized providers capture no module-level Set or Map", () => {
  const root = path.resolve(__dirname, "..", "..", "provider");
  const files = sources(root).filter((f) => !f.includes(`${path.sep}components${path.sep}`));

  it("scans the provider sources", () => {
    expect(files.length).toBeGreaterThan(10);
  });

  it.each(files.map((f) => [path.relative(root, f), f]))("%s", (_rel, file) => {
    const offending = fs
      .readFileSync(file, "utf8")
      .split("\n")
      .map((line, i) => ({ line, n: i + 1 }))
      .filter(({ line }) => /^(export\s+)?(const|let|var)\s+\w+[^=]*=\s*new\s+(Set|Map|WeakMap|WeakSet)\b/.test(line));
    expect(offending.map((o) => `${o.n}: ${o.line.trim()}`)).toEqual([]);
  });
});

describe("errors survive Pulumi's closure serialization", () => {
  it("an ApiError thrown inside a serialized function keeps its message and is recognised by isApiError", async () => {
    const pulumi = await import("@pulumi/pulumi");
    const { ApiError, isApiError } = await import("../../provider/clients/http");
    const fn = () => {
      throw new ApiError({ service: "nova", call: "read server x", method: "GET", url: "http://127.0.0.1:1/v2.1/servers/x", status: 404, serverMessage: "Instance x could not be found." });
    };
    const check = (e: unknown) => ({ message: (e as Error).message, is404: isApiError(e, 404) });
    const sf = await pulumi.runtime.serializeFunction(() => ({ fn, check }));
    const mod: { exports: any } = { exports: {} };
    new Function("exports", "require", "module", sf.text)(mod.exports, require, mod);
    const { fn: sfn, check: scheck } = mod.exports[sf.exportName]();
    let thrown: unknown;
    try {
      sfn();
    } catch (e) {
      thrown = e;
    }
    expect(scheck(thrown)).toEqual({ message: "nova: read server x failed: HTTP 404 from GET http://127.0.0.1:1/v2.1/servers/x: Instance x could not be found.", is404: true });
    // What the gRPC layer sends back as the error text ("Unknown Error" when there is no message).
    expect("message" in (thrown as object)).toBe(true);
  });
});
