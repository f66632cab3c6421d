'use strict'
// A `node --test` reporter beside the usual one: counts the attack tests (named `attack: ...`)
// of the adversarial suite (`__test__/adversarial*.test.js`) that ran, and writes the counts as
// one JSON document, which scripts/test.js prints at the end of the run.
const path = require('node:path')

const ADVERSARIAL = /^adversarial.*\.test\.js$/

module.exports = async function* attackReporter(source) {
  const counts = { passed: 0, failed: 0, files: [] }
  for await (const event of source) {
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue
    const { name, file, skip, todo, details } = event.data
    if (details?.type === 'suite' || skip || todo || !name.startsWith('attack:')) continue
    if (!file || !ADVERSARIAL.test(path.basename(file))) continue
    counts[event.type === 'test:pass' ? 'passed' : 'failed'] += 1
    if (!counts.files.includes(path.basename(file))) counts.files.push(path.basename(file))
  }
  counts.files.sort()
  yield `${JSON.stringify(counts)}\n`
}
