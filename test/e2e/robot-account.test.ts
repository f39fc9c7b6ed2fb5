// Harbor robot accounts are named robot$name / robot$project+name: a security file names them as
// written, on a registry whose htpasswd user really is `robot$ferry+ci`.
import assert from 'node:assert/strict'
import {after, before, describe, test} from 'node:test'
import {pushImage, randomLayer, skopeoDigest, startRegistry, type PushedImage, type TestRegistry} from '../harness/index.js'
import {lines, plainEntries, ruleYaml, runCli, workDir} from './support.js'

const ROBOT = 'robot$ferry+ci'
const PASSWORD = 'Robot-Secret-7d41a2'

describe('a Harbor robot account in the security file', () => {
  let src: TestRegistry
  let dst: TestRegistry
  let work: Awaited<ReturnType<typeof workDir>>
  let image: PushedImage

  before(async () => {
    ;[src, dst, work] = await Promise.all([startRegistry(), startRegistry({auth: 'htpasswd', users: {[ROBOT]: PASSWORD}}), workDir()])
    image = await pushImage(src, 'team/app', '1.0', {layers: [randomLayer(1500, 'robot:1')]})
  })
  after(async () => {
    await Promise.all([src?.stop(), dst?.stop(), work?.cleanup()])
  })

  async function run(name: string, username: string, env: NodeJS.ProcessEnv = {}) {
    const securityFile = await work.file(
      `${name}-security.yaml`,
      plainEntries(src) + `"http://${dst.host}":\n  username: ${username}\n  password: \${ROBOT_PASSWORD}\n`,
    )
    const ruleFile = await work.file(`${name}-rules.yaml`, ruleYaml([[`${src.host}/team/app:1.0`, `${dst.host}/robots/${name}`]]))
    return runCli(['transfer', '--ruleFile', ruleFile, '--securityFile', securityFile, '--retry', '0'], {env: {ROBOT_PASSWORD: PASSWORD, ...env}})
  }

  test('robot$ferry+ci as written pushes (no variable named ferry needed)', async () => {
    const cli = await run('plain', ROBOT)
    assert.equal(cli.code, 0, cli.stdout + cli.stderr)
    assert.equal(await skopeoDigest(dst, 'robots/plain:1.0'), image.digest)
  })

  test('robot$ferry+ci is the robot even where a variable named ferry is set', async () => {
    const cli = await run('set', ROBOT, {ferry: 'not-the-robot'})
    assert.equal(cli.code, 0, cli.stdout + cli.stderr)
    assert.equal(await skopeoDigest(dst, 'robots/set:1.0'), image.digest)
  })

  test('robot$$ferry+ci (the escaped spelling) pushes too', async () => {
    const cli = await run('escaped', 'robot$$ferry+ci')
    assert.equal(cli.code, 0, cli.stdout + cli.stderr)
    assert.equal(await skopeoDigest(dst, 'robots/escaped:1.0'), image.digest)
  })

  test('a name that is no Harbor robot name and a variable not set: one line saying $$ writes a $', async () => {
    const cli = await run('unset', 'robot$FERRY+ci')
    assert.notEqual(cli.code, 0)
    const said = lines(cli.stderr)
    assert.equal(said.length, 1, cli.stderr)
    assert.match(said[0]!, /-security\.yaml:\d+.*username uses environment variable FERRY, which is not set; set it, or write \$\$ for a literal \$/)
    assert.ok(!(cli.stdout + cli.stderr).includes(PASSWORD))
  })
})
