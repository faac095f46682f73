// Which Prisma Client versions this sidecar serves.
//
// Query plans are internal to Prisma and change between its releases, so a client is served only
// by the executor of its own minor line. Supporting another line means adding its pinned
// `@prisma/client-engine-runtime` + `@prisma/adapter-pg` (npm aliases) and a row here, and running
// the compatibility suite with that client version (docs/accelerate.md keeps the table).

import { readFileSync } from 'node:fs'

// The package does not export its package.json; it is a direct dependency, so it is here.
const runtimeManifest = new URL('./node_modules/@prisma/client-engine-runtime/package.json', import.meta.url)

/** The version of Prisma's executor building blocks installed (package-lock.json pins it). */
export const EXECUTOR_VERSION = JSON.parse(readFileSync(runtimeManifest, 'utf8')).version

/** Client minor lines served, as "MAJOR.MINOR" (any patch release of them). */
export const SUPPORTED_CLIENT_LINES = ['7.10']

const RELEASE = /^(\d+)\.(\d+)\.(\d+)$/

/** null when `clientVersion` (the client's Prisma-Engine-Hash) is served; otherwise why not. */
export function unsupportedClientVersion(clientVersion) {
  const match = RELEASE.exec(clientVersion)
  if (match && SUPPORTED_CLIENT_LINES.includes(`${match[1]}.${match[2]}`)) return null
  const shown = String(clientVersion).slice(0, 64)
  const lines = SUPPORTED_CLIENT_LINES.map((line) => `${line}.x`).join(', ')
  return (
    `Prisma Client ${JSON.stringify(shown)} is not supported by this Accelerate server. ` +
    `It runs Prisma's query executor ${EXECUTOR_VERSION} and serves @prisma/client ${lines}: ` +
    `install one of those versions of @prisma/client and prisma.`
  )
}
