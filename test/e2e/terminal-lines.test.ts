// On a real terminal (a tmux pane 60 columns wide), a failed job's line printed above the live
// progress bar is whole: the progress library turns line wrap off for the run, which cut every
// longer line at the pane's width and lost the reason. tmux keeps what the screen showed; its
// capture joins wrapped rows (-J), so a cut line never reads whole.
import assert from 'node:assert/strict'
import {execFile} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import path from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {promisify} from 'node:util'
import {after, before, test} from 'node:test'
import {freePort} from '../harness/index.js'
import {ROOT, workDir} from './support.js'

const run = promisify(execFile)
// A server of its own: the user's tmux (if any) is never touched.
const socket = `ferry-test-${randomBytes(4).toString('hex')}`
const tmux = (...args: string[]) => run('tmux', ['-L', socket, '-f', '/dev/null', ...args], {env: {...process.env, TMUX: ''}})

let work: Awaited<ReturnType<typeof workDir>>

before(async () => {
  work = await workDir()
})
after(async () => {
  await tmux('kill-server').catch(() => undefined)
  await work?.cleanup()
})

test('a failure printed above the live bar wraps instead of being cut at the width', {timeout: 60_000}, async () => {
  // Both sides on closed ports: the job fails after the request's retries with a line far wider than the pane.
  const [from, to] = [`127.0.0.1:${await freePort()}`, `127.0.0.1:${await freePort()}`]
  const ruleFile = await work.file('rules.yaml', `${from}/team/app:v1: ${to}/mirror/app:v1\n`)
  const securityFile = await work.file('security.yaml', `"http://${from}": {}\n"http://${to}": {}\n`)
  const ferry = [process.execPath, path.join(ROOT, 'bin', 'run.js'), 'transfer', '--ruleFile', ruleFile, '--securityFile', securityFile]
  // A terminal as a person has one: no CI variable, a real TERM; the pane stays open after ferry ends.
  const command = `env -u CI TERM=xterm-256color OCLIF_SKIP_NEW_VERSION_CHECK=true ${ferry.map((arg) => `'${arg}'`).join(' ')}; echo "exit $?"; sleep 60`
  await tmux('new-session', '-d', '-x', '60', '-y', '40', '-s', 'ferry', command)

  let screen = ''
  const deadline = Date.now() + 45_000
  while (!/^exit \d+$/m.test(screen) && Date.now() < deadline) {
    await sleep(200)
    screen = (await tmux('capture-pane', '-p', '-J', '-S', '-', '-t', 'ferry')).stdout
  }
  assert.match(screen, /^exit 1$/m, screen)
  // The line the run printed above the bar (the closing list comes after the bar is gone).
  const reason = `registry ${from} refused the connection (ECONNREFUSED): is the registry running, and on that port?`
  const line = `[1] failed ${from}/team/app:v1 → ${to}/mirror/app:v1: ${reason}`
  assert.ok(line.length > 60 * 2, 'the line is wider than the pane')
  const lines = screen.split('\n').map((row) => row.trimEnd())
  assert.ok(lines.includes(line), `the whole line is on the screen:\n${screen}`)
})
