import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'bench/results/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  { languageOptions: { globals: { ...globals.node } } },
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    // The client runs in browsers, workers and Node: no Node built-ins, no ws, no server code
    // (STYLE.md § imports); Node passes its WebSocket in.
    files: ['src/client/**/*.ts', 'src/reconnecting/**/*.ts'],
    ignores: ['**/*.test.ts'],
    languageOptions: { globals: { ...globals.browser } },
    rules: {
      // Node's globals are not there in browsers; `globals.node` applies to every file.
      'no-restricted-globals': [
        'error',
        ...[
          'Buffer',
          'process',
          'setImmediate',
          'global',
          '__dirname',
          '__filename',
          'require',
        ].map((name) => ({ name, message: 'the client runs in browsers: no Node globals' })),
      ],
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            'node:*',
            'ws',
            'ioredis',
            '../server/*',
            '../transports/*',
            '../brokers/*',
            '../core/*',
            '../../server/*',
            '../../transports/*',
            '../../brokers/*',
            '../../core/*',
          ],
        },
      ],
    },
  },
  {
    // The pages the CLI serves (dashboard) and writes (bench report) run in browsers only,
    // and reach the hub through the real client, never through server code.
    files: ['src/dashboard/**/*.ts', 'src/bench-report/**/*.ts'],
    ignores: ['**/*.test.ts'],
    languageOptions: { globals: { ...globals.browser } },
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: ['node:*', 'ws', 'ioredis', '../server/*', '../transports/*', '../brokers/*'] },
      ],
    },
  },
  {
    // The SSE encoder and parser are shared with the browser client.
    files: [
      'src/core/**/*.ts',
      'src/protocol/**/*.ts',
      'src/sse/format.ts',
      'src/sse/parser.ts',
      'src/sse/headers.ts',
    ],
    // Unit tests may pair core with a real broker.
    ignores: ['**/*.test.ts'],
    rules: {
      // core/ and protocol/ stay free of sockets and Node built-ins (STYLE.md § imports).
      'no-restricted-imports': [
        'error',
        { patterns: ['node:*', 'ws', 'ioredis', '../server/*', '../transports/*', '../brokers/*'] },
      ],
    },
  },
);
