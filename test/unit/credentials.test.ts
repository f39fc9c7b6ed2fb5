// Where credentials may go and how they are kept out of what ferry prints: the pure decisions as
// tables (address kinds, the hop rule, the realm rule, the redactor's encodings and short secrets,
// the control-character escape).
import {shortDetail} from '../../src/registry/errors.js'
import assert from 'node:assert/strict'
import {describe, it, test} from 'node:test'

import {AddressGuard, addressKind, hopAllowed, type AddressKind} from '../../src/registry/address-guard.js'
import {realmRefusal} from '../../src/registry/auth.js'
import {escapeControl} from '../../src/control-chars.js'
import {cleanLine} from '../../src/report/logger.js'
import {encodings, Redactor} from '../../src/report/redactor.js'

describe('addressKind', () => {
  it('sorts addresses into loopback, private, link-local and public, whatever the spelling', () => {
    const table: [string, AddressKind | undefined][] = [
      ['127.0.0.1', 'loopback'],
      ['127.0.0.2', 'loopback'],
      ['0.0.0.0', 'loopback'],
      ['::1', 'loopback'],
      ['[::1]', 'loopback'],
      ['::', 'loopback'],
      ['::ffff:127.0.0.1', 'loopback'],
      ['::ffff:7f00:1', 'loopback'],
      ['0:0:0:0:0:ffff:7f00:0001', 'loopback'],
      ['10.1.2.3', 'private'],
      ['172.16.0.1', 'private'],
      ['172.31.255.255', 'private'],
      ['192.168.1.1', 'private'],
      ['100.64.0.1', 'private'],
      ['fd00::1', 'private'],
      ['fc12:3456::1', 'private'],
      ['::ffff:10.0.0.1', 'private'],
      ['64:ff9b::a00:1', 'private'],
      ['169.254.169.254', 'link-local'],
      ['fe80::1', 'link-local'],
      ['::ffff:169.254.169.254', 'link-local'],
      ['172.32.0.1', 'public'],
      ['8.8.8.8', 'public'],
      ['2001:db8::1', 'public'],
      ['::ffff:8.8.8.8', 'public'],
      ['registry.example', undefined],
      ['localhost', undefined],
    ]
    for (const [address, kind] of table) assert.equal(addressKind(address), kind, address)
  })
})

describe('hopAllowed', () => {
  it('lets a hop reach public addresses, and others only of a kind the registry itself is on', () => {
    const table: [AddressKind[], AddressKind[], boolean][] = [
      [['public'], ['public'], true],
      [['public'], ['loopback'], false],
      [['public'], ['private'], false],
      [['public'], ['link-local'], false],
      [['public'], ['public', 'private'], false],
      [['private'], ['loopback'], false],
      [['private'], ['private'], true],
      [['private'], ['link-local'], false],
      [['loopback'], ['loopback'], true],
      [['loopback'], ['private'], false],
      [['loopback'], ['public'], true],
      [[], ['public'], true],
      [[], ['loopback'], false],
      [['loopback'], [], false],
    ]
    for (const [registry, target, allowed] of table) assert.equal(hopAllowed(registry, target), allowed, `${registry} → ${target}`)
  })
})

describe('AddressGuard', () => {
  // The names a test DNS answers; the guard checks what a name resolves to, not how it looks.
  const dns: Record<string, string[]> = {
    'registry.example': ['203.0.113.10'],
    'storage.example': ['198.51.100.7'],
    'sneaky.example': ['198.51.100.8', '127.0.0.1'],
    'metadata.example': ['169.254.169.254'],
    'internal.corp': ['10.0.0.5'],
    'minio.corp': ['10.0.0.7'],
  }
  const resolve = async (host: string) => {
    const found = dns[host]
    if (!found) throw Object.assign(new Error('not found'), {code: 'ENOTFOUND'})
    return found
  }
  const check = (registryHost: string, target: string, options: {resolve?: boolean} = {}) =>
    new AddressGuard(registryHost, resolve).check(new URL(target), 'a redirect', {resolve: options.resolve ?? true, registry: registryHost})

  it('refuses names and addresses that lead where the registry is not, and lets the rest through', async () => {
    const table: [string, string, boolean][] = [
      ['registry.example', 'https://storage.example/blob', true],
      ['registry.example', 'https://registry.example:8443/other', true],
      ['registry.example', 'http://127.0.0.1:5000/x', false],
      ['registry.example', 'http://localhost:5000/x', false],
      ['registry.example', 'http://sneaky.example/x', false],
      ['registry.example', 'http://metadata.example/latest', false],
      ['registry.example', 'http://169.254.169.254/latest', false],
      ['registry.example', 'http://[::ffff:7f00:1]/x', false],
      ['registry.example', 'http://internal.corp/x', false],
      ['internal.corp', 'http://minio.corp/bucket', true],
      ['internal.corp', 'http://127.0.0.1/x', false],
      ['internal.corp', 'http://metadata.example/x', false],
      ['127.0.0.1', 'http://127.0.0.1:6000/x', true],
      ['127.0.0.1', 'http://localhost:6000/x', true],
      ['127.0.0.1', 'http://internal.corp/x', false],
      ['localhost', 'http://127.0.0.2:6000/x', true],
    ]
    for (const [registry, target, allowed] of table) {
      const outcome = await check(registry, target).then(
        () => true,
        (error: {code?: string}) => {
          assert.equal(error.code, 'UNSAFE_REDIRECT', `${registry} → ${target}`)
          return false
        },
      )
      assert.equal(outcome, allowed, `${registry} → ${target}`)
    }
  })

  it('says which registry and host in one line', async () => {
    await assert.rejects(check('registry.example', 'http://sneaky.example/x'), (error: Error) => {
      assert.match(
        error.message,
        /^registry registry\.example sent ferry to a redirect on a loopback address \(sneaky\.example\) that the registry itself is not on; refused$/,
      )
      return true
    })
  })

  it('fails a name that does not resolve as a network error; through a proxy only written addresses are checked', async () => {
    await assert.rejects(check('registry.example', 'http://nowhere.example/x'), {code: 'NETWORK'})
    await check('registry.example', 'http://sneaky.example/x', {resolve: false})
    await assert.rejects(check('registry.example', 'http://127.0.0.1/x', {resolve: false}), {code: 'UNSAFE_REDIRECT'})
  })
})

describe('realmRefusal', () => {
  it('keeps credentials from a plain-HTTP realm of an HTTPS registry, and only from that', () => {
    const table: [string, string, boolean][] = [
      ['https://registry-1.docker.io', 'https://auth.docker.io/token', true],
      ['https://reg.example', 'https://reg.example/token', true],
      ['https://reg.example', 'http://reg.example/token', false],
      ['https://reg.example', 'http://auth.example/token', false],
      ['http://127.0.0.1:5000', 'http://127.0.0.1:5001/token', true],
      ['http://reg.example', 'https://auth.example/token', true],
    ]
    for (const [registry, realm, sends] of table) {
      assert.equal(realmRefusal(new URL(registry), new URL(realm)) === undefined, sends, `${registry} → ${realm}`)
    }
  })
})

describe('Redactor', () => {
  it('blanks a secret in every form a registry may echo it in', () => {
    const secret = 'p@ss w/rd:ü<&>"\\'
    const redactor = new Redactor()
    redactor.add(secret)
    const forms = [
      secret,
      encodeURIComponent(secret),
      encodeURIComponent(secret).toLowerCase(),
      new URLSearchParams({p: secret}).toString().slice(2),
      JSON.stringify(secret).slice(1, -1),
      JSON.stringify({p: secret}),
      'p@ss w/rd:\\u00fc<&>\\"\\\\',
      'p@ss w/rd:ü\\u003c\\u0026\\u003e\\"\\\\',
      Buffer.from(secret).toString('base64'),
      Buffer.from(secret).toString('base64url'),
    ]
    for (const form of forms) {
      const line = redactor.redact(`denied: you sent ${form} here`)
      assert.ok(!line.includes(form), `${form} → ${line}`)
      assert.match(line, /\[redacted\]/, form)
    }
  })

  it('lists each encoding once', () => {
    assert.deepEqual(encodings('plain'), ['plain', 'cGxhaW4=', 'cGxhaW4'])
  })

  it('blanks a short secret where credentials are quoted, and leaves ordinary words alone', () => {
    const redactor = new Redactor()
    redactor.add('ab')
    redactor.add('ci:ab')
    redactor.add('x')
    const table: [string, string][] = [
      ['you sent ci:ab', 'you sent [redacted]'],
      ['you sent user:ab', 'you sent user:[redacted]'],
      ['password=ab&x=1', 'password=[redacted]&x=1'],
      ['{"password":"ab"}', '{"password":"[redacted]"}'],
      ["password 'ab' is wrong", "password '[redacted]' is wrong"],
      ['https://ci:ab@registry.example/v2/', 'https://[redacted]@registry.example/v2/'],
      ['url https://u:x@h/', 'url https://u:[redacted]@h/'],
      ['a crab and a cab went by x', 'a crab and a cab went by x'],
      ['sha256:abcdef', 'sha256:abcdef'],
      ['tag x: done', 'tag x: done'],
    ]
    for (const [input, expected] of table) assert.equal(redactor.redact(input), expected, input)
  })

  it('never finds a secret inside its own [redacted] mark', () => {
    const redactor = new Redactor()
    redactor.add('dact')
    assert.equal(redactor.redact('Basic Zm9vOmJhcg== and dact'), 'Basic [redacted] and [redacted]')
  })
})

describe('escapeControl', () => {
  it('writes control characters as visible escapes and leaves other text as it is', () => {
    const table: [string, string][] = [
      ['team/app:1.0', 'team/app:1.0'],
      ['\u001b[31mred', '\\x1b[31mred'],
      ['v1\n2026-01-01T00:00:00.000Z copied evil', 'v1\\n2026-01-01T00:00:00.000Z copied evil'],
      ['a\rb\tc\u0000d\u007fe\u009bf', 'a\\rb\\tc\\x00d\\x7fe\\x9bf'],
      ['name\u202eexe.txt', 'name\\u202eexe.txt'],
      ['line\u2028sep', 'line\\u2028sep'],
      ['ü 中 ✓', 'ü 中 ✓'],
    ]
    for (const [input, expected] of table) assert.equal(escapeControl(input), expected, JSON.stringify(input))
  })

  it('is the last step of every printed line, after redaction', () => {
    const redactor = new Redactor()
    redactor.add('s3cret')
    assert.equal(cleanLine('copied a:\u001b[2J s3cret\nforged', redactor), 'copied a:\\x1b[2J [redacted]\\nforged')
  })
})

test('shortDetail cuts a registry message at a word, so a quoted credential is never cut in half', () => {
  const cases: [string, number, string][] = [
    ['short message', 200, 'short message'],
    ['denied for user:s3cretpassword here', 20, 'denied for…'],
    ['denied for user:s3cretpassword', 30, 'denied for user:s3cretpassword'],
    ['one-very-long-token-without-spaces', 10, '…'],
    ['a b c d', 4, 'a b…'],
  ]
  for (const [detail, max, expected] of cases) assert.equal(shortDetail(detail, max), expected, detail)
  const redactor = new Redactor()
  redactor.add('s3cretpassword')
  const detail = `${'x '.repeat(95)}token=s3cretpassword`
  assert.ok(!redactor.redact(shortDetail(detail, 200)).includes('s3cret'))
})
