import assert from 'node:assert/strict'
import {test} from 'node:test'

import {DockerCredentials, parseDockerConfig, withDockerCredentials} from '../../src/config/formats/docker-config.js'
import {parseSkopeoSync} from '../../src/config/formats/skopeo-sync.js'
import {anonymousStore, parseSecurity} from '../../src/config/security.js'
import {networkError} from '../../src/registry/errors.js'
import {attemptOutcome} from '../../src/registry/layers/attempt.js'
import {authorize, type AuthState} from '../../src/registry/layers/auth.js'
import {compose, type Send} from '../../src/registry/layers/exchange.js'

// The registry client knows no files: where credentials and TLS settings were written comes with
// the access (RegistryAccess.writtenIn, set by the loaders in config/), and messages name it when
// known; without it they speak of the credentials given for the registry.

const certificate = () => Object.assign(new Error('self-signed certificate in certificate chain'), {code: 'SELF_SIGNED_CERT_IN_CHAIN'})

test('networkError: an untrusted certificate names caFile and skipTlsVerify, and where the access was written when known', () => {
  const cases: [string | undefined, string][] = [
    [
      'security.yaml:4',
      'GET /v2/: TLS certificate not trusted (SELF_SIGNED_CERT_IN_CHAIN); set caFile for this registry (security.yaml:4), or skipTlsVerify: true',
    ],
    [undefined, 'GET /v2/: TLS certificate not trusted (SELF_SIGNED_CERT_IN_CHAIN); set caFile for this registry, or skipTlsVerify: true'],
  ]
  for (const [writtenIn, message] of cases) {
    const error = networkError(certificate(), 'GET /v2/', undefined, writtenIn)
    assert.equal(error.code, 'TLS')
    assert.equal(error.message, message)
  }
})

test('the layers: a refusal and an untrusted certificate name the file and line of the access', async () => {
  const auth: AuthState = {anonymous: false, authorization: async () => 'Basic x', unauthorized: () => false}
  const refusing: Send = async (outgoing) => ({status: 401, headers: {}, body: Buffer.alloc(0), url: outgoing.url})
  const failing: Send = async () => {
    throw certificate()
  }
  const request = {method: 'GET', path: '/v2/', scopes: [], expect: [200], idempotent: true, what: 'GET /v2/'} as const
  const send = (base: Send, writtenIn?: string) =>
    compose(base, attemptOutcome('reg.io', undefined, writtenIn), authorize(auth, 'reg.io', writtenIn))({request, url: 'https://reg.io/v2/', sameOrigin: true})
  await assert.rejects(send(refusing, 'security.yaml:4'), {message: 'GET /v2/: registry reg.io refused the credentials given for reg.io (security.yaml:4)'})
  await assert.rejects(send(refusing), {message: 'GET /v2/: registry reg.io refused the credentials given for reg.io'})
  await assert.rejects(send(failing, 'security.yaml:4'), /set caFile for this registry \(security\.yaml:4\), or skipTlsVerify: true$/)
})

test('the loaders say where each access was written: file and line of its entry, or the docker config file', () => {
  const security = parseSecurity('reg.io:\n  username: u\n  password: p\nhelped.io/plain: {insecure: true}\n', 'security.yaml', {})
  assert.equal(security.lookup('reg.io', 'a').writtenIn, 'security.yaml:1')
  assert.equal(security.lookup('helped.io', 'plain/app').writtenIn, 'security.yaml:4')
  // No entry: nothing was written for it, and no message claims otherwise.
  assert.equal(security.lookup('other.io', 'a').writtenIn, undefined)
  assert.equal(anonymousStore.lookup('other.io', 'a').writtenIn, undefined)

  const docker = new DockerCredentials(
    parseDockerConfig(JSON.stringify({auths: {'helped.io': {auth: Buffer.from('du:dp').toString('base64')}}}), '/home/u/.docker/config.json'),
  )
  const store = withDockerCredentials(security, docker)
  // The login is docker's, so docker's file is where to fix it; an entry's own login stays its own.
  assert.equal(store.lookup('helped.io', 'plain/app').writtenIn, '/home/u/.docker/config.json')
  assert.equal(store.lookup('reg.io', 'a').writtenIn, 'security.yaml:1')

  const sync = parseSkopeoSync('src.io:\n  images:\n    a/b: []\n  credentials:\n    username: u\n    password: p\n', 'sync.yaml', {
    registry: 'dst.io',
    namespace: 'n',
  })
  assert.equal(sync.credentials!.lookup('src.io', 'a/b').writtenIn, 'sync.yaml:1')
})
