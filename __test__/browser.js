'use strict'
// A headless Chromium for the browser tests and scripts/screenshot-serve.js, the way every other
// test dependency comes: from `npm ci`. The npm package `@sparticuz/chromium` ships a Linux x64
// build inside it; it is unpacked once per version into node_modules/.cache. Elsewhere (another
// platform), Debian's chromium is used if installed. Playwright drives either.
const { execFile } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const { promisify } = require('node:util')
const { chromium } = require('playwright-core')
const { ROOT, tempDir } = require('./helpers.js')

const PACKAGE = '@sparticuz/chromium'
const DEBIAN = '/usr/bin/chromium'
// Running as root needs --no-sandbox; the rest keeps Chromium off the network it does not have.
const FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]

/** The installed version of the npm build (its exports leave out package.json), or null. */
function packagedVersion() {
  for (const dir of module.paths) {
    const file = path.join(dir, PACKAGE, 'package.json')
    if (fs.existsSync(file)) return JSON.parse(fs.readFileSync(file, 'utf8')).version
  }
  return null
}

/**
 * Unpacks the npm build into node_modules/.cache/daplaya-chromium/<version> once and returns the
 * executable. The package unpacks into the OS temporary directory, so a child process does it
 * with TMPDIR pointed at a fresh directory, which is then renamed into place: a concurrent run
 * either wins the rename or uses the winner's copy, and a build of another version in /tmp is
 * never picked up.
 */
async function unpacked(version) {
  const cache = path.join(ROOT, 'node_modules', '.cache', 'daplaya-chromium')
  const dir = path.join(cache, version)
  const executable = path.join(dir, 'chromium')
  if (fs.existsSync(executable)) return executable
  fs.mkdirSync(cache, { recursive: true })
  const staging = fs.mkdtempSync(path.join(cache, `${version}-unpacking-`))
  try {
    const script = `import(${JSON.stringify(PACKAGE)}).then((m) => m.default.executablePath()).then((p) => process.stdout.write(p))`
    const { stdout } = await promisify(execFile)(process.execPath, ['-e', script], { cwd: ROOT, env: { ...process.env, TMPDIR: staging } })
    if (path.dirname(stdout) !== staging) throw new Error(`${PACKAGE} unpacked to ${stdout}, not to ${staging}`)
    try {
      fs.renameSync(staging, dir)
    } catch (error) {
      if (!['ENOTEMPTY', 'EEXIST'].includes(error.code)) throw error
    }
    return executable
  } finally {
    fs.rmSync(staging, { recursive: true, force: true })
  }
}

/**
 * Where Chromium comes from here: `{ executable, source }`, or `{ missing }` saying why there is
 * none and what would bring one.
 */
async function findChromium() {
  const version = packagedVersion()
  const runsHere = process.platform === 'linux' && process.arch === 'x64'
  if (version && runsHere) return { executable: await unpacked(version), source: `${PACKAGE} ${version}` }
  if (fs.existsSync(DEBIAN)) return { executable: DEBIAN, source: 'Debian chromium' }
  if (!runsHere) {
    return { missing: `${PACKAGE} is Linux x64 only, not ${process.platform}-${process.arch}: install Chromium at ${DEBIAN} (Debian: apt-get install chromium)` }
  }
  return { missing: `${PACKAGE} is not installed: npm ci` }
}

/** The system library a Chromium that failed to start could not load, if that is why. */
function missingLibrary(error) {
  return /error while loading shared libraries: ([^:\s]+)/.exec(error.message)?.[1] ?? null
}

/**
 * A browser with a fresh profile (`options` as Playwright's `launchPersistentContext` takes
 * them), or `{ missing }` when none can start here.
 */
async function launch(found, options = {}) {
  try {
    return { browser: await chromium.launchPersistentContext(tempDir(), { executablePath: found.executable, headless: true, args: FLAGS, ...options }) }
  } catch (error) {
    const library = missingLibrary(error)
    if (!library) throw error
    const hint = library.startsWith('libnss3') || library.startsWith('libnspr4') ? ' (Debian: apt-get install libnss3; Java from Debian brings it)' : ''
    return { missing: `${found.source} cannot start: the system lacks ${library}${hint}` }
  }
}

module.exports = { findChromium, launch }
