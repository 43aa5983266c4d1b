// Validates the Istio and Argo CD resources of rendered manifests (multi-document YAML, from
// files or stdin) with the @kubernetes-models classes' validate(), made strict: the schemas
// generated from the CRDs accept any extra field, so before the first schema is compiled every
// object schema that lists its properties is closed (additionalProperties: false), except where
// the CRD itself says unknown fields are kept (x-kubernetes-preserve-unknown-fields).
//
// Usage: node validate.mjs [--lax] FILE... (or - / nothing for stdin)
// Prints one JSON line per document: {source, index, apiVersion, kind, name, status, errors}
// with status "ok", "invalid" or "skipped" (not an Istio or Argo CD resource). Exits 1 when a
// document is invalid, 2 on a usage or parse error.

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { parseAllDocuments } from "yaml";

// The Ajv class the models' validator compiles with: resolved from that package, so the patch
// lands on the instance the models use even if npm ever nests a second copy of ajv.
const fromValidate = createRequire(
  createRequire(import.meta.url).resolve("@kubernetes-models/validate"),
);
const Ajv = fromValidate("ajv").default ?? fromValidate("ajv");

// Groups this validator answers for, and the npm package holding their models.
const PACKAGES = {
  "networking.istio.io": "@kubernetes-models/istio",
  "security.istio.io": "@kubernetes-models/istio",
  "telemetry.istio.io": "@kubernetes-models/istio",
  "extensions.istio.io": "@kubernetes-models/istio",
  "argoproj.io": "@kubernetes-models/argo-cd",
};

// Istio's v1 APIs (1.22+) are its v1beta1 ones promoted with the same schema. The pinned models
// (Istio 1.18 CRDs, the last release whose schemas are data that can be made strict) have
// v1beta1 only for networking and for PeerAuthentication: a v1 kind they lack is checked
// against its v1beta1 schema.
const V1_AS_V1BETA1 = new Set(["networking.istio.io", "security.istio.io"]);

const SCHEMA_MAPS = ["properties", "patternProperties", "definitions", "$defs", "dependentSchemas"];
const SCHEMA_LISTS = ["allOf", "anyOf", "oneOf", "prefixItems"];
const SCHEMA_ONES = ["items", "additionalProperties", "not", "if", "then", "else", "contains"];

/** Close every object schema under `schema` that lists its properties (in place). */
export function strictify(schema) {
  if (!schema || typeof schema !== "object" || Array.isArray(schema)) return schema;
  for (const key of SCHEMA_MAPS) {
    for (const child of Object.values(schema[key] ?? {})) strictify(child);
  }
  for (const key of SCHEMA_LISTS) {
    for (const child of schema[key] ?? []) strictify(child);
  }
  for (const key of SCHEMA_ONES) {
    const child = schema[key];
    if (Array.isArray(child)) child.forEach(strictify);
    else strictify(child);
  }
  const open =
    "additionalProperties" in schema ||
    "patternProperties" in schema ||
    schema["x-kubernetes-preserve-unknown-fields"] === true;
  if (schema.properties && typeof schema.properties === "object" && !open) {
    schema.additionalProperties = false;
  }
  return schema;
}

let strict = true;
const addSchema = Ajv.prototype.addSchema;
// Ajv adds its own meta-schemas through addSchema(schema, key, meta = true): left as they are.
Ajv.prototype.addSchema = function patchedAddSchema(schema, key, meta, ...rest) {
  const patched = strict && !meta ? strictify(structuredClone(schema)) : schema;
  return addSchema.call(this, patched, key, meta, ...rest);
};

async function importModel(pkg, group, version, kind) {
  try {
    const module = await import(`${pkg}/${group}/${version}/${kind}`);
    return module[kind] ? { Model: module[kind], apiVersion: `${group}/${version}` } : null;
  } catch {
    return null; // a kind or version the pinned models do not know
  }
}

/** The model class for a document, and the apiVersion its schema expects. */
async function modelClass(apiVersion, kind) {
  const [group, version] = apiVersion.split("/");
  const pkg = PACKAGES[group];
  if (!pkg || !version) return undefined;
  const found = await importModel(pkg, group, version, kind);
  if (found || version !== "v1" || !V1_AS_V1BETA1.has(group)) return found;
  return importModel(pkg, group, "v1beta1", kind);
}

async function check(doc) {
  const { apiVersion = "", kind = "" } = doc ?? {};
  const found = await modelClass(apiVersion, kind);
  if (found === undefined) return { status: "skipped", errors: [] };
  if (found === null) {
    return { status: "invalid", errors: [`no model for ${kind} in ${apiVersion}`] };
  }
  try {
    // The document's apiVersion wins over the class's; v1 is checked as the v1beta1 it equals.
    const model = new found.Model(doc);
    model.apiVersion = found.apiVersion;
    model.validate();
    return { status: "ok", errors: [] };
  } catch (error) {
    const found = error.errors ?? [];
    const details = found.map((e) => {
      const extra = e.params?.additionalProperty;
      return `${e.instancePath || "/"} ${e.message}${extra ? `: ${extra}` : ""}`;
    });
    return { status: "invalid", errors: details.length ? details : [String(error.message)] };
  }
}

function readSource(source) {
  return readFileSync(source === "-" ? 0 : source, "utf8");
}

async function main(argv) {
  const args = argv.filter((a) => a !== "--lax");
  strict = args.length === argv.length;
  const sources = args.length ? args : ["-"];
  let invalid = false;
  for (const source of sources) {
    const documents = parseAllDocuments(readSource(source));
    for (const [index, parsed] of documents.entries()) {
      if (parsed.errors.length) {
        console.error(`${source}#${index}: ${parsed.errors[0].message}`);
        return 2;
      }
      const doc = parsed.toJS();
      if (doc === null) continue;
      const result = await check(doc);
      invalid ||= result.status === "invalid";
      const name = doc.metadata?.name ?? "";
      const { apiVersion, kind } = doc;
      console.log(JSON.stringify({ source, index, apiVersion, kind, name, ...result }));
    }
  }
  return invalid ? 1 : 0;
}

process.exitCode = await main(process.argv.slice(2));
