// Docker's config.json as a fallback credential store, with a real credential-helper script on
// PATH (no docker needed): docker's protocol is `docker-credential-NAME get`, server URL on stdin.
import assert from 'node:assert/strict'
import {chmod, mkdtemp, readFile, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {delimiter, join} from 'node:path'
import {after, before, describe, it} from 'node:test'

import {
  DockerCredentials,
  dockerConfigPath,
  loadDockerConfig,
  parseDockerConfig,
  registryOfKey,
  withDockerCredentials,
} from '../../src/config/formats/docker-config.js'
import {anonymousStore, parseSecurity} from '../../src/config/security.js'
import {FerryError} from '../../src/errors.js'

const b64 = (text: string) => Buffer.from(text).toString('base64')
const HELPER_SECRET = 'helper-s3cret-value'

describe('docker config.json: parsing', () => {
  it('reads auths (base64 auth or username/password), credHelpers and credsStore; Docker Hub keys are docker.io', () => {
    const config = parseDockerConfig(
      JSON.stringify({
        auths: {
          'https://index.docker.io/v1/': {auth: b64('hubuser:hub:pass')},
          'reg.example.com': {username: 'u', password: 'p'},
          'http://127.0.0.1:5000/v2/': {},
        },
        credHelpers: {'gcr.io': 'gcloud', 'Quay.IO': 'quay'},
        credsStore: 'desktop',
      }),
      'config.json',
    )
    assert.deepEqual(Object.fromEntries(config.auths), {
      'docker.io': {username: 'hubuser', password: 'hub:pass'},
      'reg.example.com': {username: 'u', password: 'p'},
    })
    assert.deepEqual(Object.fromEntries(config.credHelpers), {'gcr.io': 'gcloud', 'quay.io': 'quay'})
    assert.equal(config.credsStore, 'desktop')
    assert.equal(config.serverUrls.get('docker.io'), 'https://index.docker.io/v1/')
    assert.equal(registryOfKey('registry-1.docker.io'), 'docker.io')
  })

  it('reads identitytoken logins, alone or beside the auth az acr login writes; the token is a secret', () => {
    const table: [string, Record<string, unknown>, unknown][] = [
      ['token alone', {identitytoken: 'tok-1'}, {username: '<token>', password: '', identityToken: 'tok-1'}],
      [
        'token with the all-zero GUID user',
        {auth: b64('00000000-0000-0000-0000-000000000000:'), identitytoken: 'tok-2'},
        {username: '00000000-0000-0000-0000-000000000000', password: '', identityToken: 'tok-2'},
      ],
      ['an empty token is none', {identitytoken: ''}, undefined],
    ]
    for (const [name, entry, want] of table) {
      const config = parseDockerConfig(JSON.stringify({auths: {'reg.example.com': entry}}), 'config.json')
      assert.deepEqual(config.auths.get('reg.example.com'), want, name)
    }
    const credentials = new DockerCredentials(parseDockerConfig(JSON.stringify({auths: {'reg.example.com': {identitytoken: 'tok-3'}}}), 'c'))
    assert.deepEqual(credentials.secrets(), ['tok-3'])
    const access = withDockerCredentials(anonymousStore, credentials).lookup('reg.example.com', 'team/app')
    assert.equal(access.identityToken, 'tok-3')
  })

  const errors: [string, string, RegExp][] = [
    [
      'auth that is not base64 of user:password, never shown',
      '{\n  "auths": {\n    "reg.io": {"auth": "bm9jb2xvbg=="}\n  }\n}',
      /^config\.json:3: auths entry "reg\.io": auth is not base64 of username:password \(its value is not shown\)$/,
    ],
    ['a username without a password', '{"auths": {"reg.io": {"username": "u"}}}', /^config\.json:1: auths entry "reg\.io": has a username but no password$/],
    [
      'a helper name that is not a name',
      '{\n "credHelpers": {\n  "reg.io": "../../bin/sh"\n }\n}',
      /^config\.json:3: credHelpers entry "reg\.io": must name a helper/,
    ],
    ['a registry key that is not a host', '{"auths": {"https://bad host/": {}}}', /^config\.json:1: auths entry "https:\/\/bad host\/": invalid registry/],
    ['not JSON at all', '{"auths": \n', /^config\.json:2: is not valid JSON \(unexpected end of the stream within a flow collection\)$/],
  ]
  for (const [name, text, want] of errors) it(`error: ${name}`, () => assert.throws(() => parseDockerConfig(text, 'config.json'), {message: want}))
  it('the secret of a bad auth is not in the message', () => {
    assert.throws(
      () => parseDockerConfig(`{"auths": {"reg.io": {"auth": "${b64('nocolonhere')}"}}}`, 'c'),
      (e: Error) => !e.message.includes(b64('nocolonhere')) && !e.message.includes('nocolonhere'),
    )
  })

  it('is found at $DOCKER_CONFIG/config.json, else ~/.docker/config.json; none is fine', async () => {
    assert.equal(dockerConfigPath({DOCKER_CONFIG: '/etc/dc', HOME: '/home/x'}), '/etc/dc/config.json')
    assert.equal(dockerConfigPath({HOME: '/home/x'}), '/home/x/.docker/config.json')
    assert.equal(loadDockerConfig({DOCKER_CONFIG: '/nonexistent/ferry'}), undefined)
  })
})

describe('docker config.json: credential helpers and the fallback store', () => {
  let dir: string
  let log: string
  const savedPath = process.env.PATH

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-docker-'))
    log = join(dir, 'calls.log')
    // Answers for two registries, "not found" (as docker's helpers say it) for the rest.
    await writeFile(
      join(dir, 'docker-credential-fake'),
      [
        '#!/bin/sh',
        `[ "$1" = get ] || exit 2`,
        'read -r server',
        `echo "$server" >> '${log}'`,
        'case "$server" in',
        `  helped.example.com|https://index.docker.io/v1/) printf '{"ServerURL":"%s","Username":"helper-user","Secret":"${HELPER_SECRET}"}' "$server" ;;`,
        `  broken.example.com) echo 'leaking ${HELPER_SECRET} on the way out' >&2; exit 3 ;;`,
        `  *) echo 'credentials not found in native keychain'; exit 1 ;;`,
        'esac',
        '',
      ].join('\n'),
    )
    await chmod(join(dir, 'docker-credential-fake'), 0o755)
    process.env.PATH = `${dir}${delimiter}${savedPath}`
  })
  after(async () => {
    process.env.PATH = savedPath
    await rm(dir, {recursive: true, force: true})
  })

  const dockerConfig = () =>
    parseDockerConfig(
      JSON.stringify({
        auths: {'inline.example.com': {auth: b64('inline-user:inline-pass')}, 'https://index.docker.io/v1/': {}},
        credHelpers: {'helped.example.com': 'fake', 'broken.example.com': 'fake', 'missing.example.com': 'not-installed'},
        credsStore: 'fake',
      }),
      'config.json',
    )

  it('runs a helper once per registry, caches the answer, and hands its secret to the redactor', async () => {
    const docker = new DockerCredentials(dockerConfig())
    assert.deepEqual(docker.secrets(), ['inline-pass', 'inline-user:inline-pass'])
    for (let i = 0; i < 3; i++) assert.deepEqual(docker.login('helped.example.com'), {username: 'helper-user', password: HELPER_SECRET})
    // credsStore for Docker Hub, asked with the URL docker uses for it.
    assert.deepEqual(docker.login('registry-1.docker.io'), {username: 'helper-user', password: HELPER_SECRET})
    assert.equal(docker.login('nothing.example.com'), undefined)
    assert.equal(docker.login('nothing.example.com'), undefined)
    assert.deepEqual(docker.login('inline.example.com'), {username: 'inline-user', password: 'inline-pass'})
    assert.deepEqual((await readFile(log, 'utf8')).trim().split('\n'), ['helped.example.com', 'https://index.docker.io/v1/', 'nothing.example.com'])
    assert.ok(docker.secrets().includes(HELPER_SECRET))
    assert.ok(docker.secrets().includes(`helper-user:${HELPER_SECRET}`))
  })

  it('a failing or missing helper is one error without the helper output', () => {
    const docker = new DockerCredentials(dockerConfig())
    assert.throws(
      () => docker.login('broken.example.com'),
      (error: unknown) => {
        assert.ok(FerryError.is(error))
        assert.equal(error.message, 'docker-credential-fake get failed for broken.example.com (exit code 3); run it by hand to see why')
        return true
      },
    )
    assert.throws(() => docker.login('missing.example.com'), {
      message: 'docker config names credential helper docker-credential-not-installed for missing.example.com, and it is not on PATH',
    })
  })

  it('the security file wins; an entry without a username gets docker credentials and keeps its settings', () => {
    const security = parseSecurity(
      '"http://helped.example.com/plain": {}\nhelped.example.com/own:\n  username: file-user\n  password: file-pass\n',
      'security.yaml',
      {},
    )
    const store = withDockerCredentials(security, new DockerCredentials(dockerConfig()))
    const own = store.lookup('helped.example.com', 'own/app')
    assert.equal(own.username, 'file-user')
    const plain = store.lookup('helped.example.com', 'plain/app')
    assert.deepEqual([plain.username, plain.password, plain.insecure], ['helper-user', HELPER_SECRET, true])
    const other = store.lookup('helped.example.com', 'elsewhere/app')
    assert.deepEqual([other.username, other.insecure], ['helper-user', false])
    // One client per credential entry: the docker fallback is its own key.
    assert.notEqual(plain.entry, own.entry)
    assert.deepEqual(withDockerCredentials(anonymousStore, new DockerCredentials(dockerConfig())).lookup('nothing.example.com', 'a/b').username, undefined)
    assert.ok(store.secrets().includes('file-pass') && store.secrets().includes(HELPER_SECRET))
  })
})
