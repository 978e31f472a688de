// Lint rules. Beyond the recommended sets, this file enforces the purity of the core:
// src/core and src/node decide; they never touch sockets, files, timers, clocks or
// randomness (DESIGN §1). Time enters as a number, randomness through an injected generator.
import {builtinModules} from 'node:module'
import js from '@eslint/js'
import tseslint from 'typescript-eslint'

const allowedInPureCode = new Set(['crypto', 'buffer'])
const forbiddenBuiltins = builtinModules
  .filter((name) => !name.startsWith('_'))
  .filter((name) => !allowedInPureCode.has(name))

const pureMessage =
  'src/core and src/node are pure (DESIGN §1): take time as a number and I/O through a port instead.'

export default tseslint.config(
  {ignores: ['dist/**', 'node_modules/**', 'coverage/**', '.dyn/**', 'oclif.manifest.json']},
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        Buffer: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        setImmediate: 'readonly',
        URL: 'readonly',
        AbortController: 'readonly',
        AbortSignal: 'readonly',
        performance: 'readonly',
        TextEncoder: 'readonly',
        TextDecoder: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', {argsIgnorePattern: '^_', varsIgnorePattern: '^_'}],
      '@typescript-eslint/consistent-type-imports': 'error',
      eqeqeq: ['error', 'always'],
      'no-console': 'off',
    },
  },
  {
    files: ['src/core/**/*.ts', 'src/node/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: forbiddenBuiltins.flatMap((name) => [
            {name, message: pureMessage},
            {name: `node:${name}`, message: pureMessage},
          ]),
          patterns: [{regex: '^node:(?!crypto$|buffer$)', message: pureMessage}],
        },
      ],
      'no-restricted-globals': [
        'error',
        ...['setTimeout', 'setInterval', 'setImmediate', 'clearTimeout', 'clearInterval', 'clearImmediate',
          'queueMicrotask', 'performance', 'process', 'fetch'].map((name) => ({name, message: pureMessage})),
      ],
      'no-restricted-properties': [
        'error',
        {object: 'Date', property: 'now', message: pureMessage},
        {object: 'Math', property: 'random', message: pureMessage},
        {object: 'crypto', property: 'randomBytes', message: pureMessage},
        {object: 'crypto', property: 'randomUUID', message: pureMessage},
        {object: 'globalThis', property: 'setTimeout', message: pureMessage},
      ],
      'no-restricted-syntax': [
        'error',
        {selector: "NewExpression[callee.name='Date']", message: pureMessage},
        {
          selector: "ImportDeclaration[source.value=/^(node:)?crypto$/] > ImportSpecifier[imported.name=/^(randomBytes|randomUUID|randomInt|randomFillSync|getRandomValues)$/]",
          message: pureMessage,
        },
      ],
    },
  },
)
