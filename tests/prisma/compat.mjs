#!/usr/bin/env node
// The Prisma compatibility runner: runs operations.mjs with a real, pinned Prisma Client built
// on one of three targets and prints one JSON line per operation, so that a test can compare
// two runs (always from seed.sql's data):
//
//   node compat.mjs --target direct     --database-url postgresql://…
//       PrismaClient({ adapter: new PrismaPg(…) }): straight to PostgreSQL, the reference.
//   node compat.mjs --target accelerate --accelerate-url prisma+postgres://127.0.0.1:PORT/?api_key=…
//       PrismaClient({ accelerateUrl }).$extends(withAccelerate()): through the gateway.
//   node compat.mjs --target sidecar    --socket PATH --executor ID
//       As `accelerate`, but the client's requests go to the executor sidecar's Unix socket
//       (unix-socket-fetch.mjs): the sidecar alone, as the gateway will forward to it.
//
// Options: --only NAME (repeatable) runs a subset (in list order); --read-only sends every
// non-transaction query with Executor-Read-Only (sidecar target); --list prints the names.
//
// Each line: {"name", "expected": "P2002"|null, "ok": true, "result": …} or
// {"name", "expected", "ok": false, "error": {"code", "name", "message"}}. Values are tagged
// so that JSON keeps them exact: "bigint:…", "decimal:…", "date:…", "bytes:<base64>".

import { parseArgs } from 'node:util'

import { PrismaPg } from '@prisma/adapter-pg'
import { withAccelerate } from '@prisma/extension-accelerate'

import generated from './generated/client/index.js'
import { operations } from './operations.mjs'
import { unixSocketFetch } from './unix-socket-fetch.mjs'

const { PrismaClient, Prisma } = generated

const { values: args } = parseArgs({
  options: {
    target: { type: 'string' },
    'database-url': { type: 'string' },
    'accelerate-url': { type: 'string' },
    socket: { type: 'string' },
    executor: { type: 'string' },
    only: { type: 'string', multiple: true },
    'read-only': { type: 'boolean', default: false },
    list: { type: 'boolean', default: false },
  },
})

/** A JSON-safe, exact rendering of what the client returned. */
export function serialise(value) {
  if (value === null || value === undefined) return null
  if (typeof value === 'bigint') return `bigint:${value}`
  if (Prisma.Decimal.isDecimal(value)) return `decimal:${value.toFixed()}`
  if (value instanceof Date) return `date:${Number.isNaN(value.getTime()) ? 'invalid' : value.toISOString()}`
  if (value instanceof Uint8Array) return `bytes:${Buffer.from(value).toString('base64')}`
  if (Array.isArray(value)) return value.map(serialise)
  if (typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, serialise(item)]))
  if (typeof value === 'number' && !Number.isFinite(value)) return `number:${value}`
  return value
}

function client() {
  switch (args.target) {
    case 'direct':
      if (!args['database-url']) throw new Error('--database-url is required for --target direct')
      return new PrismaClient({ adapter: new PrismaPg({ connectionString: args['database-url'] }) })
    case 'accelerate':
      if (!args['accelerate-url']) throw new Error('--accelerate-url is required for --target accelerate')
      return new PrismaClient({ accelerateUrl: args['accelerate-url'] }).$extends(withAccelerate())
    case 'sidecar': {
      if (!args.socket || !args.executor) throw new Error('--socket and --executor are required for --target sidecar')
      // Any loopback prisma+postgres URL: the client then speaks plain HTTP to that origin,
      // which the fetch below carries to the socket instead.
      const origin = 'http://127.0.0.1:9'
      const fetch = unixSocketFetch({
        socketPath: args.socket,
        executorId: args.executor,
        origin,
        extraHeaders: args['read-only'] ? { 'Executor-Read-Only': 'true' } : {},
      })
      // Connection info and transaction start/commit/rollback use the global fetch; queries use
      // the extension's.
      globalThis.fetch = fetch
      return new PrismaClient({ accelerateUrl: 'prisma+postgres://127.0.0.1:9/?api_key=sidecar' }).$extends(
        withAccelerate({ fetch }),
      )
    }
    default:
      throw new Error('--target must be direct, accelerate or sidecar')
  }
}

async function main() {
  if (args.list) {
    for (const [name] of operations) process.stdout.write(`${name}\n`)
    return
  }
  const only = args.only ? new Set(args.only) : null
  const chosen = operations.filter(([name]) => !only || only.has(name))
  if (only && chosen.length !== only.size) throw new Error(`unknown operation in --only: ${args.only.join(' | ')}`)
  const prisma = client()
  try {
    for (const [name, run, expectation] of chosen) {
      const line = { name, expected: expectation?.error ?? null }
      try {
        line.result = serialise(await run(prisma, Prisma))
        line.ok = true
      } catch (error) {
        line.ok = false
        line.error = { code: error?.code ?? null, name: error?.constructor?.name ?? typeof error, message: String(error?.message ?? error) }
      }
      process.stdout.write(`${JSON.stringify(line)}\n`)
    }
  } finally {
    await prisma.$disconnect()
  }
}

await main()
