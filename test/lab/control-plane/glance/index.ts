/** The Glance service: version document, v2 and v1 routes. */
import { json } from "../http/reply";
import { Router } from "../http/router";
import type { ImageStore } from "./images";
import { addGlanceV1Routes } from "./v1";
import { addGlanceV2Routes } from "./v2";

export { glanceError } from "./schema";

export function glanceRouter(store: ImageStore, baseUrl: () => string): Router {
  const r = new Router();
  const versions = () =>
    json(300, {
      versions: [
        { id: "v2.3", status: "CURRENT", links: [{ rel: "self", href: `${baseUrl()}/v2/` }] },
        { id: "v1.1", status: "SUPPORTED", links: [{ rel: "self", href: `${baseUrl()}/v1/` }] },
      ],
    });
  r.get("/", versions);
  r.get("/versions", versions);
  addGlanceV2Routes(r, store);
  addGlanceV1Routes(r, store);
  return r;
}

/** Routes that need no token. */
export const GLANCE_PUBLIC = new Set(["/", "/versions"]);
