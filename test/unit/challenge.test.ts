import assert from 'node:assert/strict'
import {test} from 'node:test'

import {parseChallenges} from '../../src/registry/challenge.js'
import {nextLink} from '../../src/registry/catalog.js'

test('parseChallenges reads the challenges registries send', () => {
  const cases: [string | undefined, ReturnType<typeof parseChallenges>][] = [
    [undefined, []],
    ['', []],
    ['Basic realm="basic-realm"', [{scheme: 'basic', params: {realm: 'basic-realm'}}]],
    [
      'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull"',
      [{scheme: 'bearer', params: {realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/alpine:pull'}}],
    ],
    [
      'Bearer realm="http://127.0.0.1:9/t",scope="repository:a:pull,push repository:b:pull"',
      [{scheme: 'bearer', params: {realm: 'http://127.0.0.1:9/t', scope: 'repository:a:pull,push repository:b:pull'}}],
    ],
    ['bearer realm=unquoted, service=svc', [{scheme: 'bearer', params: {realm: 'unquoted', service: 'svc'}}]],
    ['Bearer realm="with \\"quote\\""', [{scheme: 'bearer', params: {realm: 'with "quote"'}}]],
    [
      'Basic realm="a", Bearer realm="b",service="c"',
      [
        {scheme: 'basic', params: {realm: 'a'}},
        {scheme: 'bearer', params: {realm: 'b', service: 'c'}},
      ],
    ],
  ]
  for (const [header, expected] of cases) assert.deepEqual(parseChallenges(header), expected, String(header))
})

test('nextLink follows rel="next" only', () => {
  const cases: [string | undefined, string | undefined][] = [
    [undefined, undefined],
    ['</v2/a/tags/list?n=2&last=b>; rel="next"', '/v2/a/tags/list?n=2&last=b'],
    ['<https://r.example/v2/_catalog?last=x&n=1000>; rel=next', 'https://r.example/v2/_catalog?last=x&n=1000'],
    ['</v2/a/tags/list?n=2>; rel="prev", </v2/a/tags/list?last=z>; rel="next"', '/v2/a/tags/list?last=z'],
    ['</v2/a/tags/list?n=2>; rel="prev"', undefined],
  ]
  for (const [header, expected] of cases) assert.equal(nextLink(header), expected, String(header))
})
