'use strict'
// CI-native: the default user and meta from each CI's environment, git and the login name, on
// the real CLI; and the CI recipes of docs/ci.md, run line by line with that CI's variables set,
// so the documentation cannot drift from the product.
const { describe, it } = require('node:test')
const assert = require('node:assert/strict')
const { spawn, execFileSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { ROOT, BIN, run, runJson, baseEnv, tempDir } = require('./helpers.js')

/** What each CI sets in a job, and the user and meta daplaya should take from it. */
const CIS = {
  'GitHub Actions': {
    variables: {
      GITHUB_ACTIONS: 'true',
      GITHUB_ACTOR: 'octocat',
      GITHUB_TRIGGERING_ACTOR: 'Hubot',
      GITHUB_SERVER_URL: 'https://github.com',
      GITHUB_REPOSITORY: 'acme/shop',
      GITHUB_RUN_ID: '4242',
    },
    user: ['hubot', 'GITHUB_TRIGGERING_ACTOR'],
    meta: 'https://github.com/acme/shop/actions/runs/4242',
  },
  'GitLab CI': {
    variables: { GITLAB_CI: 'true', GITLAB_USER_EMAIL: 'Ann@Example.com', CI_JOB_URL: 'https://gitlab.com/acme/shop/-/jobs/77' },
    user: ['ann@example.com', 'GITLAB_USER_EMAIL'],
    meta: 'https://gitlab.com/acme/shop/-/jobs/77',
  },
  Jenkins: {
    variables: { JENKINS_URL: 'https://jenkins.acme/', BUILD_USER_EMAIL: 'jen@example.com', BUILD_URL: 'https://jenkins.acme/job/deploy/12/' },
    user: ['jen@example.com', 'BUILD_USER_EMAIL'],
    meta: 'https://jenkins.acme/job/deploy/12/',
  },
  CircleCI: {
    variables: { CIRCLECI: 'true', CIRCLE_USERNAME: 'circler', CIRCLE_BUILD_URL: 'https://circleci.com/gh/acme/shop/31' },
    user: ['circler', 'CIRCLE_USERNAME'],
    meta: 'https://circleci.com/gh/acme/shop/31',
  },
  Buildkite: {
    variables: { BUILDKITE: 'true', BUILDKITE_BUILD_CREATOR_EMAIL: 'bk@example.com', BUILDKITE_BUILD_URL: 'https://buildkite.com/acme/shop/builds/8' },
    user: ['bk@example.com', 'BUILDKITE_BUILD_CREATOR_EMAIL'],
    meta: 'https://buildkite.com/acme/shop/builds/8',
  },
}

/** A fresh embedded store in a CI job: `CI=true`, so the store must be named, as in the recipes' settings. */
function ciJob(name) {
  const dir = tempDir()
  return { dir, env: { CI: 'true', ...CIS[name].variables, DAPLAYA_STORE: `sqlite:${path.join(dir, 'locks.db')}` } }
}

/** No git identity from this machine: a HOME of its own and no system git config. */
function isolatedGit(dir) {
  return { HOME: dir, XDG_CONFIG_HOME: dir, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: path.join(dir, 'no-gitconfig') }
}

describe('default user and meta from the CI', () => {
  for (const [name, ci] of Object.entries(CIS)) {
    it(`${name}: lock, run, release and jobs start take its user and run URL`, async () => {
      const { env } = ciJob(name)
      const [user, source] = ci.user
      const locked = await runJson(['locks', 'lock', '--env', 'production'], { env })
      assert.equal(locked.code, 0, locked.stderr)
      assert.deepEqual([locked.json.user, locked.json.userSource, locked.json.meta], [user, source, ci.meta])
      assert.equal(locked.stderr.split(`daplaya: user ${user} (from ${source})`).length, 2, `said once: ${locked.stderr}`)

      const released = await runJson(['locks', 'release', '--env', 'production'], { env })
      assert.deepEqual([released.json.released, released.json.userSource], [true, source])

      const ran = await run(['locks', 'run', '--env', 'production', '--json', '--', process.execPath, '-e', ''], { env })
      assert.equal(ran.code, 0, ran.stderr)
      const ranJson = JSON.parse(ran.stdout)
      assert.deepEqual([ranJson.lock.user, ranJson.lock.meta, ranJson.userSource], [user, ci.meta, source])

      const job = await runJson(['jobs', 'start', '--jobname', 'deploy', '--gitversion', 'abc'], { env })
      assert.deepEqual([job.json.user, job.json.userSource], [user, source])
    })
  }

  it('explicit flags win over DAPLAYA_USER, which wins over the CI', async () => {
    const { env } = ciJob('GitLab CI')
    const given = await runJson(['locks', 'lock', '--env', 'a', '--user', 'Alice', '--meta', 'INC-42'], { env: { ...env, DAPLAYA_USER: 'deployer' } })
    assert.deepEqual([given.json.user, given.json.meta, 'userSource' in given.json], ['alice', 'INC-42', false])
    assert.doesNotMatch(given.stderr, /daplaya: user/, 'nothing to say about a given user')
    const daplayaUser = await runJson(['locks', 'lock', '--env', 'b'], { env: { ...env, DAPLAYA_USER: 'Deployer' } })
    assert.deepEqual([daplayaUser.json.user, daplayaUser.json.userSource], ['deployer', 'DAPLAYA_USER'])
  })

  it('outside CI: git config user.email in the current directory, then the login name; meta CLI', async () => {
    const dir = tempDir()
    const git = isolatedGit(dir)
    const store = { DAPLAYA_STORE: `sqlite:${path.join(dir, 'locks.db')}` }
    const repo = path.join(dir, 'repo')
    fs.mkdirSync(repo)
    execFileSync('git', ['init', '-q', repo], { env: { ...baseEnv(), ...git } })
    execFileSync('git', ['config', 'user.email', 'Dev@Example.com'], { cwd: repo, env: { ...baseEnv(), ...git } })
    const fromGit = await run(['locks', 'lock', '--env', 'dev', '--json'], { cwd: repo, env: { ...store, ...git } })
    assert.equal(fromGit.code, 0, fromGit.stderr)
    const locked = JSON.parse(fromGit.stdout)
    assert.deepEqual([locked.user, locked.userSource, locked.meta], ['dev@example.com', 'git config user.email', 'CLI'])
    assert.match(fromGit.stderr, /^daplaya: user dev@example\.com \(from git config user\.email\)$/m)

    const login = os.userInfo().username.toLowerCase()
    const fromLogin = await run(['locks', 'lock', '--env', 'other', '--json'], { cwd: dir, env: { ...store, ...git } })
    assert.equal(fromLogin.code, 0, fromLogin.stderr)
    assert.deepEqual(
      [JSON.parse(fromLogin.stdout).user, JSON.parse(fromLogin.stdout).userSource],
      [login, 'login name'],
    )
    // Quiet: no line about the user, the JSON still says it.
    const quiet = await run(['locks', 'release', '--env', 'other', '--json', '--quiet'], { cwd: dir, env: { ...store, ...git } })
    assert.equal(quiet.stderr, '')
    assert.deepEqual([JSON.parse(quiet.stdout).released, JSON.parse(quiet.stdout).userSource], [true, 'login name'])
  })

  it('a CI value that is not a valid user or meta is a usage error naming its variable; nothing is stored', async () => {
    const { env } = ciJob('GitHub Actions')
    for (const [variables, message] of [
      [{ GITHUB_TRIGGERING_ACTOR: 'evil\tuser' }, /^user must not contain control characters \(from GITHUB_TRIGGERING_ACTOR\)$/],
      [{ GITHUB_TRIGGERING_ACTOR: '', GITHUB_ACTOR: 'x'.repeat(257) }, /^user is too long \(257 characters, at most 256\) \(from GITHUB_ACTOR\)$/],
      [{ GITHUB_SERVER_URL: `https://${'x'.repeat(1100)}` }, /^meta is too long .*\(from GITHUB_SERVER_URL\/GITHUB_REPOSITORY\/GITHUB_RUN_ID\)$/],
    ]) {
      const result = await runJson(['locks', 'lock', '--env', 'production'], { env: { ...env, ...variables } })
      assert.equal(result.code, 2, result.stderr)
      assert.equal(result.json.error.code, 'INVALID_ARGUMENT')
      assert.match(result.json.error.message, message)
      assert.match(result.stderr, /^error: /)
    }
    assert.deepEqual((await runJson(['locks', 'list'], { env })).json, [])
  })

  it('the Node API takes the same defaults (meta API outside CI)', async () => {
    const dir = tempDir()
    const call = (lockEnv, env) => {
      const options = { env: lockEnv, noWait: true, store: `sqlite:${path.join(dir, 'locks.db')}` }
      const script = `require(${JSON.stringify(ROOT)}).lock(${JSON.stringify(options)}).then((lock) => process.stdout.write(JSON.stringify(lock)))`
      return JSON.parse(execFileSync(process.execPath, ['-e', script], { cwd: dir, env: { ...baseEnv(), ...isolatedGit(dir), ...env }, encoding: 'utf8' }))
    }
    const inCi = call('production', CIS['CircleCI'].variables)
    assert.deepEqual([inCi.user, inCi.userSource, inCi.meta], ['circler', 'CIRCLE_USERNAME', CIS['CircleCI'].meta])
    const outside = call('staging', { DAPLAYA_USER: 'scripted' })
    assert.deepEqual([outside.user, outside.userSource, outside.meta, outside.outcome], ['scripted', 'DAPLAYA_USER', 'API', 'acquired'])
  })
})

const CI_DOC = path.join(ROOT, 'docs', 'ci.md')

/** The recipes of docs/ci.md, by CI (### heading under ## Recipes): every `npx daplaya` command line in each. */
function documentedRecipes() {
  const doc = fs.readFileSync(CI_DOC, 'utf8')
  const section = doc.split(/^## Recipes$/m)[1].split(/^## /m)[0]
  const recipes = {}
  for (const part of section.split(/^### /m).slice(1)) {
    const [heading, ...body] = part.split('\n')
    const code = body.join('\n').split('```').filter((_, i) => i % 2 === 1)
    recipes[heading.trim()] = code
      .flatMap((block) => block.split('\n'))
      .map((line) => /npx daplaya .*/.exec(line)?.[0])
      .filter(Boolean)
      // Jenkins' `sh '...'`: the line ends at the closing quote.
      .map((line) => line.replace(/'\s*$/, ''))
  }
  return recipes
}

describe('the CI recipes of docs/ci.md', () => {
  const recipes = documentedRecipes()

  it('cover every CI, each with a deploy under locks run', () => {
    assert.deepEqual(Object.keys(recipes).sort(), Object.keys(CIS).sort())
    for (const [name, lines] of Object.entries(recipes)) {
      assert.ok(lines.some((line) => / locks run .* -- \.\/deploy\.sh/.test(line)), `${name}: ${lines}`)
    }
  })

  for (const name of Object.keys(CIS)) {
    it(`${name}: each command line runs with the CI's variables, as the CI's user with the run URL`, async () => {
      const { dir, env } = ciJob(name)
      // The deploy the recipes run: it records who holds its env while it runs.
      fs.writeFileSync(
        path.join(dir, 'deploy.sh'),
        `#!/bin/sh\nnode "$DAPLAYA_TEST_BIN" locks list --env "$DAPLAYA_ENV" --json > held.json\necho "deployed $1 with token $DAPLAYA_FENCING_TOKEN"\n`,
        { mode: 0o755 },
      )
      for (const line of recipes[name]) {
        const command = line.replace(/^npx daplaya /, `node '${BIN}' `)
        const result = await new Promise((resolve) => {
          const child = spawn('sh', ['-c', command], { cwd: dir, env: { ...baseEnv(), ...env, DAPLAYA_TEST_BIN: BIN }, stdio: ['ignore', 'pipe', 'pipe'] })
          let stdout = ''
          let stderr = ''
          child.stdout.on('data', (chunk) => (stdout += chunk))
          child.stderr.on('data', (chunk) => (stderr += chunk))
          child.on('close', (code) => resolve({ code, stdout, stderr }))
        })
        assert.equal(result.code, 0, `${line}\n${result.stderr}`)
        const [user, source] = CIS[name].user
        assert.match(result.stderr, new RegExp(`^daplaya: user ${user.replace(/\./g, '\\.')} \\(from ${source}\\)$`, 'm'))
        assert.match(result.stdout, /^deployed production with token \d+$/m)
        const [held] = JSON.parse(fs.readFileSync(path.join(dir, 'held.json'), 'utf8'))
        assert.deepEqual([held.env, held.user, held.meta], ['production', user, CIS[name].meta])
      }
      assert.deepEqual((await run(['locks', 'list', '--json'], { env })).stdout.trim(), '[]', 'released at the end')
    })
  }

  it('newest only: of the pipelines waiting behind a deploy, the older gives way (its job passes, nothing deployed) and the newest deploys', async () => {
    const doc = fs.readFileSync(CI_DOC, 'utf8')
    const recipe = /^## Newest only$[\s\S]*?```sh\n(npx daplaya .*)\n```/m.exec(doc)[1]
    assert.match(recipe, / --supersede /)
    const { dir, env } = ciJob('GitLab CI')
    fs.writeFileSync(path.join(dir, 'deploy.sh'), '#!/bin/sh\necho "$CI_JOB_URL" >> deployed\n', { mode: 0o755 })
    const pipeline = (job) => {
      const command = recipe.replace(/^npx daplaya /, `node '${BIN}' `).replace('--timeout 30m', '--timeout 30m --poll-interval 100ms')
      const child = spawn('sh', ['-c', command], { cwd: dir, env: { ...baseEnv(), ...env, CI_JOB_URL: `https://gitlab.com/acme/shop/-/jobs/${job}` }, stdio: 'ignore' })
      return new Promise((resolve) => child.on('close', (code) => resolve(code)))
    }
    const inLine = async (count) => {
      for (;;) {
        const [held] = (await runJson(['locks', 'list', '--env', 'production'], { env })).json
        if ((held.queue ?? []).length === count) return
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
    }
    assert.equal((await run(['locks', 'lock', '--env', 'production', '--user', 'c1'], { env })).code, 0)
    const c2 = pipeline(2)
    await inLine(1)
    const c3 = pipeline(3)
    assert.equal(await c2, 0, 'the older pipeline gave way, and its job passes')
    assert.equal((await run(['locks', 'release', '--env', 'production', '--user', 'c1'], { env })).code, 0)
    assert.equal(await c3, 0)
    assert.equal(fs.readFileSync(path.join(dir, 'deployed'), 'utf8'), 'https://gitlab.com/acme/shop/-/jobs/3\n')
  })

  it("the action's example uses only the action's inputs and outputs", () => {
    const doc = fs.readFileSync(CI_DOC, 'utf8')
    const example = /uses: <owner>\/daplaya@v1\n([\s\S]*?)```/.exec(doc)[1]
    const yml = fs.readFileSync(path.join(ROOT, 'action.yml'), 'utf8')
    const withKeys = [...example.split(/\n\s+with:\n/)[1].matchAll(/^ {10}([a-z-]+):/gm)].map((m) => m[1])
    assert.deepEqual(withKeys, ['env', 'ttl', 'timeout'])
    for (const key of withKeys) assert.match(yml, new RegExp(`^ {2}${key}:$`, 'm'))
    for (const [, output] of example.matchAll(/steps\.lock\.outputs\.([a-z-]+)/g)) assert.match(yml, new RegExp(`^ {2}${output}:$`, 'm'))
  })
})
