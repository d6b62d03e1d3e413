/** Nova's microversion negotiation and its legacy URL forms. */
import { HttpError } from "../http/errors";
import type { Headers } from "../http/reply";
import type { RequestContext } from "../http/router";
import { novaError } from "./compute";

export const MIN_VERSION: [number, number] = [2, 1];
/** Pike's maximum: the newest release that still has Keystone v2.0 too. */
export const MAX_VERSION: [number, number] = [2, 53];

type Version = [number, number];

const versions = new WeakMap<RequestContext, Version>();

/** Whether the request asked for at least 2.<minor>. */
export function atLeast(ctx: RequestContext, minor: number): boolean {
  const v = versions.get(ctx) ?? MIN_VERSION;
  return v[1] >= minor;
}

/** Reads the microversion headers; returns the headers Nova echoes. Throws 400/406. */
export function negotiateMicroversion(ctx: RequestContext): Headers {
  const h = ctx.headers;
  const modern = typeof h["openstack-api-version"] === "string" ? h["openstack-api-version"] : undefined;
  const legacy = typeof h["x-openstack-nova-api-version"] === "string" ? h["x-openstack-nova-api-version"] : undefined;
  let requested: string | undefined;
  if (modern !== undefined) {
    const m = /^\s*compute\s+(\S+)\s*$/i.exec(modern.split(",").find((p) => /^\s*compute\s/i.test(p)) ?? "");
    requested = m?.[1];
  }
  requested ??= legacy;
  let version: Version = MIN_VERSION;
  if (requested !== undefined) {
    if (requested.toLowerCase() === "latest") version = MAX_VERSION;
    else {
      const m = /^(\d+)\.(0|[1-9]\d*)$/.exec(requested.trim());
      if (!m) throw novaError(400, `API Version String ${requested} is of invalid format. Must be of format MajorNum.MinorNum.`);
      version = [Number(m[1]), Number(m[2])];
      const cmp = (a: Version, b: Version) => a[0] - b[0] || a[1] - b[1];
      if (cmp(version, MIN_VERSION) < 0 || cmp(version, MAX_VERSION) > 0) {
        throw new HttpError(
          406,
          `Version ${requested} is not supported by the API. Minimum is ${MIN_VERSION.join(".")} and maximum is ${MAX_VERSION.join(".")}.`,
          { headers: echoHeaders(MIN_VERSION) },
        );
      }
    }
  }
  versions.set(ctx, version);
  return echoHeaders(version);
}

function echoHeaders(v: Version): Headers {
  return {
    "openstack-api-version": `compute ${v.join(".")}`,
    "x-openstack-nova-api-version": v.join("."),
    vary: "OpenStack-API-Version, X-OpenStack-Nova-API-Version",
  };
}

/** `/v2/<project>/x` and `/v2.1/<project>/x` → `/v2.1/x` (Juno-style endpoints carry the project id). */
export function normalizeNovaPath(path: string): string {
  const m = /^\/v2(?:\.1)?(?:\/([0-9a-f]{32}))?(\/.*)?$/.exec(path);
  if (!m || (m[1] === undefined && !path.startsWith("/v2.1"))) return path;
  return `/v2.1${m[2] ?? ""}`;
}
