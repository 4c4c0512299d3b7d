// Build the SPA into spa/dist: one bundle for the page, one for MSAL's redirect bridge, and
// the static files. `node spa/build.mjs` (what `make spa` and the tests run).
import { cp, mkdir, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import { build } from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, "dist");

await rm(dist, { recursive: true, force: true });
await mkdir(dist, { recursive: true });
await build({
  entryPoints: [join(here, "src", "main.js"), join(here, "src", "redirect.js")],
  outdir: dist,
  bundle: true,
  format: "esm",
  platform: "browser",
  target: "es2022",
  minify: true,
  sourcemap: true,
  legalComments: "linked",
  logLevel: "warning",
});
await cp(join(here, "public"), dist, { recursive: true });
console.log(`built ${dist}`);
