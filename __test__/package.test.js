'use strict'
// The package as users get it: `npm pack` of daplaya and of its linux-x64-gnu binary package,
// installed into an empty project, then `npx daplaya`, require, import, and the types.
const { describe, it, before } = require('node:test')
const assert = require('node:assert/strict')
const { execFileSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const { ROOT, baseEnv, tempDir } = require('./helpers.js')

const PLATFORM = 'linux-x64-gnu'
const ADDON = `daplaya.${PLATFORM}.node`
const supported = process.platform === 'linux' && process.arch === 'x64' && fs.existsSync(path.join(ROOT, ADDON))

function sh(command, args, cwd) {
  return execFileSync(command, args, { cwd, env: { ...baseEnv(), npm_config_update_notifier: 'false' }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
}

describe('npm package', { skip: supported ? false : `needs a built ${ADDON}` }, () => {
  let project
  before(() => {
    const packs = tempDir()
    sh('npm', ['pack', '--silent', '--pack-destination', packs], ROOT)
    // The binary travels in its own package, as napi-rs publishes it.
    const binary = path.join(tempDir(), PLATFORM)
    fs.cpSync(path.join(ROOT, 'npm', PLATFORM), binary, { recursive: true })
    fs.copyFileSync(path.join(ROOT, ADDON), path.join(binary, ADDON))
    sh('npm', ['pack', '--silent', '--pack-destination', packs], binary)
    const tarballs = fs.readdirSync(packs).map((f) => path.join(packs, f))
    assert.equal(tarballs.length, 2, tarballs.join(', '))

    project = tempDir()
    fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'user-project', private: true }))
    sh('npm', ['install', '--offline', '--no-audit', '--no-fund', ...tarballs], project)
  })

  it('ships only what it needs', () => {
    const shipped = fs.readdirSync(path.join(project, 'node_modules', 'daplaya')).sort()
    assert.deepEqual(shipped, ['README.md', 'bin', 'binding.d.ts', 'binding.js', 'index.d.ts', 'index.js', 'index.mjs', 'package.json'])
  })

  it('npx daplaya --help and a real lock work', () => {
    assert.match(sh('npx', ['--no-install', 'daplaya', '--help'], project), /Usage: daplaya/)
    const out = sh('npx', ['--no-install', 'daplaya', 'locks', 'lock', '--env', 'demo', '--user', 'me', '--json', '--store', 'sqlite:./locks.db'], project)
    assert.equal(JSON.parse(out).outcome, 'acquired')
  })

  it('require and import give the same functions', () => {
    const script = `
      const cjs = require('daplaya')
      import('daplaya').then(async (esm) => {
        const names = ['init', 'listLocks', 'lock', 'release', 'runLocked', 'startJob', 'getJob', 'endJob', 'activeJobs', 'skippedJobs', 'handleSlackCommand']
        for (const name of names) if (typeof cjs[name] !== 'function' || esm[name] !== cjs[name]) throw new Error(name)
        const held = await esm.lock({ env: 'esm', user: 'me', store: 'sqlite:./esm.db' })
        const listed = await cjs.listLocks({ store: 'sqlite:./esm.db' })
        process.stdout.write(JSON.stringify([held.outcome, listed.length]))
      })`
    assert.equal(sh(process.execPath, ['-e', script], project), '["acquired",1]')
  })

  it('the types check under tsc --strict', () => {
    fs.copyFileSync(path.join(__dirname, 'package', 'example.ts'), path.join(project, 'example.ts'))
    const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc')
    const args = ['--strict', '--noEmit', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', 'example.ts']
    sh(process.execPath, [tsc, ...args], project)
    // And a wrong call does not.
    fs.writeFileSync(path.join(project, 'wrong.ts'), "import { lock } from 'daplaya'\nlock({ env: 'x' })\n")
    assert.throws(
      () => sh(process.execPath, [tsc, ...args.slice(0, -1), 'wrong.ts'], project),
      (error) => /Property 'user' is missing/.test(error.stdout),
    )
  })

  it('the types are generated from Rust: real names, unknown options and a wrong signal refused', () => {
    const binding = fs.readFileSync(path.join(project, 'node_modules', 'daplaya', 'binding.d.ts'), 'utf8')
    assert.doesNotMatch(binding, /: (unknown|object|any)\b|<(unknown|any)>/)
    assert.match(binding, /export declare function lock\(options: LockOptions\): Promise<Lock & Acquisition>/)
    assert.match(binding, /export interface LockOptions \{[^}]*\n  signal\?: AbortSignal\n/)
    const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc')
    const args = ['--strict', '--noEmit', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022']
    const wrong = {
      'typo.ts': ["lock({ env: 'x', user: 'me', timout: '3s' })", /'timout' does not exist in type 'LockOptions'/],
      'signal.ts': ["lock({ env: 'x', user: 'me', signal: 'stop' })", /Type 'string' is not assignable to type 'AbortSignal'/],
      'nowait.ts': ["release({ env: 'x', user: 'me', signal: AbortSignal.abort() })", /'signal' does not exist in type 'ReleaseOptions'/],
    }
    for (const [file, [call, expected]] of Object.entries(wrong)) {
      fs.writeFileSync(path.join(project, file), `import { lock, release } from 'daplaya'\n${call}\n`)
      assert.throws(
        () => sh(process.execPath, [tsc, ...args, file], project),
        (error) => expected.test(error.stdout),
        file,
      )
    }
  })
})
