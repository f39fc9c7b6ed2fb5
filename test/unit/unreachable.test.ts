// The words for a registry that cannot be reached, and names reserved never to resolve.
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {unreachableLine} from '../../src/registry/errors.js'
import {reservedInvalid} from '../../src/registry/reserved-names.js'

const WRONG_VERSION = 'write EPROTO 80AC0B30157F0000:error:0A00010B:SSL routines:ssl3_get_record:wrong version number'

describe('unreachableLine', () => {
  const cases: Array<[string, string | undefined, string, string, string | undefined, {code: string; line: string; retryable: boolean} | undefined]> = [
    [
      'plain HTTP over TLS, with the entry',
      'EPROTO',
      WRONG_VERSION,
      'https://127.0.0.1:5000/v2/',
      'security.yaml:4',
      {
        code: 'PLAIN_HTTP',
        line: 'registry 127.0.0.1:5000 answers plain HTTP, not HTTPS: set insecure: true for it (security.yaml:4), or write its key as "http://127.0.0.1:5000"',
        retryable: false,
      },
    ],
    [
      'plain HTTP over TLS, no entry',
      'EPROTO',
      WRONG_VERSION,
      'https://127.0.0.1:5000/v2/',
      undefined,
      {
        code: 'PLAIN_HTTP',
        line: 'registry 127.0.0.1:5000 answers plain HTTP, not HTTPS: set insecure: true for it in the security file, or write its key as "http://127.0.0.1:5000"',
        retryable: false,
      },
    ],
    ['another EPROTO is not plain HTTP', 'EPROTO', 'write EPROTO …:sslv3 alert handshake failure', 'https://r.example/v2/', undefined, undefined],
    ['EPROTO on http:// is not a TLS answer', 'EPROTO', WRONG_VERSION, 'http://r.example/v2/', undefined, undefined],
    [
      'refused, the host contacted named when not the one written',
      'ECONNREFUSED',
      'connect ECONNREFUSED 1.2.3.4:443',
      'https://registry-1.docker.io/v2/',
      undefined,
      {
        code: 'CONNECTION_REFUSED',
        line: 'registry docker.io refused the connection at registry-1.docker.io (ECONNREFUSED): is the registry running, and on that port?',
        retryable: true,
      },
    ],
    [
      'no such host',
      'ENOTFOUND',
      'getaddrinfo ENOTFOUND nowhere.invalid',
      'http://nowhere.invalid:5000/v2/',
      undefined,
      {
        code: 'UNKNOWN_HOST',
        line: 'registry nowhere.invalid:5000: the host name nowhere.invalid does not resolve (ENOTFOUND); check how it is spelled, and the DNS',
        retryable: false,
      },
    ],
    [
      'a DNS server that did not answer is tried again',
      'EAI_AGAIN',
      'getaddrinfo EAI_AGAIN r.example',
      'https://r.example/v2/',
      undefined,
      {
        code: 'UNKNOWN_HOST',
        line: 'registry r.example: the host name r.example does not resolve (EAI_AGAIN); check how it is spelled, and the DNS',
        retryable: true,
      },
    ],
    [
      'a certificate for another name',
      'ERR_TLS_CERT_ALTNAME_INVALID',
      "Hostname/IP does not match certificate's altnames",
      'https://r.example:8443/v2/',
      'security.yaml:2',
      {
        code: 'TLS',
        line: 'registry r.example:8443: its TLS certificate is not for r.example (ERR_TLS_CERT_ALTNAME_INVALID); reach it by a name the certificate carries, or set skipTlsVerify: true for it (security.yaml:2)',
        retryable: false,
      },
    ],
    [
      'an untrusted certificate',
      'SELF_SIGNED_CERT_IN_CHAIN',
      'self-signed certificate in certificate chain',
      'https://r.example/v2/',
      'security.yaml:2',
      {
        code: 'TLS',
        line: 'registry r.example: TLS certificate not trusted (SELF_SIGNED_CERT_IN_CHAIN); set caFile for this registry (security.yaml:2), or skipTlsVerify: true',
        retryable: false,
      },
    ],
    ['a reset is no verdict on the registry', 'ECONNRESET', 'socket hang up', 'https://r.example/v2/', undefined, undefined],
  ]
  for (const [name, code, message, url, writtenIn, expected] of cases) {
    it(name, () => {
      const registry = url.includes('docker.io') ? 'docker.io' : new URL(url).host
      assert.deepEqual(unreachableLine(code, message, {registry, url}, writtenIn), expected)
    })
  }
})

describe('reservedInvalid (RFC 6761)', () => {
  const cases: Array<[string, boolean]> = [
    ['invalid', true],
    ['nowhere.invalid', true],
    ['a.b.INVALID', true],
    ['nowhere.invalid.', true],
    ['invalid.example.com', false],
    ['notinvalid', false],
    ['oci-layout.invalid', true],
    ['127.0.0.1', false],
  ]
  for (const [name, expected] of cases) it(name, () => assert.equal(reservedInvalid(name), expected))
})
