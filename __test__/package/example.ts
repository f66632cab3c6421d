// Calls every exported function with its documented options; type-checked with
// `tsc --strict --noEmit` against the package installed from its tarball.
import {
  activeJobs,
  endJob,
  getJob,
  handleSlackCommand,
  init,
  listLocks,
  lock,
  lockHistory,
  release,
  runLocked,
  skippedJobs,
  startJob,
  type SlackResponse,
  type DaplayaError,
  type LockError,
  type ErrorCode,
  type Hold,
  type Job,
  type Lock,
  type LockResult,
  type Acquisition,
  type LockOptions,
  type ReleaseReason,
  type RunLockedResult,
  type InitResult,
  type StoreOptions,
  type RunLockedManyResult,
  type WaitProgress,
} from 'daplaya'

const store = { store: 'sqlite:./example.db' }

export async function everyFunction(): Promise<string[]> {
  const tables = await init(store)
  const held: LockResult = await lock({ ...store, env: 'production', user: 'me', meta: 'example', ttl: '20m', timeout: 30_000, pollInterval: '5s' })
  if (held.outcome === 'preempted') {
    const whom: string = held.preemptedUser
    void whom
  }
  const token: number = held.fencingToken
  const expires: number | null = held.expiresAt
  const locks: Lock[] = await listLocks({ ...store, env: 'production' })
  const released = await release({ ...store, env: 'production', user: 'me', uberlock: false })
  const reason: null | 'notLocked' | 'heldByOther' = released.reason
  const holds: Hold[] = await lockHistory({ ...store, env: 'production', limit: 5, since: '7d' })
  const end: null | 'released' | 'expired' | 'preempted' | 'forced' = holds[0].end
  const why: string | null = holds[0].reason
  const run: string = holds[0].holder
  const forced = await release({ ...store, env: 'production', user: 'me', force: true, reason: 'stuck' })
  const wasForced: boolean = forced.forced
  const mine = await lock({ ...store, env: 'production', user: 'me', holder: 'release-42' })
  const holder: string = mine.holder
  const job: Job = await startJob({ ...store, jobname: 'deploy', user: 'me', gitversion: 'abc123' })
  const again: Job = await getJob({ ...store, jobname: 'deploy', gitversion: 'abc123' })
  const ended = await endJob({ ...store, gitversion: 'abc123', jobname: 'deploy', skipped: true })
  const active: Job[] = await activeJobs({ ...store, jobname: 'deploy', ttl: 3_000_000 })
  const skipped: Job[] = await skippedJobs({ ...store, jobname: 'deploy', ttl: '50m' })
  const ran = await runLocked({ ...store, env: 'production', user: 'me', ttl: '2m' }, ['./deploy.sh', '--target', 'production'])
  const exitCode: number = ran.exitCode
  const slack: SlackResponse = await handleSlackCommand(
    { headers: { 'x-slack-signature': 'v0=00', 'x-slack-request-timestamp': '0' }, body: 'text=help' },
    { ...store, signingSecret: 'secret', appId: 'A1', botToken: 'xoxb-1', apiUrl: 'https://slack.com/api', users: { U0123ABC: 'alice@acme.io' } },
  )
  const status: number = slack.status
  // The user may be left out; the results say where a defaulted one came from.
  const defaulted = await lock({ ...store, env: 'staging', noWait: true })
  const sources: (string | undefined)[] = [
    defaulted.userSource,
    (await release({ ...store, env: 'staging' })).userSource,
    (await startJob({ ...store, jobname: 'deploy', gitversion: 'abc124' })).userSource,
    (await runLocked({ ...store, env: 'staging' }, ['true'])).userSource,
  ]
  void sources
  void [why, run, wasForced, holder]
  return [String(exitCode), String(status), ran.lock.id, tables.store, String(token), String(expires), String(locks.length), String(reason), String(end), job.id, again.version, String(ended.changed), String(active.length + skipped.length)]
}

// The deploy queue: several envs (one result per env), supersede, the place in line.
export async function queued(): Promise<string> {
  const positions: number[] = []
  const both: LockResult[] = await lock({
    ...store,
    env: ['eu', 'us'],
    supersede: true,
    onWait: (progress: WaitProgress) => {
      positions.push(progress.position, progress.waiting, progress.waitedMs)
      const holders: (number | null)[] = progress.holders.map((holder) => holder.expiresAt)
      void holders
    },
  })
  const released = await release({ ...store, env: ['eu', 'us'] })
  const first: boolean = released[0].released
  const ran: RunLockedManyResult = await runLocked({ ...store, env: ['eu', 'us'] }, ['true'])
  const tokens: number[] = ran.locks.map((held) => held.fencingToken)
  const one: LockResult = await lock({ ...store, env: 'eu' })
  const superseded: ErrorCode = 'SUPERSEDED'
  return [both[0].outcome, first, tokens.join(), one.id, superseded, positions.join()].join()
}

export async function handleErrors(): Promise<ErrorCode | undefined> {
  try {
    await lock({ env: 'production', user: 'me', noWait: true, region: 'eu-west-1', endpoint: 'http://127.0.0.1:8000', locksTable: 'L', jobsTable: 'J' })
    return undefined
  } catch (error) {
    return (error as DaplayaError).code
  }
}

// A lock refusal says who is in the way, until when, and why.
export async function refusals(): Promise<string> {
  try {
    await lock({ ...store, env: 'production', user: 'me', timeout: '30s' })
    return 'locked'
  } catch (thrown) {
    const error = thrown as LockError
    switch (error.code) {
      case 'LOCK_BUSY': {
        const until: number | null | undefined = error.holder?.expiresAt
        const waited: number | null = error.waitedMs
        return [error.env, error.holder?.user, until, error.queue.map((w) => w.user).join(), waited].join()
      }
      case 'UBERLOCKED':
        return [error.env, error.holder.user, error.holder.meta].join()
      case 'SUPERSEDED':
        return [error.env, error.by.user, error.by.joinedAt].join()
      case 'LEASE_LOST':
        return [error.env, error.holder?.user].join()
    }
  }
}

// The generated types, and `signal` on the calls that wait.
export async function abortable(signal: AbortSignal): Promise<string> {
  const where: StoreOptions = store
  const options = { ...where, env: 'production', user: 'me', pollInterval: 1_000, signal } satisfies LockOptions
  const held: LockResult = await lock(options)
  const how: Acquisition['outcome'] = held.outcome
  const ran: RunLockedResult = await runLocked({ ...options, ttl: '2m' }, ['./deploy.sh'])
  const released = await release({ ...where, env: 'production', user: 'me' })
  const why: ReleaseReason | null = released.reason
  const tables: InitResult = await init()
  try {
    await lock({ ...options, signal: AbortSignal.timeout(1_000) })
  } catch (error) {
    if ((error as Error).name === 'AbortError' && (error as DaplayaError).code === 'ABORT_ERR') return 'aborted'
  }
  return [how, ran.exitCode, why, tables.store].join()
}
