import assert from 'node:assert/strict'
import {test} from 'node:test'

import {
  hasNextPage,
  pageSizeFrom,
  parseHarborError,
  projectNameProblem,
  repositoryApiPath,
  splitRepository,
  summarizeFailures,
  tagsOfArtifacts,
  totalCount,
} from '../../src/providers/harbor-model.js'

test('repositoryApiPath encodes the repository part twice and the project once', () => {
  const cases: [string, string, string][] = [
    ['library', 'nginx', '/projects/library/repositories/nginx'],
    ['team', 'a/b', '/projects/team/repositories/a%252Fb'],
    ['team', 'a/b/c-1.x_y', '/projects/team/repositories/a%252Fb%252Fc-1.x_y'],
  ]
  for (const [project, repository, expected] of cases) assert.equal(repositoryApiPath(project, repository), expected)
})

test('splitRepository takes the project as the first path component', () => {
  const cases: [string, ReturnType<typeof splitRepository>][] = [
    ['team/app', {project: 'team', repository: 'app'}],
    ['team/a/b', {project: 'team', repository: 'a/b'}],
    ['solo', undefined],
    ['/app', undefined],
    ['team/', undefined],
  ]
  for (const [name, expected] of cases) assert.deepEqual(splitRepository(name), expected, name)
})

test('hasNextPage prefers X-Total-Count, then Link, then a full page', () => {
  const cases: [Parameters<typeof hasNextPage>[0], boolean][] = [
    [{seen: 2, received: 2, pageSize: 2, total: 5}, true],
    [{seen: 5, received: 1, pageSize: 2, total: 5}, false],
    // A server returning fewer than asked for is not at its end while the total says more.
    [{seen: 10, received: 10, pageSize: 100, total: 25}, true],
    [{seen: 0, received: 0, pageSize: 2, total: 5}, false],
    [{seen: 2, received: 2, pageSize: 2, link: '</api/v2.0/projects?page=2&page_size=2>; rel="next"'}, true],
    [{seen: 4, received: 2, pageSize: 2, link: '</api/v2.0/projects?page=1&page_size=2>; rel="prev"'}, false],
    [{seen: 2, received: 2, pageSize: 2}, true],
    [{seen: 3, received: 1, pageSize: 2}, false],
  ]
  for (const [page, expected] of cases) assert.equal(hasNextPage(page), expected, JSON.stringify(page))
})

test('totalCount reads the header only when it is a count', () => {
  const cases: [string | undefined, number | undefined][] = [
    [undefined, undefined],
    ['12', 12],
    [' 0 ', 0],
    ['-1', undefined],
    ['many', undefined],
  ]
  for (const [header, expected] of cases) assert.equal(totalCount(header), expected, String(header))
})

test('tagsOfArtifacts lists tags in order, once each, and counts untagged artifacts', () => {
  const cases: [Parameters<typeof tagsOfArtifacts>[0], ReturnType<typeof tagsOfArtifacts>][] = [
    [[], {tags: [], untagged: 0}],
    [
      [
        {digest: 'sha256:a', tags: [{name: '1.0'}, {name: 'latest'}]},
        {digest: 'sha256:b', tags: [{name: '0.9'}]},
      ],
      {tags: ['1.0', 'latest', '0.9'], untagged: 0},
    ],
    [[{digest: 'sha256:a', tags: null}, {digest: 'sha256:b'}, {digest: 'sha256:c', tags: []}], {tags: [], untagged: 3}],
    [
      [
        {digest: 'sha256:a', tags: [{name: 'x'}]},
        {digest: 'sha256:b', tags: [{name: 'x'}, {}]},
      ],
      {tags: ['x'], untagged: 0},
    ],
  ]
  for (const [artifacts, expected] of cases) assert.deepEqual(tagsOfArtifacts(artifacts), expected, JSON.stringify(artifacts))
})

test('parseHarborError reads the first error of Harbor bodies and survives others', () => {
  const cases: [number, string, ReturnType<typeof parseHarborError>][] = [
    [401, '{"errors":[{"code":"UNAUTHORIZED","message":"unauthorized"}]}', {code: 'UNAUTHORIZED', message: 'unauthorized'}],
    [
      409,
      '{"errors":[{"code":"CONFLICT","message":"The project named team already exists"},{"code":"X"}]}',
      {code: 'CONFLICT', message: 'The project named team already exists'},
    ],
    [
      422,
      '{"code":606,"message":"page_size in query\\nshould be less than or equal to 100"}',
      {code: 'HTTP_422', message: 'page_size in query should be less than or equal to 100'},
    ],
    [502, '<html>Bad Gateway</html>', {code: 'HTTP_502', message: undefined}],
    [404, '', {code: 'HTTP_404', message: undefined}],
  ]
  for (const [status, body, expected] of cases) assert.deepEqual(parseHarborError(status, body), expected, body)
  assert.equal(parseHarborError(500, JSON.stringify({errors: [{code: 'E', message: 'x'.repeat(500)}]})).message?.length, 200)
})

test('projectNameProblem follows Harbor project naming', () => {
  const cases: [string, boolean][] = [
    ['library', true],
    ['team-a.b_c', true],
    ['0123', true],
    ['', false],
    ['Team', false],
    ['team_', false],
    ['a__b', false],
    ['a/b', false],
    ['x'.repeat(256), false],
  ]
  for (const [name, ok] of cases) assert.equal(projectNameProblem(name) === undefined, ok, name)
})

test('pageSizeFrom keeps within Harbor limit of 100', () => {
  const cases: [string | undefined, number][] = [
    [undefined, 100],
    ['', 100],
    ['2', 2],
    ['500', 100],
    ['0', 100],
    ['ten', 100],
  ]
  for (const [value, expected] of cases) assert.equal(pageSizeFrom(value), expected, String(value))
})

test('summarizeFailures shows the first few and counts the rest', () => {
  assert.equal(summarizeFailures(['a']), 'a')
  assert.equal(summarizeFailures(['a', 'b', 'c', 'd', 'e']), 'a; b; c; and 2 more')
})
