import { defineConfig } from 'tsup';

// One entry per subpath export (SPEC.md § Entry points), ESM + CJS + .d.ts.
export default defineConfig([
  {
    entry: {
      'server/index': 'src/server/index.ts',
      'sse/index': 'src/sse/index.ts',
    },
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: true,
    clean: true,
    target: 'node20',
    splitting: true,
  },
  {
    entry: { 'cli/index': 'src/cli/index.ts' },
    format: ['esm'],
    sourcemap: true,
    target: 'node20',
    banner: { js: '#!/usr/bin/env node' },
  },
]);
