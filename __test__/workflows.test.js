'use strict'
// The GitHub files (every workflow, and the repository's action.yml when there is one) validate
// against GitHub's schemas, checked by @action-validator/cli; broken copies are refused.
const { describe, it } = require('node:test')
const assert = require('node:assert/strict')
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const { ROOT, tempDir } = require('./helpers.js')

const VALIDATOR = path.join(ROOT, 'node_modules', '@action-validator', 'cli', 'cli.mjs')
const WORKFLOWS = path.join(ROOT, '.github', 'workflows')

function githubFiles() {
  const workflows = fs
    .readdirSync(WORKFLOWS)
    .filter((name) => /\.ya?ml$/.test(name))
    .map((name) => path.join(WORKFLOWS, name))
  const actions = ['action.yml', 'action.yaml'].map((name) => path.join(ROOT, name)).filter((file) => fs.existsSync(file))
  return [...workflows, ...actions]
}

/** { status, output } of action-validator on the file. */
function validate(file) {
  const result = spawnSync(process.execPath, [VALIDATOR, file], { cwd: ROOT, encoding: 'utf8' })
  return { status: result.status, output: `${result.stdout}${result.stderr}` }
}

/** A copy of `file` named `name` in a fresh directory, with `from` replaced by `to`. */
function brokenCopy(file, name, from, to) {
  const text = fs.readFileSync(file, 'utf8')
  assert.ok(text.includes(from), `${path.basename(file)} has no ${from}`)
  const copy = path.join(tempDir(), name)
  fs.writeFileSync(copy, text.replace(from, to))
  return copy
}

describe('GitHub workflows and action', () => {
  const files = githubFiles()

  it('there are workflows to check', () => {
    assert.ok(files.some((file) => file.startsWith(WORKFLOWS)), 'no .github/workflows/*.yml')
  })

  for (const file of files) {
    it(`${path.relative(ROOT, file)} validates against GitHub's schema`, () => {
      const { status, output } = validate(file)
      assert.equal(status, 0, output)
    })
  }

  it('a workflow with a misspelt key or an unknown job in needs is refused', () => {
    const workflow = path.join(WORKFLOWS, 'ci.yml')
    const misspelt = validate(brokenCopy(workflow, 'ci.yml', 'runs-on:', 'runz-on:'))
    assert.notEqual(misspelt.status, 0)
    assert.match(misspelt.output, /Additional property 'runz-on' is not allowed/)
    const unknownJob = validate(brokenCopy(workflow, 'ci.yml', 'needs: build', 'needs: biuld'))
    assert.notEqual(unknownJob.status, 0)
    assert.match(unknownJob.output, /unresolved job biuld/)
  })

  it('the smoke job runs each binary on Node 20, 22 and 24, and on Bun and Deno where they run natively', () => {
    const workflow = fs.readFileSync(path.join(WORKFLOWS, 'ci.yml'), 'utf8')
    // The smoke job's text: from its key to the next job's.
    const smoke = /\n {2}smoke:\n([\s\S]*?)(?=\n {2}[a-z_-]+:\n)/.exec(workflow)?.[1]
    assert.ok(smoke, 'ci.yml has no smoke job')
    assert.match(smoke, /\n {8}node: \['20', '22', '24'\]\n/)
    for (const runtime of ['bun', 'deno']) {
      assert.match(smoke, new RegExp(`\\n {8}run: sh scripts/smoke\\.sh ${runtime}\\n`), `no smoke step on ${runtime}`)
    }
    // Bun and Deno on Linux x64 at least, where `npm test` runs them too.
    assert.match(smoke, /- target: x86_64-unknown-linux-gnu\n {12}host: ubuntu-latest\n {12}bun_and_deno: true\n/)
  })

  it('an action.yml without runs is refused', () => {
    const action = path.join(tempDir(), 'action.yml')
    fs.writeFileSync(action, 'name: daplaya\ndescription: a deploy lock\n')
    const { status, output } = validate(action)
    assert.notEqual(status, 0)
    assert.match(output, /runs/)
  })
})
