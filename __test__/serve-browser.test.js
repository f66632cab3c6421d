'use strict'
// The page in a real browser: Debian's chromium (`.ci/run` installs it) driven by
// playwright-core. The page is opened once with ?token=, a lock is taken with the CLI, and the
// page shows it without a reload; a `<script>` meta shows as text and never runs.
const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const crypto = require('node:crypto')
const fs = require('node:fs')
const { chromium } = require('playwright-core')
const { STORES, run, tempDir } = require('./helpers.js')
const { startServe } = require('./serve-helpers.js')

const CHROMIUM = '/usr/bin/chromium'
// Without these this machine's chromium stalls on network it does not have.
const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]

/** A fresh browser profile each time. */
function launch(options = {}) {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (.ci/run does)`)
  return chromium.launchPersistentContext(tempDir(), {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_FLAGS,
    ...options,
  })
}

const sqlite = STORES.find((s) => s.name === 'sqlite')

describe('serve in a real browser', () => {
  const TOKEN = crypto.randomBytes(24).toString('hex')
  let env
  let server
  let browser

  before(async () => {
    ;({ env } = await sqlite.fresh())
    server = await startServe({ ...env, DAPLAYA_DASHBOARD_TOKEN: TOKEN })
    browser = await launch({ viewport: { width: 390, height: 844 } })
  })
  after(async () => {
    await browser?.close()
    if (server) assert.equal((await server.stop()).code, 0, server.stderr())
  })

  it('shows a lock taken from the CLI without a reload, and a <script> meta as text', async () => {
    const page = await browser.newPage()
    const errors = []
    page.on('pageerror', (error) => errors.push(error.message))
    let navigations = 0
    page.on('framenavigated', (frame) => {
      if (frame === page.mainFrame()) navigations += 1
    })

    await page.goto(`${server.base}/?token=${TOKEN}`)
    // The token left the address; the HttpOnly cookie carries it, out of the script's reach.
    assert.equal(page.url(), `${server.base}/`)
    assert.equal(await page.evaluate(() => document.cookie), '')
    await page.locator('#live:not([hidden])').waitFor()
    assert.equal(await page.locator('#live').textContent(), 'live')
    assert.match(await page.locator('.summary').textContent(), /^0 held/)
    const firstUpdate = await page.locator('#updated').getAttribute('data-at')
    const navigationsBefore = navigations

    const meta = '<script>window.pwned = true</script><img src=x onerror="window.pwned = true">'
    const locked = await run(['locks', 'lock', '--env', 'production', '--user', 'alice@example.com', '--meta', meta], { env })
    assert.equal(locked.code, 0, locked.stderr)

    const card = page.locator('li[data-env="production"]')
    await card.waitFor({ timeout: 15_000 })
    assert.equal(navigations, navigationsBefore, 'the page was reloaded')
    assert.equal(await card.locator('.badge').textContent(), 'Held')
    assert.equal(await card.locator('dd.user').textContent(), 'alice@example.com')
    assert.equal(await card.locator('dd.meta').textContent(), meta)
    assert.equal(await card.locator('dd.meta img').count(), 0)
    assert.equal(await page.evaluate(() => window.pwned), undefined)
    assert.equal(await page.title(), 'daplaya · 1 held')
    assert.match(await page.locator('.summary').textContent(), /^1 held/)
    // Relative and local time, and the "updated" time moved on.
    assert.match(await card.locator('dd').nth(1).textContent(), /^(just now|\d+s ago) · \d\d:\d\d:\d\d$/)
    assert.match(await card.locator('dd').nth(2).textContent(), /^in 19m\d*s? · \d\d:\d\d:\d\d$|^in 20m · \d\d:\d\d:\d\d$/)
    assert.notEqual(await page.locator('#updated').getAttribute('data-at'), firstUpdate)

    // Released from the CLI: the card stays, marked released, still without a reload.
    const released = await run(['locks', 'release', '--env', 'production', '--user', 'alice@example.com'], { env })
    assert.equal(released.code, 0, released.stderr)
    await page.locator('li[data-env="production"].ended .badge', { hasText: 'Released' }).waitFor({ timeout: 15_000 })
    assert.equal(navigations, navigationsBefore)
    // The layout fits a phone: nothing wider than the screen.
    assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth))
    assert.deepEqual(errors, [])
  })

  it('reads without JavaScript', async () => {
    const lock = await run(['locks', 'lock', '--env', 'static', '--user', 'bob', '--uberlock'], { env })
    assert.equal(lock.code, 0, lock.stderr)
    const noScript = await launch({ javaScriptEnabled: false, extraHTTPHeaders: { authorization: `Bearer ${TOKEN}` } })
    try {
      const page = await noScript.newPage()
      await page.goto(`${server.base}/`)
      const card = page.locator('li[data-env="static"]')
      assert.equal(await card.locator('.badge').textContent(), 'Uberlock')
      assert.match(await card.locator('dd').nth(2).textContent(), /^never \(uberlock\)$/)
      assert.match(await page.locator('.status').textContent(), /updated \d\d:\d\d:\d\d/)
    } finally {
      await noScript.close()
    }
  })
})
