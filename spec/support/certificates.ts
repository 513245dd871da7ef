import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** PEM files for TLS tests, made by openssl at test time: a CA, and certificates it signed. */
export interface TestCertificates {
  ca: Buffer;
  /** For CN=localhost with subjectAltName localhost and 127.0.0.1, signed by the CA. */
  serverKey: Buffer;
  serverCert: Buffer;
  /** A client certificate the CA signed (CN=rxloop test client). */
  clientKey: Buffer;
  clientCert: Buffer;
  /** A self-signed certificate no one trusts. */
  rogueKey: Buffer;
  rogueCert: Buffer;
  /** Where the files are, for tools that want paths (the CLI's --cert/--key). */
  dir: string;
}

let made: TestCertificates | undefined;

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

function newKeyRequest(dir: string, name: string, subject: string): void {
  openssl(dir, ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject]);
}

/** Makes the certificates once per process (EC keys: fast) in a temp dir removed at exit. */
export function testCertificates(): TestCertificates {
  if (made) return made;
  const dir = mkdtempSync(join(tmpdir(), 'rxloop-certs-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  openssl(dir, ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=rxloop test CA']);
  newKeyRequest(dir, 'server', '/CN=localhost');
  writeFileSync(join(dir, 'server.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  openssl(dir, ['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '2', '-extfile', 'server.ext']);
  newKeyRequest(dir, 'client', '/CN=rxloop test client');
  openssl(dir, ['x509', '-req', '-in', 'client.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'client.crt', '-days', '2']);
  openssl(dir, ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'rogue.key', '-out', 'rogue.crt', '-days', '2', '-subj', '/CN=rogue']);
  const read = (file: string): Buffer => readFileSync(join(dir, file));
  made = {
    ca: read('ca.crt'),
    serverKey: read('server.key'),
    serverCert: read('server.crt'),
    clientKey: read('client.key'),
    clientCert: read('client.crt'),
    rogueKey: read('rogue.key'),
    rogueCert: read('rogue.crt'),
    dir,
  };
  return made;
}
