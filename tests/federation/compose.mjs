// Compose a Federation 2 supergraph with @theguild/federation-composition.
// Usage: node compose.mjs OUT.graphql NAME=URL=SDL_FILE...  Prints the composition errors and exits 1 when it fails.
import { readFileSync, writeFileSync } from "node:fs";
import { parse } from "graphql";
import { composeServices, compositionHasErrors } from "@theguild/federation-composition";

const [out, ...specs] = process.argv.slice(2);
if (!out || specs.length === 0) {
  console.error("usage: node compose.mjs OUT.graphql NAME=URL=SDL_FILE...");
  process.exit(2);
}
const services = specs.map((spec) => {
  const [name, url, file] = spec.split(/=(.*)=/s);
  return { name, url, typeDefs: parse(readFileSync(file, "utf8")) };
});
const result = composeServices(services);
if (compositionHasErrors(result)) {
  for (const error of result.errors) console.error(error.message);
  process.exit(1);
}
writeFileSync(out, result.supergraphSdl);
