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

test('a token request: the GET query for a password, the refresh-token form for an identity token', async () => {
  const {refreshTokenForm, withTokenQuery} = await import('../../src/registry/auth.js')
  const [challenge] = parseChallenges('Bearer realm="https://auth.example.com/token",service="registry.example.com"')
  const scopes = ['repository:team/app:pull,push', 'repository:base/os:pull']
  assert.equal(
    withTokenQuery(new URL(challenge!.params.realm!), challenge!, scopes),
    'https://auth.example.com/token?service=registry.example.com&scope=repository%3Ateam%2Fapp%3Apull%2Cpush&scope=repository%3Abase%2Fos%3Apull',
  )
  assert.deepEqual(Object.fromEntries(refreshTokenForm('tok', challenge!, scopes)), {
    grant_type: 'refresh_token',
    refresh_token: 'tok',
    client_id: 'ferry',
    service: 'registry.example.com',
    scope: 'repository:team/app:pull,push repository:base/os:pull',
  })
  const [bare] = parseChallenges('Bearer realm="https://auth.example.com/token"')
  assert.deepEqual(Object.fromEntries(refreshTokenForm('tok', bare!, [])), {grant_type: 'refresh_token', refresh_token: 'tok', client_id: 'ferry'})
})
