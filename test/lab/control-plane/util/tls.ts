/**
 * The lab's own certificate authority, for serving every API over HTTPS: a CA and one server
 * certificate for the loopback address (SAN IP and DNS "localhost"), made with Debian's openssl
 * in a temporary folder that is removed at once. Nothing is trusted system-wide: a client must be
 * given `caCert` (OS_CACERT) or turn verification off.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

export interface LabTls {
  /** PEM of the lab's CA (what OS_CACERT points at). */
  caCert: string;
  key: string;
  cert: string;
}

export function makeLabTls(host: string): LabTls {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dw-lab-tls-"));
  const run = (args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
  try {
    run(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=dockwall lab CA", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"]);
    run(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", `/CN=${host}`]);
    const san = /^[\d.]+$/.test(host) || host.includes(":") ? `IP:${host},DNS:localhost` : `DNS:${host}`;
    fs.writeFileSync(path.join(dir, "ext.cnf"), `subjectAltName=${san}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n`);
    run(["x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf"]);
    return { caCert: fs.readFileSync(path.join(dir, "ca.pem"), "utf8"), key: fs.readFileSync(path.join(dir, "server.key"), "utf8"), cert: fs.readFileSync(path.join(dir, "server.pem"), "utf8") };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
