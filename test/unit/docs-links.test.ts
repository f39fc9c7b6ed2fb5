// The documents errors and pages point at exist, with the headings their anchors name: an error
// that says "see docs/providers/ecr.md#iam-permissions" must lead somewhere.
import assert from 'node:assert/strict'
import {existsSync, readdirSync, readFileSync} from 'node:fs'
import path from 'node:path'
import {describe, it} from 'node:test'

const root = path.resolve(import.meta.dirname, '../..')

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to dashes. */
function anchor(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-')
}

function anchorsOf(file: string): Set<string> {
  const anchors = new Set<string>()
  let fenced = false
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line.startsWith('```')) fenced = !fenced
    const heading = !fenced && /^#{1,6} (.*)$/.exec(line)
    if (heading) anchors.add(anchor(heading[1]))
  }
  return anchors
}

function filesUnder(dir: string, ending: string): string[] {
  return readdirSync(path.join(root, dir), {recursive: true, encoding: 'utf8'})
    .filter((name) => name.endsWith(ending))
    .map((name) => path.join(dir, name))
}

/** A link's target must exist; its #anchor must be a heading of it. Other helpers' pages may be missing yet (swr). */
function check(from: string, target: string, problems: string[]): void {
  const [file, hash] = target.split('#')
  const resolved = file ? path.resolve(path.dirname(path.join(root, from)), file) : path.join(root, from)
  if (!existsSync(resolved)) return void problems.push(`${from}: ${target} does not exist`)
  if (hash && resolved.endsWith('.md') && !anchorsOf(resolved).has(hash)) problems.push(`${from}: ${target} has no heading #${hash}`)
}

describe('links to the documents', () => {
  it('every docs/… path an error message cites exists, anchor included', () => {
    const problems: string[] = []
    const cited = new Set<string>()
    for (const file of filesUnder('src', '.ts')) {
      for (const match of readFileSync(path.join(root, file), 'utf8').matchAll(/docs\/[\w./-]+\.md(?:#[\w-]+)?/g)) cited.add(match[0])
    }
    assert.ok(cited.size >= 3, 'the provider errors cite their pages')
    for (const target of cited) check('README.md', target, problems)
    assert.deepEqual(problems, [])
  })

  it('every relative link of README.md, docs/ and bench/README.md resolves', () => {
    const problems: string[] = []
    const pages = ['README.md', 'bench/README.md', ...filesUnder('docs', '.md')]
    for (const page of pages) {
      const text = readFileSync(path.join(root, page), 'utf8')
      for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/.test(target)) continue
        // Pages other helpers write in parallel (SWR's) are linked before they land.
        if (target === 'docs/providers/swr.md') continue
        check(page, target, problems)
      }
    }
    assert.deepEqual(problems, [])
  })

  it('README stays a front page', () => {
    const lines = readFileSync(path.join(root, 'README.md'), 'utf8').split('\n').length
    assert.ok(lines <= 320, `README.md has ${lines} lines; move details into docs/`)
  })
})
