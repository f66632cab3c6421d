'use strict'
// The action's post step: runs when the job ends, also after a failed step or a cancellation
// (`post-if: always()`), and releases what the main step took. When main took nothing (it failed
// or was cancelled while waiting), there is nothing to release and nobody else's lock is touched:
// the release is this run's (its holder), so another run's lock, even of the same actor, stays.
const { StepFailure, runCli, failureLine, annotate, step } = require('./runner.js')

/** daplaya's exit code for an env held by another run of the same user. */
const HELD_BY_OTHER_RUN = 7

step(async () => {
  const envs = JSON.parse(process.env.STATE_envs || '[]')
  const user = process.env.STATE_user
  const holder = process.env.STATE_holder
  if (envs.length === 0 || !user || !holder) {
    process.stdout.write('daplaya: no lock was taken; nothing to release\n')
    return
  }
  // Every env in one release, as they were taken: all at once.
  const result = await runCli(['locks', 'release', ...envs.flatMap((env) => ['--env', env]), '--user', user, '--holder', holder])
  if (result.code === HELD_BY_OTHER_RUN) {
    // This run's lease lapsed and another run of the same actor holds the env now: theirs.
    annotate('warning', `nothing released: ${failureLine(result)}`)
    return
  }
  if (result.code !== 0) throw new StepFailure(failureLine(result))
  const documents = [result.document].flat()
  envs.forEach((env, i) => {
    const released = documents[i]
    if (released.released) process.stdout.write(`daplaya: released ${env} (lock ${released.lock.id})\n`)
    else process.stdout.write(`daplaya: nothing to release on ${env} (${released.reason})\n`)
  })
})
