import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import {constants} from 'node:fs'
import {createHash} from 'node:crypto'
import {mkdir, mkdtemp, rm, symlink, writeFile} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {test} from 'node:test'

import {tarEntryProblem, tarPath} from '../../src/layout/archive.js'
import {BlobStore} from '../../src/layout/blob-store.js'
import {describeSize} from '../../src/registry/body-limits.js'
import {fileKind, openRegular, overLimit, readRegular} from '../../src/layout/regular-file.js'

test('fileKind: every file type in words', () => {
  const cases: Array<[number, string]> = [
    [constants.S_IFREG | 0o644, 'a regular file'],
    [constants.S_IFDIR | 0o755, 'a folder'],
    [constants.S_IFLNK | 0o777, 'a symbolic link'],
    [constants.S_IFIFO | 0o600, 'a named pipe (FIFO)'],
    [constants.S_IFCHR | 0o666, 'a character device'],
    [constants.S_IFBLK | 0o660, 'a block device'],
    [constants.S_IFSOCK | 0o755, 'a socket'],
    [0, 'not a regular file'],
  ]
  for (const [mode, kind] of cases) assert.equal(fileKind(mode), kind, mode.toString(8))
})

test('describeSize and overLimit: the limit named in MiB or KiB, one line', () => {
  assert.equal(describeSize(64 * 1024 * 1024), '64 MiB')
  assert.equal(describeSize(64 * 1024), '64 KiB')
  assert.equal(describeSize(1000), '1000 bytes')
  const error = overLimit('/l/index.json', 70_000_000, 64 * 1024 * 1024, 'an index.json')
  assert.equal(error.code, 'INVALID_LAYOUT')
  assert.match(error.message, /^\/l\/index\.json is 70000000 bytes, above the 64 MiB limit ferry reads for an index\.json;/)
  assert.ok(!error.message.includes('\n'))
})

test('tarPath: the path a layout names, without ./ in front or / behind', () => {
  const cases: Array<[string, string]> = [
    ['./oci-layout', 'oci-layout'],
    ['blobs/sha256/', 'blobs/sha256'],
    ['./blobs//sha256/./abc', 'blobs/sha256/abc'],
    ['././index.json', 'index.json'],
    ['./', ''],
  ]
  for (const [input, want] of cases) assert.equal(tarPath(input), want, input)
})

test('tarEntryProblem: files and folders inside; links, devices, pipes and escapes refused', () => {
  const files = new Set(['blobs/sha256/aaa'])
  const allowed = [
    {path: './', type: 'Directory'},
    {path: './oci-layout', type: 'File'},
    {path: 'blobs/sha256/bbb', type: 'OldFile'},
    {path: 'blobs/sha256/ccc', type: 'ContiguousFile'},
    {path: './blobs/sha256/ddd', type: 'Link', linkpath: './blobs/sha256/aaa'},
    {path: 'a..b/file', type: 'File'},
  ]
  for (const entry of allowed) assert.equal(tarEntryProblem(entry, files), undefined, JSON.stringify(entry))
  const refused: Array<[{path: string; type: string; linkpath?: string}, RegExp]> = [
    [{path: '/etc/passwd', type: 'File'}, /^entry "\/etc\/passwd" has an absolute path$/],
    [{path: '../x', type: 'File'}, /^entry "\.\.\/x" leads outside the layout/],
    [{path: 'blobs/../../x', type: 'Directory'}, /leads outside the layout/],
    [{path: 'a\\..\\x', type: 'File'}, /leads outside the layout/],
    [{path: 'blobs/sha256/aaa', type: 'SymbolicLink', linkpath: '/dev/zero'}, /^entry "blobs\/sha256\/aaa" is a symbolic link \(to "\/dev\/zero"\)$/],
    [{path: 'x', type: 'Link', linkpath: '/etc/passwd'}, /is a hard link to "\/etc\/passwd", which is not a file earlier in the tar/],
    [{path: 'x', type: 'Link', linkpath: 'blobs/sha256/zzz'}, /is a hard link to "blobs\/sha256\/zzz"/],
    [{path: 'x', type: 'Link'}, /is a hard link to ""/],
    [{path: 'x', type: 'CharacterDevice'}, /is a character device$/],
    [{path: 'x', type: 'BlockDevice'}, /is a block device$/],
    [{path: 'x', type: 'FIFO'}, /is a named pipe \(FIFO\)$/],
    [{path: 'x', type: 'GNUDumpDir'}, /is a GNUDumpDir entry$/],
    [{path: 'x\n', type: 'SymbolicLink', linkpath: 'y'}, /^entry "x\\n" is a symbolic link/],
  ]
  for (const [entry, pattern] of refused) assert.match(tarEntryProblem(entry, files) ?? '', pattern, JSON.stringify(entry))
})

test('openRegular and readRegular on real files: links, pipes and devices refused unread; limits before reading', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-regular-'))
  try {
    const file = path.join(dir, 'file')
    await writeFile(file, 'twelve bytes')
    assert.equal((await readRegular(file, 12, 'a test file')).toString(), 'twelve bytes')
    await assert.rejects(readRegular(file, 11, 'a test file'), /file is 12 bytes, above the 11 bytes limit ferry reads for a test file/)
    const opened = await openRegular(file)
    assert.equal(opened.size, 12)
    await opened.handle.close()

    const fifo = path.join(dir, 'fifo')
    execFileSync('mkfifo', [fifo])
    const link = path.join(dir, 'link')
    await symlink(file, link)
    for (const [name, kind] of [
      [fifo, 'a named pipe \\(FIFO\\)'],
      [link, 'a symbolic link'],
      ['/dev/zero', 'a character device'],
      [dir, 'a folder'],
    ] as const) {
      await assert.rejects(readRegular(name, 1024, 'a test file'), (error: Error & {code?: string}) => {
        assert.equal(error.code, 'INVALID_LAYOUT')
        assert.match(error.message, new RegExp(`^${name.replaceAll('.', '\\.')} is ${kind}, not a regular file;`))
        return true
      })
    }
    await assert.rejects(readRegular(path.join(dir, 'absent'), 10, 'a test file'), {code: 'ENOENT'})
  } finally {
    await rm(dir, {recursive: true, force: true})
  }
})

test('BlobStore: a link under a blob name is not the blob; open and read check sizes first', async () => {
  const root = await mkdtemp(path.join(os.tmpdir(), 'ferry-store-'))
  try {
    const store = new BlobStore(root)
    const bytes = Buffer.from('{"schemaVersion":2}')
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`
    await mkdir(path.dirname(store.pathOf(digest)), {recursive: true})
    await symlink('/dev/zero', store.pathOf(digest))
    assert.equal(await store.has(digest), false)
    await assert.rejects(store.open(digest, bytes.length), /is a symbolic link, not a regular file/)
    await assert.rejects(store.read(digest), /is a symbolic link, not a regular file/)
    await store.writeBytes(digest, bytes)
    assert.equal(await store.has(digest), true, 'a save replaces the link with the blob')
    assert.deepEqual(await store.read(digest, bytes.length), bytes)
    await assert.rejects(store.read(digest, bytes.length + 1), {
      code: 'SIZE_MISMATCH',
      message: new RegExp(`blob ${digest} is ${bytes.length} bytes on disk but its descriptor says ${bytes.length + 1}; the layout is damaged`),
    })
    await assert.rejects(store.open(digest, 3), {code: 'SIZE_MISMATCH'})
    const chunks: Buffer[] = []
    for await (const chunk of await store.open(digest, bytes.length)) chunks.push(chunk as Buffer)
    assert.deepEqual(Buffer.concat(chunks), bytes)
  } finally {
    await rm(root, {recursive: true, force: true})
  }
})
