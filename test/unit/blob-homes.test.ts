import assert from 'node:assert/strict'
import {test} from 'node:test'

import {BlobHomes} from '../../src/transfer/blob-flight.js'

test('BlobHomes: a repository seen holding a blob is not asked again until a job to it fails', () => {
  const homes = new BlobHomes()
  // A scope as the endpoints make it: registry and credentials entry, joined by \u0000.
  const dst = 'registry.example\u0000security.yaml:3'
  homes.remember(dst, 'sha256:a', 'team/app')
  homes.remember(dst, 'sha256:a', 'team/web')
  homes.remember(dst, 'sha256:b', 'team/app')
  const cases: [string, string, string, boolean][] = [
    ['seen', 'sha256:a', 'team/app', true],
    ['another repository seen too', 'sha256:a', 'team/web', true],
    ['a repository not seen holding it', 'sha256:b', 'team/web', false],
    ['a blob never seen', 'sha256:c', 'team/app', false],
  ]
  for (const [name, digest, repository, expected] of cases) assert.equal(homes.holds(dst, digest, repository), expected, name)
  // Other credentials (another scope) have seen nothing.
  assert.equal(homes.holds('other', 'sha256:a', 'team/app'), false)
  // The latest home is still where a mount comes from.
  assert.equal(homes.find(dst, 'sha256:a'), 'team/web')

  homes.forget('team/app')
  assert.equal(homes.holds(dst, 'sha256:a', 'team/app'), false)
  assert.equal(homes.holds(dst, 'sha256:b', 'team/app'), false)
  assert.equal(homes.holds(dst, 'sha256:a', 'team/web'), true, 'only the failed repository is forgotten')
  // Forgetting what it holds does not forget where a blob lives for mounts: a HEAD decides then.
  assert.equal(homes.find(dst, 'sha256:b'), 'team/app')
})
