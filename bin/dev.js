#!/usr/bin/env -S node --import tsx --no-warnings
// Runs the command-line program from the TypeScript sources, without a build.
import {execute} from '@oclif/core'

await execute({development: true, dir: import.meta.url})
