// Validates every GraphQL document the UI sends against the gateway's schema.graphql.
// The documents are the string exports of every module under src/ whose name ends in
// `queries.js` (queries.js, editor/queries.js, graphiql-queries.js...); a
// GraphQL operation written anywhere else in src/ is an error too, so none escapes
// the check. Exits 1 naming each failing document and why.
//   node scripts/check-queries.mjs [--schema path/to/schema.graphql]
import { readFileSync, readdirSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { buildSchema, parse, validate } from "graphql";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const src = join(root, "src");
const flag = process.argv.indexOf("--schema");
const schemaPath = flag > 0 ? process.argv[flag + 1] : join(root, "..", "schema.graphql");

function walk(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? walk(path) : entry.name.endsWith(".js") ? [path] : [];
  });
}

// An operation or fragment opening a template literal: `query X`, `mutation {`, `{ viewer }`...
const INLINE = /`(?:\s*#[^\n]*\n)*\s*(?:(?:query|mutation|subscription)(?:\s+\w+)?\s*[({]|fragment\s+\w+\s+on\s|\{\s*\w+[\s{(])/g;

const schema = buildSchema(readFileSync(schemaPath, "utf8"));
const files = walk(src).sort();
const failures = [];
let checked = 0;

for (const file of files) {
  const name = relative(root, file);
  if (!file.endsWith("queries.js")) {
    for (const match of readFileSync(file, "utf8").matchAll(INLINE)) {
      failures.push(`${name}: a GraphQL document outside a queries.js module (move it there): ${match[0].slice(0, 60)}…`);
    }
    continue;
  }
  const module = await import(pathToFileURL(file).href);
  for (const [exported, document] of Object.entries(module)) {
    if (typeof document !== "string") continue;
    // fragments alone (e.g. WIDGET_DATA) are checked as part of the operations using them
    if (/^\s*fragment\b/.test(document)) continue;
    checked += 1;
    try {
      const errors = validate(schema, parse(document));
      for (const error of errors) failures.push(`${name} ${exported}: ${error.message}`);
    } catch (error) {
      failures.push(`${name} ${exported}: ${error.message}`);
    }
  }
}

if (failures.length) {
  console.error(`GraphQL documents not valid against ${relative(process.cwd(), schemaPath)}:`);
  for (const failure of failures) console.error(`  ${failure}`);
  process.exit(1);
}
console.log(`${checked} GraphQL documents valid against ${relative(process.cwd(), schemaPath)}`);
