/**
 * Small local Docker images for tests: a tarball with a line naming the image (and, when asked,
 * random bytes to give it a size) imported with `docker import`, labelled for the lab.
 */
import { execFileSync } from "child_process";
import { randomBytes } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

/** Import `reference` as a tiny image holding its own name and `bytes` random bytes. */
export function importTestImage(reference: string, bytes = 0): void {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dw-img-"));
  try {
    fs.writeFileSync(path.join(dir, "hello"), `dockwall test image ${reference}\n`);
    if (bytes > 0) fs.writeFileSync(path.join(dir, "payload.bin"), randomBytes(bytes));
    const tar = execFileSync("tar", ["-C", dir, "-c", "."], { maxBuffer: 1 << 30 });
    execFileSync("docker", ["import", "--change", "LABEL dockwall.lab=test", "-", reference], { input: tar, stdio: ["pipe", "ignore", "inherit"] });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Remove local images (missing ones are fine). */
export function removeTestImages(references: string[]): void {
  for (const r of references) {
    try {
      execFileSync("docker", ["rmi", "-f", r], { stdio: "ignore" });
    } catch {
      /* already gone */
    }
  }
}
