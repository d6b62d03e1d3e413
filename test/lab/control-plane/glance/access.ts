/** Who may see and change which image. */
import type { AuthContext } from "../keystone/identity";
import type { Image, ImageStore } from "./images";
import { HttpError } from "../http/errors";

export function canSee(image: Image, auth: AuthContext): boolean {
  return auth.isAdmin || image.visibility === "public" || image.visibility === "community" || image.owner === auth.projectId;
}

export function ownerOf(auth: AuthContext): string {
  return auth.projectId ?? "";
}

/** The image if the caller may see it, else a 404 with `notFound` as the message. */
export function visibleImage(store: ImageStore, id: string, auth: AuthContext, notFound: string): Image {
  const image = store.images.get(id);
  if (!image || !canSee(image, auth)) throw new HttpError(404, notFound);
  return image;
}

export function requireModify(image: Image, auth: AuthContext): void {
  if (!auth.isAdmin && image.owner !== auth.projectId) throw new HttpError(403, "You are not permitted to modify this image.");
}
