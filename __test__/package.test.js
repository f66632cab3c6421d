'use strict'
// The package as users get it: `npm pack` of daplaya and of its linux-x64-gnu binary package,
// installed into an empty project, then `npx daplaya`, require, import, and the types; fetched
// from a registry (a loopback stand-in) by `npx`, `bunx` and `deno run -A npm:daplaya`; and
// installed without any binary package, as on a platform daplaya does not support.
const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const { execFile, execFileSync, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const { promisify } = require('node:util')
const { parseTriple } = require('@napi-rs/cli')
const { ROOT, baseEnv, tempDir } = require('./helpers.js')
const { runtimes } = require('../runtimes')
const { serveRegistry, manifestOf } = require('./npm-registry.js')

const execFileAsync = promisify(execFile)

const PLATFORM = 'linux-x64-gnu'
const VERSION = require('../package.json').version
const ADDON = `daplaya.${PLATFORM}.node`
const supported = process.platform === 'linux' && process.arch === 'x64' && fs.existsSync(path.join(ROOT, ADDON))
const env = { ...baseEnv(), npm_config_update_notifier: 'false' }

function sh(command, args, cwd) {
  return execFileSync(command, args, { cwd, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
}

/** `npm pack` of the directory into `destination`; returns the tarball's path. */
function pack(directory, destination) {
  return path.join(destination, sh('npm', ['pack', '--silent', '--pack-destination', destination], directory).trim())
}

/** An empty project with the tarballs installed, as a user's would be. */
function projectWith(tarballs) {
  const project = tempDir()
  fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'user-project', private: true }))
  sh('npm', ['install', '--offline', '--no-audit', '--no-fund', ...tarballs], project)
  return project
}

/**
 * The addon into its package, without its debug information where binutils' strip is here: four
 * fifths of a debug build's 232 MB, which every install below (npm, npx, bunx, deno) unpacks again.
 */
function packAddon(addon, destination) {
  try {
    execFileSync('strip', ['--strip-debug', '-o', destination, addon], { stdio: 'ignore' })
  } catch {
    fs.copyFileSync(addon, destination)
  }
}

/**
 * The main package as the release publishes it: `napi prepublish` adds every platform package
 * to its optionalDependencies first.
 */
function asPublished(tarball, platformPackages, destination) {
  const scratch = tempDir()
  execFileSync('tar', ['-xzf', tarball, '-C', scratch])
  const file = path.join(scratch, 'package', 'package.json')
  const manifest = JSON.parse(fs.readFileSync(file, 'utf8'))
  manifest.optionalDependencies = Object.fromEntries(platformPackages.map((name) => [name, manifest.version]))
  fs.writeFileSync(file, JSON.stringify(manifest, null, 2))
  return pack(path.join(scratch, 'package'), destination)
}

const [bun, deno] = ['bun', 'deno'].map((name) => runtimes().find((runtime) => runtime.name === name))

describe('npm package', { skip: supported ? false : `needs a built ${ADDON}` }, () => {
  let project
  /** The tarballs a registry would serve after a release: daplaya and its seven platform packages. */
  let published
  before(() => {
    const packs = tempDir()
    // The binary travels in its own package, generated from package.json as the release does.
    const scratch = tempDir()
    fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(scratch, 'package.json'))
    sh('npx', ['napi', 'create-npm-dirs', '--cwd', scratch], ROOT)
    const binary = path.join(scratch, 'npm', PLATFORM)
    packAddon(path.join(ROOT, ADDON), path.join(binary, ADDON))
    const main = pack(ROOT, packs)
    project = projectWith([main, pack(binary, packs)])
    // The other platforms' packages hold no binary here: what matters is that installers pick this one.
    const platforms = fs.readdirSync(path.join(scratch, 'npm')).map((dir) => pack(path.join(scratch, 'npm', dir), packs))
    published = [asPublished(main, platforms.map((tarball) => manifestOf(tarball).name), tempDir()), ...platforms]
  })

  describe('from a registry, as a pipeline runs it', () => {
    let registry
    before(async () => {
      registry = await serveRegistry(published)
    })
    after(() => registry.close())

    /** Runs `command` in a fresh empty directory; resolves to its stdout. */
    async function inEmptyDirectory(command, args, extraEnv) {
      const { stdout } = await execFileAsync(command, args, { cwd: tempDir(), env: { ...env, ...extraEnv }, encoding: 'utf8' })
      return stdout
    }
    /** The program that ran the CLI, as the command `locks run` starts sees its parent. */
    const whichRuns = ['locks', 'run', '--env', 'which', '--user', 'me', '--store', 'sqlite:./which.db', '--', 'sh', '-c', 'readlink /proc/$PPID/exe']
    /** Whether the registry served this platform's binary package since `from` requests. */
    const servedBinary = (from) => registry.requested.slice(from).some((route) => route.startsWith(`/daplaya-${PLATFORM}/-/`))

    it('npx daplaya', async () => {
      const from = registry.requested.length
      const npm = { npm_config_registry: registry.url, npm_config_cache: tempDir(), npm_config_yes: 'true' }
      assert.equal(await inEmptyDirectory('npx', ['daplaya', '--version'], npm), `daplaya ${VERSION}\n`)
      assert.ok(servedBinary(from), registry.requested.join(' '))
    })

    it('bunx daplaya: on Node by its shebang, on Bun with --bun', { skip: bun.unavailable ?? false }, async () => {
      const from = registry.requested.length
      const bunEnv = { ...bun.env, BUN_CONFIG_REGISTRY: registry.url, BUN_INSTALL_CACHE_DIR: tempDir() }
      for (const args of [['x', 'daplaya'], ['x', '--bun', 'daplaya']]) {
        assert.equal(await inEmptyDirectory(bun.executable, [...args, '--version'], bunEnv), `daplaya ${VERSION}\n`)
      }
      assert.ok(servedBinary(from), registry.requested.join(' '))
      assert.equal(fs.realpathSync((await inEmptyDirectory(bun.executable, ['x', '--bun', 'daplaya', ...whichRuns], bunEnv)).trim()), fs.realpathSync(bun.executable))
      assert.equal(path.basename((await inEmptyDirectory(bun.executable, ['x', 'daplaya', ...whichRuns], bunEnv)).trim()), 'node')
    })

    it('deno run -A npm:daplaya', { skip: deno.unavailable ?? false }, async () => {
      const from = registry.requested.length
      const denoEnv = { ...deno.env, NPM_CONFIG_REGISTRY: registry.url, DENO_DIR: tempDir() }
      assert.equal(await inEmptyDirectory(deno.executable, ['run', '-A', 'npm:daplaya', '--version'], denoEnv), `daplaya ${VERSION}\n`)
      assert.ok(servedBinary(from), registry.requested.join(' '))
      const ranBy = (await inEmptyDirectory(deno.executable, ['run', '-A', 'npm:daplaya', ...whichRuns], denoEnv)).trim()
      assert.equal(fs.realpathSync(ranBy), fs.realpathSync(deno.executable))
      // And the API, as a Deno script imports it.
      const script = `const { lock, listLocks } = await import('npm:daplaya')
        const held = await lock({ env: 'deno', user: 'me', store: 'sqlite:./deno.db' })
        console.log(JSON.stringify([held.outcome, (await listLocks({ store: 'sqlite:./deno.db' })).length]))`
      assert.equal(await inEmptyDirectory(deno.executable, ['eval', script], denoEnv), '["acquired",1]\n')
    })
  })

  it('ships only what it needs', () => {
    const shipped = fs.readdirSync(path.join(project, 'node_modules', 'daplaya')).sort()
    assert.deepEqual(shipped, ['README.md', 'bin', 'binding.d.ts', 'binding.js', 'docs', 'index.d.ts', 'index.js', 'index.mjs', 'native.js', 'package.json'])
    // The documents the README links to, so its links resolve in an install too; not the pictures.
    const documents = fs.readdirSync(path.join(ROOT, 'docs')).filter((name) => name.endsWith('.md')).sort()
    assert.deepEqual(fs.readdirSync(path.join(project, 'node_modules', 'daplaya', 'docs')).sort(), documents)
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
        const names = ['init', 'listLocks', 'lockHistory', 'lock', 'release', 'runLocked', 'startJob', 'getJob', 'endJob', 'activeJobs', 'skippedJobs', 'handleSlackCommand']
        for (const name of names) if (typeof cjs[name] !== 'function' || esm[name] !== cjs[name]) throw new Error(name)
        const held = await esm.lock({ env: 'esm', user: 'me', store: 'sqlite:./esm.db' })
        const listed = await cjs.listLocks({ store: 'sqlite:./esm.db' })
        process.stdout.write(JSON.stringify([held.outcome, listed.length]))
      })`
    assert.equal(sh(process.execPath, ['-e', script], project), '["acquired",1]')
  })

  it('on Bun, require and import of the installed package give the same functions', { skip: bun.unavailable ?? false }, () => {
    const script = `const cjs = require('daplaya')
      const esm = await import('daplaya')
      if (esm.lock !== cjs.lock || esm.default.lock !== cjs.lock) throw new Error('not the same functions')
      const held = await esm.lock({ env: 'bun', user: 'me', store: 'sqlite:./bun.db' })
      process.stdout.write(JSON.stringify([held.outcome, (await cjs.listLocks({ store: 'sqlite:./bun.db' })).length]))`
    assert.equal(sh(bun.executable, ['-e', script], project), '["acquired",1]')
  })

  it('the types check under tsc --strict', () => {
    fs.copyFileSync(path.join(__dirname, 'package', 'example.ts'), path.join(project, 'example.ts'))
    const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc')
    const args = ['--strict', '--noEmit', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', 'example.ts']
    sh(process.execPath, [tsc, ...args], project)
    // And a wrong call does not.
    fs.writeFileSync(path.join(project, 'wrong.ts'), "import { lock } from 'daplaya'\nlock({ user: 'x' })\n")
    assert.throws(
      () => sh(process.execPath, [tsc, ...args.slice(0, -1), 'wrong.ts'], project),
      (error) => /Property 'env' is missing/.test(error.stdout),
    )
  })

  it('the types are generated from Rust: real names, unknown options and a wrong signal refused', () => {
    const binding = fs.readFileSync(path.join(project, 'node_modules', 'daplaya', 'binding.d.ts'), 'utf8')
    assert.doesNotMatch(binding, /: (unknown|object|any)\b|<(unknown|any)>/)
    assert.match(binding, /export declare function lock\(options: LockOptions\): Promise<\(Lock & Acquisition\) \| Array<Lock & Acquisition>>/)
    assert.match(binding, /export interface LockOptions \{[^}]*\n  signal\?: AbortSignal\n/)
    const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc')
    const args = ['--strict', '--noEmit', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022']
    const wrong = {
      'typo.ts': ["lock({ env: 'x', user: 'me', timout: '3s' })", /'timout' does not exist in type 'LockOptions/],
      'signal.ts': ["lock({ env: 'x', user: 'me', signal: 'stop' })", /Type 'string' is not assignable to type 'AbortSignal'/],
      'nowait.ts': ["release({ env: 'x', user: 'me', signal: AbortSignal.abort() })", /'signal' does not exist in type 'ReleaseOptions/],
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

describe('installed without a binary for this machine', () => {
  const platforms = require('../package.json').napi.targets.map((triple) => parseTriple(triple).platformArchABI)
  let project
  before(() => {
    project = projectWith([pack(ROOT, tempDir())])
  })

  /** Runs the installed CLI as npx would, optionally posing as another CPU; never throws. */
  function daplaya(args, { arch } = {}) {
    const fakeArch = path.join(project, 'fake-arch.js')
    fs.writeFileSync(fakeArch, `Object.defineProperty(process, 'arch', { value: ${JSON.stringify(arch)} })\n`)
    const bin = path.join(project, 'node_modules', '.bin', 'daplaya')
    const node = arch ? [process.execPath, '--require', fakeArch] : [process.execPath]
    return spawnSync(node[0], [...node.slice(1), bin, ...args], { cwd: project, env, encoding: 'utf8' })
  }

  function assertOneLine(stderr) {
    assert.equal(stderr.split('\n').length, 2, `one line expected:\n${stderr}`)
    assert.doesNotMatch(stderr, /^\s+at /m, 'no stack trace')
    assert.match(stderr, new RegExp(`\\(supported: ${platforms.join(', ')}\\)`))
  }

  it('npx daplaya names the missing binary package, the supported platforms and the fix, and exits 1', () => {
    const result = daplaya(['--version'])
    assert.equal(result.status, 1, result.stderr)
    assert.equal(result.stdout, '')
    assertOneLine(result.stderr)
    const here = `${process.platform}-${process.arch}`
    assert.match(result.stderr, new RegExp(`^error: daplaya's native binary for ${here}\\S* is missing or fails to load \\(package daplaya-${here}`))
    assert.match(result.stderr, /reinstall daplaya with optional dependencies enabled/)
  })

  it('says an unknown platform is not supported and what to do instead', () => {
    const result = daplaya(['locks', 'list'], { arch: 'riscv64' })
    assert.equal(result.status, 1, result.stderr)
    assertOneLine(result.stderr)
    assert.match(result.stderr, new RegExp(`^error: daplaya has no native binary for ${process.platform}-riscv64\\S* \\(supported: `))
    assert.match(result.stderr, /build it from source with a Rust toolchain/)
  })

  it('require and import throw UNSUPPORTED_PLATFORM with the same message', () => {
    const cli = daplaya(['--version']).stderr.replace(/^error: /, '').trim()
    const script = `
      const seen = []
      try { require('daplaya') } catch (error) { seen.push([error.code, error.message]) }
      import('daplaya').catch((error) => {
        seen.push([error.code, error.message])
        process.stdout.write(JSON.stringify(seen))
      })`
    const seen = JSON.parse(sh(process.execPath, ['-e', script], project))
    assert.deepEqual(seen, [
      ['UNSUPPORTED_PLATFORM', cli],
      ['UNSUPPORTED_PLATFORM', cli],
    ])
  })
})
