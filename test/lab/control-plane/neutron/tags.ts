/** Neutron's tag routes (`/v2.0/{networks,subnets,ports}/{id}/tags[/{tag}]`). */
import { empty, json } from "../http/reply";
import type { Router } from "../http/router";
import { isObject } from "../util/ids";
import { neutronError } from "./attributes";
import type { Network, Networking, Port, Subnet } from "./networking";

export function addTagRoutes(r: Router, net: Networking): void {
  type Tagged = Network | Subnet | Port;
  const resources: Record<string, ["network" | "subnet" | "port", (id: string) => Tagged]> = {
    networks: ["network", (id) => net.network(id)],
    subnets: ["subnet", (id) => net.subnet(id)],
    ports: ["port", (id) => net.port(id)],
  };
  for (const [collection, [kind, find]] of Object.entries(resources)) {
    const base = `/v2.0/${collection}/{id}/tags`;
    const setTags = (resource: Tagged, tags: string[]) => {
      resource.tags = tags;
      net.tagsChanged(kind, resource);
    };
    const missing = (tag: string) => neutronError(404, "TagNotFound", `Tag ${tag} could not be found.`);
    r.get(base, (ctx) => json(200, { tags: [...find(ctx.params.id).tags] }));
    r.put(base, async (ctx) => {
      const resource = find(ctx.params.id);
      const body = await ctx.json();
      if (!isObject(body) || !Array.isArray(body.tags) || body.tags.some((t) => typeof t !== "string")) {
        throw neutronError(400, "HTTPBadRequest", "Invalid input for tags. Reason: a list of strings is required.");
      }
      setTags(resource, [...new Set(body.tags as string[])]);
      return json(200, { tags: [...resource.tags] });
    });
    r.delete(base, (ctx) => {
      setTags(find(ctx.params.id), []);
      return empty(204);
    });
    r.get(`${base}/{tag}`, (ctx) => {
      if (!find(ctx.params.id).tags.includes(ctx.params.tag)) throw missing(ctx.params.tag);
      return empty(204);
    });
    r.put(`${base}/{tag}`, (ctx) => {
      const resource = find(ctx.params.id);
      if (!resource.tags.includes(ctx.params.tag)) setTags(resource, [...resource.tags, ctx.params.tag]);
      return empty(201);
    });
    r.delete(`${base}/{tag}`, (ctx) => {
      const resource = find(ctx.params.id);
      if (!resource.tags.includes(ctx.params.tag)) throw missing(ctx.params.tag);
      setTags(resource, resource.tags.filter((t) => t !== ctx.params.tag));
      return empty(204);
    });
  }
}
