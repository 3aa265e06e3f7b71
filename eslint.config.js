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
