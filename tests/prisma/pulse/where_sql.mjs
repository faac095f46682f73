#!/usr/bin/env node
// The SQL the pinned Prisma Client compiles for `findMany({ where })`: the reference for Pulse's filters.
//
//   node tests/prisma/pulse/where_sql.mjs tests/pulse/fixtures/prisma_wheres.json > tests/pulse/fixtures/prisma_where_sql.json
//
// Input: a JSON list of [model, where] pairs, the where written with driver.mjs's wrappers for values
// JSON cannot carry ({"type":"Date","iso":…}, BigInt, Decimal, Bytes). Prisma 7 compiles queries in the
// client; this script points it at a throwaway local HTTP server that stands in for Accelerate, takes
// the query plan the client sends, and writes for each where its WHERE clause with the parameters in
// order: {"model","where","wire","sql","params"} (sql uses $1, $2…; an IN list is one parameter per
// value), where "wire" is the where as the extension sends it in the subscription header (its own
// serializer: values tagged). A where that Prisma refuses gets {"error": "…"} instead of sql/params. The generated client is --client
// (default .prisma/pulse-client, from tests/prisma/pulse/schema.prisma).

import http from "node:http";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(here, "..", "package.json"));
const { values: options, positionals } = parseArgs({
  options: { client: { type: "string", default: ".prisma/pulse-client" } },
  allowPositionals: true,
});
const { PrismaClient, Prisma } = require(options.client);
// The extension's own filter serializer (what `stream({ create: where })` puts in the subscription
// header); the package does not export it, so it is loaded from beside its entry point.
const { PulseSubscriptionFilterSerializer } = require(
  join(dirname(require.resolve("@prisma/extension-pulse")), "serializer.js"),
);
const cases = JSON.parse(readFileSync(positionals[0], "utf8"));

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
  }
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, revive(item)]));
}

let plan;
const server = http.createServer((request, response) => {
  let body = "";
  request.on("data", (chunk) => (body += chunk));
  request.on("end", () => {
    response.setHeader("content-type", "application/json");
    if (request.url === "/connection-info") {
      response.end(JSON.stringify({ provider: "postgres", connectionInfo: { supportsRelationJoins: true } }));
      return;
    }
    plan = JSON.parse(body);
    response.end(JSON.stringify({ data: [] }));
  });
});
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const prisma = new PrismaClient({ accelerateUrl: `prisma+postgres://127.0.0.1:${server.address().port}/?api_key=x` });

function queries(node, found = []) {
  if (node && typeof node === "object") {
    if (node.type === "templateSql") found.push(node);
    for (const value of Object.values(node)) queries(value, found);
  }
  return found;
}

function resolve(arg, params) {
  if (arg && typeof arg === "object" && arg.prisma__type === "param") return params[arg.prisma__value.name];
  if (Array.isArray(arg)) return arg.map((item) => resolve(item, params));
  return arg;
}

const out = [];
for (const [model, where] of cases) {
  const modelName = model.charAt(0).toUpperCase() + model.slice(1);
  let wire;
  try {
    wire = new PulseSubscriptionFilterSerializer(prisma._runtimeDataModel.models[modelName]).serialize({
      create: revive(where),
    }).create;
  } catch (error) {
    wire = { serializerError: error.message };
  }
  try {
    plan = undefined;
    await prisma[model].findMany({ where: revive(where), select: { id: true } });
    const [query] = queries(plan.plan);
    let sql = "";
    const params = [];
    let arg = 0;
    for (const fragment of query.fragments) {
      if (fragment.type === "stringChunk") sql += fragment.chunk;
      else if (fragment.type === "parameter") {
        params.push(resolve(query.args[arg++], plan.params ?? {}));
        sql += `$${params.length}`;
      } else if (fragment.type === "parameterTuple") {
        const values = resolve(query.args[arg++], plan.params ?? {});
        // As Prisma's executor renders it: `(…)`, or `(NULL)` for an empty list.
        sql += `(${values.length === 0 ? "NULL" : values.map((value) => (params.push(value), `$${params.length}`)).join(",")})`;
      } else throw new Error(`unknown fragment ${fragment.type}`);
    }
    const clause = sql.includes(" WHERE ") ? sql.slice(sql.indexOf(" WHERE ") + 7, sql.lastIndexOf(" OFFSET ")) : "TRUE";
    out.push({ model, where, wire, sql: clause, params: params.slice(0, -1) });
  } catch (error) {
    out.push({ model, where, wire, error: error.message.split("\n").filter(Boolean).pop() });
  }
}
server.close();
process.stdout.write(JSON.stringify(out, null, 1) + "\n");
process.exit(0);
