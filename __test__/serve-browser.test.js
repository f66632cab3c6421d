'use strict'
// The page in a real browser: Chromium from npm (see browser.js) driven by playwright-core, at a
// phone's width (390 px). The page is opened once with ?token=, a lock is taken with the CLI,
// and the page shows it without a reload; a `<script>` meta shows as text and never runs.
const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const crypto = require('node:crypto')
const { STORES, run } = require('./helpers.js')
const { startServe } = require('./serve-helpers.js')
const { findChromium, launch } = require('./browser.js')

const sqlite = STORES.find((s) => s.name === 'sqlite')
const PHONE = { width: 390, height: 844 }

describe('serve in a real browser', () => {
  const TOKEN = crypto.randomBytes(24).toString('hex')
  let env
  let server
  let chromium
  let browser
  // Why the browser tests cannot run here, if they cannot (scripts/test.js lists it at the end).
  let missing = null

  before(async () => {
    chromium = await findChromium()
    if (chromium.missing) {
      missing = chromium.missing
      return
    }
    const launched = await launch(chromium, { viewport: PHONE })
    if (launched.missing) {
      missing = launched.missing
      return
    }
    browser = launched.browser
    ;({ env } = await sqlite.fresh())
    server = await startServe({ ...env, DAPLAYA_DASHBOARD_TOKEN: TOKEN }, ['--jobname', 'deploy-prod'])
  })
  after(async () => {
    await browser?.close()
    if (server) assert.equal((await server.stop()).code, 0, server.stderr())
  })

  it('shows a lock taken from the CLI without a reload, and a <script> meta as text', async (t) => {
    if (missing) return t.skip(missing)
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

  it('fits a phone with a jobs table of long versions and users: nothing wider than the screen', async (t) => {
    if (missing) return t.skip(missing)
    const sha = 'a3f9c2e1d4b5a6978f0e1d2c3b4a5968778695a4'
    for (const [user, version] of [
      ['alice.longname-of-the-release-team@example.com', sha],
      ['bob@example.com', `release-2024.11.21-hotfix-${sha}`],
    ]) {
      const started = await run(['jobs', 'start', '--jobname', 'deploy-prod', '--user', user, '--gitversion', version], { env })
      assert.equal(started.code, 0, started.stderr)
    }
    const ended = await run(['jobs', 'end', '--gitversion', sha, '--skipped'], { env })
    assert.equal(ended.code, 0, ended.stderr)
    const page = await browser.newPage()
    await page.goto(`${server.base}/?token=${TOKEN}`)
    await page.locator('article.jobs table').first().waitFor()
    assert.equal(await page.locator('article.jobs table').count(), 2, 'running and skipped')
    const overflowing = await page.evaluate(() =>
      [...document.querySelectorAll('body *')]
        .filter((element) => element.getBoundingClientRect().right > window.innerWidth + 0.5)
        .map((element) => `${element.tagName.toLowerCase()}.${element.className}: ${Math.round(element.getBoundingClientRect().right)} px`),
    )
    assert.deepEqual(overflowing, [], `wider than ${PHONE.width} px`)
    assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth))
    await page.close()
  })

  it('reads without JavaScript', async (t) => {
    if (missing) return t.skip(missing)
    const lock = await run(['locks', 'lock', '--env', 'static', '--user', 'bob', '--uberlock'], { env })
    assert.equal(lock.code, 0, lock.stderr)
    const { browser: noScript } = await launch(chromium, { javaScriptEnabled: false, extraHTTPHeaders: { authorization: `Bearer ${TOKEN}` } })
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
