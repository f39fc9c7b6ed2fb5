import assert from 'node:assert/strict'
import {test} from 'node:test'

import {parseSecurity} from '../../src/config/security.js'
import {parseReference, registryEndpoint} from '../../src/reference.js'

const ALIASES = ['docker.io', 'index.docker.io', 'registry-1.docker.io', 'registry.hub.docker.com']

test('every Docker Hub alias, as a reference and as a security key, is the same registry with the same credentials', () => {
  for (const referenceHost of ALIASES) {
    for (const keyHost of ALIASES) {
      const reference = parseReference(`${referenceHost}/nginx:1.25`)
      assert.equal(reference.registry, 'docker.io', referenceHost)
      assert.equal(reference.repository, 'library/nginx', `${referenceHost}: single names get library/`)
      assert.equal(registryEndpoint(reference.registry), 'registry-1.docker.io')
      const store = parseSecurity(`${keyHost}:\n  username: hub-user\n  password: hub-pass\n`, 'security.yaml')
      const access = store.lookup(reference.registry, reference.repository)
      assert.equal(access.username, 'hub-user', `${referenceHost} looked up under a ${keyHost} key`)
      assert.equal(access.password, 'hub-pass')
    }
  }
  // No registry at all is Docker Hub too (image-transfer's README: demo-ns/nginx:latest).
  assert.deepEqual(parseReference('demo-ns/nginx:latest'), {registry: 'docker.io', repository: 'demo-ns/nginx', tag: 'latest'})
})
