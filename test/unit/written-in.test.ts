import assert from 'node:assert/strict';
import {test} from 'node:test';

import {anonymousStore, parseSecurity} from '../../src/config/security.js';
import {networkError} from '../../src/registry/client.js';

// The registry client knows no files: where to fix a setting comes with the access (config/ says
// 'the security file'); without it the hint still names the settings.
test('networkError: an untrusted certificate names caFile and skipTlsVerify, and where they are written when known', () => {
  const cases: {writtenIn?: string; message: string}[] = [
    {writtenIn: 'the security file', message: 'GET /v2/: TLS certificate not trusted (SELF_SIGNED_CERT_IN_CHAIN); set caFile for this registry in the security file, or skipTlsVerify: true'},
    {message: 'GET /v2/: TLS certificate not trusted (SELF_SIGNED_CERT_IN_CHAIN); set caFile for this registry, or skipTlsVerify: true'},
  ];
  for (const c of cases) {
    const error = networkError(Object.assign(new Error('self-signed certificate in certificate chain'), {code: 'SELF_SIGNED_CERT_IN_CHAIN'}), 'GET /v2/', undefined, c.writtenIn);
    assert.equal(error.code, 'TLS');
    assert.equal(error.message, c.message);
  }
});

test('every access the security file module hands out says where it was written', () => {
  const store = parseSecurity('reg.io: {username: u, password: p}\n', 'security.yaml');
  for (const access of [store.lookup('reg.io', 'a'), store.lookup('other.io', 'a'), anonymousStore.lookup('reg.io', 'a')]) {
    assert.equal(access.writtenIn, 'the security file');
  }
});
