#!/usr/bin/env node
// Drives the real, pinned `@prisma/extension-pulse` against a Pulse server, for the tests.
//
//   node tests/prisma/pulse/driver.mjs --endpoint http://127.0.0.1:8200 --api-key KEY \
//        --model User --mode stream --args '{"name":"billing","create":{"email":{"endsWith":"@x.io"}}}' \
//        [--count N] [--delay-ms MS] [--no-final-ack] [--timestamps] [--client @prisma/client]
//
// It opens `prisma.<model>.stream(args)` (or `.subscribe(args)`) through `withPulse({ apiKey, endpoint })`,
// consumes the events with `for await` exactly as an application does (the extension acknowledges an
// event when the loop asks for the next one), and writes one JSON line per thing that happens to stdout:
//
//   {"kind":"open"}                                   stream()/subscribe() resolved: the server accepted
//   {"kind":"event","n":1,"id":"…","action":"create","modelName":"User","created":{…}}
//   {"kind":"ack","id":"…"}                           the extension handed this ack to its socket
//   {"kind":"error","phase":"open"|"stream","class":"PrismaPulseUnauthorizedError","name":"Unauthorized",
//    "code":"P6102","message":"…","requestId":"…","details":…}
//   {"kind":"end","reason":"count"|"signal"|"closed","events":N}
//
// With --timestamps each event line also has "receivedAt": when the application got it, in
// milliseconds since the epoch (fractional), for latency measurements.
//
// Values are written with their JavaScript type made explicit, so a test sees what the application
// got: a Date is {"type":"Date","iso":"…"}, a bigint {"type":"BigInt","value":"…"}, a Prisma Decimal
// {"type":"Decimal","value":"…"}, a Buffer {"type":"Bytes","base64":"…"}, a non-finite number
// {"type":"number","value":"NaN"}, any other object (a Json field's value, or a value the extension
// left tagged) {"type":"Object","value":{…}} with its properties made explicit the same way; strings,
// finite numbers, booleans and null are as they are, arrays are arrays. Every object in the output
// is such a wrapper.
//
// `--args` is JSON with the same wrappers for the values JSON cannot carry (a DateTime filter needs a
// Date: {"type":"Date","iso":"2025-01-01T00:00:00Z"}; BigInt, Decimal, Bytes likewise; {"type":"Object",
// "value":…} passes a value through untouched).
//
// The loop body prints the event, then waits --delay-ms (the application's work); the extension
// acknowledges the event when the loop asks for the next one, and the driver prints {"kind":"ack"}
// as it does. After `--count N` events it acknowledges the Nth too (skip that with --no-final-ack),
// stops the subscription and exits 0. SIGTERM or SIGINT stop it at once, like an application that
// stops while it handles an event: the event in hand is not acknowledged. A refused handshake exits 2,
// an error while streaming exits 3. An ack line means the ack was handed to the socket: a process
// killed with SIGKILL right after may not have sent it.
//
// Packages are resolved from tests/prisma/ (its node_modules, installed by `npm ci` there): the
// generated Prisma Client (`--client`, default `@prisma/client`) and `@prisma/extension-pulse`.

import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(here, "..", "package.json"));

const { values: options } = parseArgs({
  options: {
    endpoint: { type: "string" },
    "api-key": { type: "string" },
    model: { type: "string" },
    mode: { type: "string", default: "stream" },
    args: { type: "string" },
    count: { type: "string" },
    "delay-ms": { type: "string", default: "0" },
    "no-final-ack": { type: "boolean", default: false },
    timestamps: { type: "boolean", default: false },
    client: { type: "string", default: "@prisma/client" },
  },
  strict: true,
});

function fail(message) {
  process.stderr.write(`driver: ${message}\n`);
  process.exit(64);
}

if (!options.endpoint) fail("--endpoint is required");
if (options["api-key"] === undefined) fail("--api-key is required");
if (!options.model) fail("--model is required");
if (options.mode !== "stream" && options.mode !== "subscribe") fail("--mode is stream or subscribe");
const count = options.count === undefined ? Infinity : Number(options.count);
if (!(count > 0)) fail("--count must be a positive number");
const delayMs = Number(options["delay-ms"]);

const { PrismaClient, Prisma } = require(options.client);
const { withPulse } = require("@prisma/extension-pulse");

function emit(line) {
  process.stdout.write(JSON.stringify(line) + "\n");
}

/** A value as the application received it, its type made explicit (see the header). */
function explicit(value) {
  if (value === null || value === undefined) return null;
  switch (typeof value) {
    case "string":
    case "boolean":
      return value;
    case "number":
      return Number.isFinite(value) ? value : { type: "number", value: String(value) };
    case "bigint":
      return { type: "BigInt", value: value.toString() };
  }
  if (value instanceof Date) {
    return { type: "Date", iso: Number.isNaN(value.getTime()) ? null : value.toISOString() };
  }
  if (Prisma.Decimal.isDecimal(value)) return { type: "Decimal", value: value.toFixed() };
  if (value instanceof Uint8Array) return { type: "Bytes", base64: Buffer.from(value).toString("base64") };
  if (Array.isArray(value)) return value.map(explicit);
  return { type: "Object", value: Object.fromEntries(Object.entries(value).map(([k, v]) => [k, explicit(v)])) };
}

/** The --args JSON with its wrappers turned into the JavaScript values the extension expects. */
function revive(value) {
  if (Array.isArray(value)) return value.map(revive);
  if (value === null || typeof value !== "object") return value;
  switch (value.type) {
    case "Date":
      return new Date(value.iso);
    case "BigInt":
      return BigInt(value.value);
    case "Decimal":
      return new Prisma.Decimal(value.value);
    case "Bytes":
      return Buffer.from(value.base64, "base64");
    case "Object":
      return value.value;
  }
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, revive(item)]));
}

function describeError(error, phase) {
  return {
    kind: "error",
    phase,
    class: error?.constructor?.name ?? typeof error,
    name: error?.name ?? null,
    code: error?.code ?? null,
    message: error?.message ?? String(error),
    requestId: error?.requestId ?? null,
    details: error?.details ?? null,
  };
}

const args = options.args === undefined ? undefined : revive(JSON.parse(options.args));
const prisma = new PrismaClient({ accelerateUrl: "prisma://127.0.0.1:1/?api_key=unused" }).$extends(
  withPulse({ apiKey: options["api-key"], endpoint: options.endpoint }),
);
const delegate = prisma[options.model.charAt(0).toLowerCase() + options.model.slice(1)];
if (!delegate) fail(`the generated client has no model ${options.model}`);

let subscription;
try {
  subscription = await (options.mode === "stream" ? delegate.stream(args) : delegate.subscribe(args));
} catch (error) {
  emit(describeError(error, "open"));
  process.exit(2);
}
emit({ kind: "open" });
// The extension acknowledges through this method (its iterator calls this.acknowledgeEvent):
// say so on stdout, in order, then let it send.
const acknowledge = subscription.acknowledgeEvent.bind(subscription);
subscription.acknowledgeEvent = (id) => {
  emit({ kind: "ack", id });
  acknowledge(id);
};

let reason = "closed";
let received = 0;
let stopping = false;
const stop = (signal) => {
  stopping = true;
  // Like an application that stops while it handles an event: that event is not acknowledged.
  process.stderr.write(`driver: ${signal}, stopping\n`);
  subscription.stop();
  emit({ kind: "end", reason: "signal", events: received });
  setTimeout(() => process.exit(0), 200);
};
process.once("SIGTERM", stop);
process.once("SIGINT", stop);

try {
  for await (const event of subscription) {
    received += 1;
    const line = { kind: "event", n: received };
    if (options.timestamps) line.receivedAt = performance.timeOrigin + performance.now(); // ms since the epoch
    for (const [key, value] of Object.entries(event)) {
      line[key] = key === "id" || key === "action" || key === "modelName" ? value : explicit(value);
    }
    emit(line);
    if (received >= count) {
      reason = "count";
      if (!options["no-final-ack"]) subscription.acknowledgeEvent(event.id);
      break; // the loop's return() cancels the subscription: stop() closes the socket
    }
    if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
  }
} catch (error) {
  if (stopping) await new Promise(() => {}); // stop() said it all; exit follows
  emit(describeError(error, "stream"));
  process.exit(3);
}
if (stopping) await new Promise(() => {});
emit({ kind: "end", reason, events: received });
// Let the close frame (queued after any ack) go out before the process ends.
setTimeout(() => process.exit(0), 200).unref();
