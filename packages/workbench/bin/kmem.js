#!/usr/bin/env node
// The `kmem` command: the built CLI. A file of its own that exists before the first build, so
// that `npm install` in a clone links it into node_modules/.bin.
import "../dist/src/cli/main.js";
