'use strict'
// The documents are the contract: README.md is a front page that stays short, every document in
// docs/ says whom it is for, every relative link and #anchor lands on a file and a heading, no
// document names a tracker's issue number, the exit codes agree with the code, and the front
// page's recipes run as written.
const { describe, it } = require('node:test')
const assert = require('node:assert/strict')
const { spawn } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const { ROOT, BIN, run, runJson, baseEnv, tempDir } = require('./helpers.js')

const README = path.join(ROOT, 'README.md')
const DOCS = path.join(ROOT, 'docs')
const documents = fs
  .readdirSync(DOCS)
  .filter((name) => name.endsWith('.md'))
  .sort()
  .map((name) => path.join(DOCS, name))
const all = [README, ...documents]
const read = (file) => fs.readFileSync(file, 'utf8')
const relative = (file) => path.relative(ROOT, file)

/** The text outside fenced code blocks, line for line (code lines left empty). */
function prose(text) {
  let fenced = false
  return text
    .split('\n')
    .map((line) => {
      if (/^\s*```/.test(line)) {
        fenced = !fenced
        return ''
      }
      return fenced ? '' : line
    })
    .join('\n')
}

/** A heading's anchor as GitHub makes it: lowercased, punctuation dropped, spaces to hyphens. */
function slug(heading) {
  const text = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/[`*_]/g, (char) => (char === '_' ? '_' : ''))
    .trim()
    .toLowerCase()
  return text.replace(/[^\p{L}\p{M}\p{N}\s_-]/gu, '').replace(/ /g, '-')
}

/** Every anchor of a Markdown file, with GitHub's -1, -2 ... for repeated headings. */
function anchors(file) {
  const seen = new Map()
  const result = new Set()
  for (const [, heading] of prose(read(file)).matchAll(/^#{1,6} +(.+?) *#*$/gm)) {
    const base = slug(heading)
    const count = seen.get(base) ?? 0
    seen.set(base, count + 1)
    result.add(count === 0 ? base : `${base}-${count}`)
  }
  return result
}

/** Every link and image target of a file's prose, inline code left out. */
function links(file) {
  const text = prose(read(file)).replace(/`[^`\n]*`/g, '')
  return [...text.matchAll(/!?\[(?:[^\]]|\n)*?\]\(([^)\s]+)\)/g)].map((match) => match[1])
}

describe('the documents', () => {
  it('README.md is a front page of at most 300 lines', () => {
    const lines = read(README).split('\n').length - (read(README).endsWith('\n') ? 1 : 0)
    assert.ok(lines <= 300, `README.md has ${lines} lines`)
  })

  it('every document in docs/ opens with whom it is for, and the README links to each', () => {
    assert.ok(documents.length > 0)
    const fromReadme = new Set(links(README).map((target) => path.normalize(target.split('#')[0])))
    for (const file of documents) {
      const [title, blank, first] = read(file).split('\n')
      assert.match(title, /^# \S/, `${relative(file)} starts with its title`)
      assert.equal(blank, '', relative(file))
      assert.match(first, /^For \S/, `${relative(file)}: the paragraph under the title begins "For ..."`)
      assert.ok(fromReadme.has(path.join('docs', path.basename(file))), `README.md links to ${relative(file)}`)
    }
  })

  it('every relative link lands on a file, and every #anchor on a heading', () => {
    const broken = []
    let checked = 0
    for (const file of all) {
      for (const target of links(file)) {
        if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue
        checked += 1
        const [filePart, anchor] = target.split('#')
        const destination = filePart ? path.resolve(path.dirname(file), filePart) : file
        if (!fs.existsSync(destination)) {
          broken.push(`${relative(file)}: ${target} (no such file)`)
        } else if (anchor !== undefined && !(destination.endsWith('.md') && anchors(destination).has(anchor))) {
          broken.push(`${relative(file)}: ${target} (no such heading in ${relative(destination)})`)
        }
      }
    }
    assert.deepEqual(broken, [])
    assert.ok(checked > 50, `only ${checked} links checked`)
  })

  it('the anchor rule is GitHub’s', () => {
    assert.equal(slug('Who holds a lock: user and holder'), 'who-holds-a-lock-user-and-holder')
    assert.equal(slug("The first spec's forms"), 'the-first-specs-forms')
    assert.equal(slug('What `locks list` shows'), 'what-locks-list-shows')
    assert.equal(slug('6. `daplaya serve` with 100 envs held'), '6-daplaya-serve-with-100-envs-held')
    assert.equal(slug('Size, start-up and memory'), 'size-start-up-and-memory')
  })

  it('no document names an issue number of a tracker', () => {
    const found = []
    for (const file of all) {
      read(file)
        .split('\n')
        .forEach((line, index) => {
          // `#39` of "UTS #39" is Unicode's standard; an anchor such as `#2-operations` is a heading.
          const mention = /\b(issues?|pull requests?|PRs?|GH)[ -]#?\d+\b|(?<![\w/&]|UTS )#\d+(?![\w-])|\/(issues|pull)\/\d+/i.exec(line)
          if (mention) found.push(`${relative(file)}:${index + 1}: ${mention[0]}`)
        })
    }
    assert.deepEqual(found, [])
  })

  it('the exit codes table lists every error code with the exit code the code gives it', () => {
    const cliDoc = read(path.join(DOCS, 'cli.md'))
    const table = cliDoc.split(/^## Exit codes$/m)[1].split(/\n\n/)[1]
    const documented = new Map()
    const exitCodes = []
    for (const [, code, , jsCodes] of table.matchAll(/^\| ([0-9N+]+) \|(.*)\|(.*)\|$/gm)) {
      exitCodes.push(code)
      for (const [, name] of jsCodes.matchAll(/`([A-Z_]+)`/g)) documented.set(name, code)
    }
    // What the Rust error type and the platform check give JS callers and --json documents.
    const errorRs = read(path.join(ROOT, 'src', 'error.rs'))
    const codeFn = errorRs.slice(errorRs.indexOf('pub fn code(&self)'))
    const given = new Set([...codeFn.slice(0, codeFn.indexOf('\n    }\n')).matchAll(/"([A-Z_]+)"/g)].map((m) => m[1]))
    given.add(/code: '([A-Z_]+)'/.exec(read(path.join(ROOT, 'native.js')))[1])
    assert.deepEqual([...documented.keys()].sort(), [...given].sort())
    // index.d.ts: each ErrorCode says its exit code; the table says the same.
    const declarations = read(path.join(ROOT, 'index.d.ts'))
    const union = declarations.slice(declarations.indexOf('export type ErrorCode'), declarations.indexOf('export interface DaplayaError'))
    for (const [, comment, name] of union.matchAll(/\/\*\* (.*?) \*\/\s*\| '([A-Z_]+)'/g)) {
      const exit = /exit (\d+)\)/.exec(comment)
      if (!exit) continue
      assert.equal(documented.get(name), exit[1], `${name}: index.d.ts says exit ${exit[1]}`)
    }
    // The front page's short table has the same codes.
    const front = read(README).split(/^## Exit codes$/m)[1].split(/^## /m)[0]
    assert.deepEqual([...front.matchAll(/^\| ([0-9N+]+) \|/gm)].map((m) => m[1]), exitCodes)
  })
})

/** The `npx daplaya` lines of the README's code blocks under `heading` (up to the next heading of its level). */
function readmeLines(heading) {
  const lines = read(README).split('\n')
  const headings = prose(read(README)).split('\n')
  const level = /^#+/.exec(heading)[0].length
  const start = headings.indexOf(heading)
  assert.ok(start >= 0, heading)
  const end = headings.findIndex((line, i) => i > start && new RegExp(`^#{1,${level}} `).test(line))
  return lines
    .slice(start + 1, end < 0 ? undefined : end)
    .join('\n')
    .split('```')
    .filter((_, i) => i % 2 === 1)
    .flatMap((block) => block.split('\n'))
    .map((line) => /npx daplaya .*/.exec(line)?.[0])
    .filter(Boolean)
}

describe('the contracts written in more than one place agree', () => {
  /** The exit codes of the `exit` module of src/error.rs, and 128+N, which no constant names. */
  function exitModuleCodes() {
    const errorRs = read(path.join(ROOT, 'src', 'error.rs'))
    const exitModule = errorRs.slice(errorRs.indexOf('pub mod exit {'))
    const body = exitModule.slice(0, exitModule.indexOf('\n}\n'))
    const codes = [...body.matchAll(/pub const [A-Z_]+: i32 = (\d+);/g)].map((m) => Number(m[1]))
    return [...codes, '128+N']
  }

  const byCode = (a, b) => parseInt(a, 10) - parseInt(b, 10) || String(a).localeCompare(String(b))

  it("docs/cli.md's exit-code table, `daplaya --help` and error.rs's exit module list the same codes", async () => {
    const table = read(path.join(DOCS, 'cli.md')).split(/^## Exit codes$/m)[1].split(/\n\n/)[1]
    const documented = [...table.matchAll(/^\| ([0-9N+]+) \|/gm)].map((m) => m[1])
    const { code, stdout } = await run(['--help'])
    assert.equal(code, 0)
    const help = stdout.split(/^Exit codes:$/m)[1]
    assert.ok(help, `--help has no exit codes:\n${stdout}`)
    const helped = [...help.matchAll(/^ {2}([0-9N+]+) +\S/gm)].map((m) => m[1])
    const declared = exitModuleCodes().map(String)
    assert.deepEqual(helped, documented)
    assert.deepEqual([...declared].sort(byCode), [...documented].sort(byCode))
  })

  it("index.d.ts's ErrorCode union is every code error.rs and native.js give, and ABORT_ERR", () => {
    const errorRs = read(path.join(ROOT, 'src', 'error.rs'))
    const codeFn = errorRs.slice(errorRs.indexOf('pub fn code(&self)'))
    const given = new Set([...codeFn.slice(0, codeFn.indexOf('\n    }\n')).matchAll(/"([A-Z_]+)"/g)].map((m) => m[1]))
    for (const [, name] of read(path.join(ROOT, 'native.js')).matchAll(/code: '([A-Z_]+)'/g)) given.add(name)
    // Node's own code of an aborted call (index.js rejects with an AbortError).
    given.add('ABORT_ERR')
    const declarations = read(path.join(ROOT, 'index.d.ts'))
    const union = declarations.slice(declarations.indexOf('export type ErrorCode'), declarations.indexOf('export interface DaplayaError'))
    const declared = [...union.matchAll(/\| '([A-Z_]+)'/g)].map((m) => m[1])
    assert.deepEqual([...declared].sort(), [...given].sort())
  })
})

describe("the README's recipes, run as written", () => {
  it('the one line, the CLI quick start and the CI step run on the embedded store with nothing configured', async () => {
    const lines = [
      ...readmeLines('## In a pipeline, one line'),
      ...readmeLines('### CLI'),
      ...readmeLines('### CI'),
    ]
    assert.ok(lines.length >= 7, lines.join('\n'))
    const dir = tempDir()
    // Nothing configured: no store, no AWS, no CI; a home of its own (no git identity from here).
    const env = { ...baseEnv(), HOME: dir, XDG_DATA_HOME: path.join(dir, 'data'), GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: path.join(dir, 'no-gitconfig') }
    fs.writeFileSync(path.join(dir, 'deploy.sh'), '#!/bin/sh\necho "deployed ${1:-everything} with token $DAPLAYA_FENCING_TOKEN" >> deploys\n', { mode: 0o755 })
    for (const line of lines) {
      const command = line.replace(/^npx daplaya /, `node '${BIN}' `)
      const result = await new Promise((resolve) => {
        const child = spawn('sh', ['-c', command], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] })
        let output = ''
        child.stdout.on('data', (chunk) => (output += chunk))
        child.stderr.on('data', (chunk) => (output += chunk))
        child.on('close', (code) => resolve({ code, output }))
      })
      assert.equal(result.code, 0, `${line}\n${result.output}`)
      if (/-- echo deployed/.test(line)) assert.match(result.output, /^deployed$/m)
    }
    const database = path.join(dir, 'data', 'daplaya', 'daplaya.db')
    assert.ok(fs.existsSync(database), 'the embedded store at its per-user default path')
    const deploys = fs.readFileSync(path.join(dir, 'deploys'), 'utf8').trim().split('\n')
    assert.equal(deploys.length, 2)
    for (const deploy of deploys) assert.match(deploy, /^deployed (everything|production) with token \d+$/)
    const store = { env: { DAPLAYA_STORE: `sqlite:${database}` } }
    assert.deepEqual((await runJson(['locks', 'list'], store)).json, [], 'nothing stays locked')
    const holds = (await runJson(['locks', 'history', '--env', 'staging'], store)).json
    assert.deepEqual(
      holds.map((hold) => hold.end),
      ['released', 'released'],
    )
    assert.equal(holds[1].meta, 'trying daplaya')
  })
})
