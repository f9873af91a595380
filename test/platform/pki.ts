/**
 * A throwaway PKI made at test time with the openssl CLI: a CA, a server certificate for 127.0.0.1/localhost,
 * a client certificate (for mTLS), and a second, unrelated CA with its own client certificate (to check that
 * a certificate from the wrong CA is refused). EC P-256 keys: fast to make, accepted everywhere.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface CertPair {
  cert: string;
  key: string;
  certPem: string;
  keyPem: string;
}

export interface TestPki {
  dir: string;
  caFile: string;
  caPem: string;
  server: CertPair;
  client: CertPair;
  /** Signed by a different CA than `caFile`. */
  rogueClient: CertPair;
}

function openssl(dir: string, args: string[]): void {
  execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
}

function makeCa(dir: string, name: string, cn: string): void {
  openssl(dir, [
    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
    "-keyout", `${name}.key`, "-out", `${name}.pem`, "-days", "2", "-subj", `/CN=${cn}`,
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
  ]);
}

function makeLeaf(dir: string, name: string, ca: string, cn: string, extensions: string): CertPair {
  writeFileSync(join(dir, `${name}.ext`), extensions);
  openssl(dir, [
    "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
    "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${cn}`,
  ]);
  openssl(dir, [
    "x509", "-req", "-in", `${name}.csr`, "-CA", `${ca}.pem`, "-CAkey", `${ca}.key`,
    "-set_serial", `0x${Date.now().toString(16)}${Math.floor(Math.random() * 1e6).toString(16)}`,
    "-days", "2", "-out", `${name}.pem`, "-extfile", `${name}.ext`,
  ]);
  const cert = join(dir, `${name}.pem`);
  const key = join(dir, `${name}.key`);
  return { cert, key, certPem: readFileSync(cert, "utf8"), keyPem: readFileSync(key, "utf8") };
}

export function makeTestPki(dir: string): TestPki {
  mkdirSync(dir, { recursive: true });
  makeCa(dir, "ca", "Baton Test CA");
  makeCa(dir, "rogue-ca", "Unrelated Test CA");
  const server = makeLeaf(
    dir,
    "server",
    "ca",
    "localhost",
    "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n",
  );
  const clientExt = "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n";
  const client = makeLeaf(dir, "client", "ca", "baton-test-client", clientExt);
  const rogueClient = makeLeaf(dir, "rogue-client", "rogue-ca", "rogue-client", clientExt);
  const caFile = join(dir, "ca.pem");
  return { dir, caFile, caPem: readFileSync(caFile, "utf8"), server, client, rogueClient };
}
