// Certificates for test registries, made with the openssl CLI because
// node:crypto can parse X.509 but cannot issue it.
import {mkdir, readFile, writeFile} from 'node:fs/promises'
import path from 'node:path'
import {run} from './exec.js'

export interface ServerCertificates {
  /** PEM of the CA that signed the server certificate: what clients trust. */
  caPem: string
  /** `<dir>/ca/ca.crt`, alone in its directory (see certDir). */
  caFile: string
  /**
   * Directory holding only ca.crt: the layout skopeo's --cert-dir and
   * /etc/docker/certs.d expect. The CA key lives elsewhere on purpose: a
   * stray *.key there makes containers/image look for a client certificate.
   */
  certDir: string
  certFile: string
  keyFile: string
}

/**
 * Makes a throwaway CA and a server certificate for 127.0.0.1 and localhost.
 *
 * A separate CA (instead of one self-signed server cert) is what real private
 * registries look like and what clients must be configured for. P-256 keys:
 * generating them is instant, RSA would add noticeable time per registry.
 * Go ignores the CN, so the names must be in subjectAltName.
 */
export async function makeServerCertificates(dir: string): Promise<ServerCertificates> {
  const tlsDir = path.join(dir, 'tls')
  const certDir = path.join(dir, 'ca')
  await mkdir(tlsDir, {recursive: true})
  await mkdir(certDir, {recursive: true})
  const caKey = path.join(tlsDir, 'ca.key')
  const caFile = path.join(certDir, 'ca.crt')
  const keyFile = path.join(tlsDir, 'server.key')
  const csrFile = path.join(tlsDir, 'server.csr')
  const certFile = path.join(tlsDir, 'server.crt')
  const extFile = path.join(tlsDir, 'server.ext')

  await run('openssl', [
    'req',
    '-x509',
    '-new',
    '-nodes',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-keyout',
    caKey,
    '-out',
    caFile,
    '-days',
    '2',
    '-subj',
    '/CN=ferry test CA',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ])
  await run('openssl', [
    'req',
    '-new',
    '-nodes',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-keyout',
    keyFile,
    '-out',
    csrFile,
    '-subj',
    '/CN=127.0.0.1',
  ])
  await writeFile(
    extFile,
    [
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      'extendedKeyUsage=serverAuth',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
      '',
    ].join('\n'),
  )
  await run('openssl', ['x509', '-req', '-in', csrFile, '-CA', caFile, '-CAkey', caKey, '-CAcreateserial', '-out', certFile, '-days', '2', '-extfile', extFile])
  return {caPem: await readFile(caFile, 'utf8'), caFile, certDir, certFile, keyFile}
}

export interface SigningCertificate {
  certPem: string
  certFile: string
  keyPem: string
}

/**
 * Makes a self-signed P-256 certificate for signing registry tokens.
 *
 * Distribution verifies a token's x5c chain against rootcertbundle; a
 * self-signed leaf that is itself in the bundle is a valid one-link chain.
 */
export async function makeSigningCertificate(dir: string): Promise<SigningCertificate> {
  await mkdir(dir, {recursive: true})
  const keyFile = path.join(dir, 'token-signing.key')
  const certFile = path.join(dir, 'token-signing.crt')
  await run('openssl', [
    'req',
    '-x509',
    '-new',
    '-nodes',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-keyout',
    keyFile,
    '-out',
    certFile,
    '-days',
    '2',
    '-subj',
    '/CN=ferry test token issuer',
  ])
  return {
    certPem: await readFile(certFile, 'utf8'),
    certFile,
    keyPem: await readFile(keyFile, 'utf8'),
  }
}
