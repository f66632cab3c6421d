// ES module entry: the same functions as index.js.
import { createRequire } from 'node:module'

// Loaded through require, not `import ... from './index.js'`: when no binary loads, Node 20 would
// also raise index.js's error as uncaught after rejecting the import with it.
const daplaya = createRequire(import.meta.url)('./index.js')

export const { init, listLocks, lockHistory, lock, release, runLocked, startJob, getJob, endJob, activeJobs, skippedJobs, handleSlackCommand } = daplaya
export default daplaya
