import { defineConfig } from 'tsup';

// One entry per subpath export (SPEC.md § Entry points), ESM + CJS + .d.ts.
export default defineConfig([
  {
    entry: {
      'server/index': 'src/server/index.ts',
      'sse/index': 'src/sse/index.ts',
      'redis/index': 'src/redis/index.ts',
    },
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: true,
    clean: true,
    target: 'node20',
    splitting: true,
  },
  {
    // The client runs in browsers too: built for them, not for one Node version.
    entry: {
      'client/index': 'src/client/index.ts',
      'reconnecting/index': 'src/reconnecting/index.ts',
    },
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: true,
    target: 'es2022',
    platform: 'neutral',
    splitting: true,
  },
  {
    // What a page loads without a bundler: one minified ESM file per entry (README § Browser).
    entry: {
      'browser/client': 'src/client/index.ts',
      'browser/reconnecting': 'src/reconnecting/index.ts',
    },
    format: ['esm'],
    // esbuild minifies, then a second pass of terser takes what esbuild leaves (inlining,
    // frequency-ordered names that gzip better): about 2 % off min+gzip (`npm run size`).
    minify: 'terser',
    minifyWhitespace: true,
    minifyIdentifiers: true,
    minifySyntax: true,
    terserOptions: { ecma: 2020, compress: { passes: 2 } },
    // One self-contained file per entry: a page may copy it alone.
    splitting: false,
    sourcemap: true,
    target: 'es2022',
    platform: 'browser',
    outExtension: () => ({ js: '.min.js' }),
  },
  {
    // The pages the CLI serves or writes: the dashboard at `/` of `tidewire serve` and the
    // charts of `bench-report.html`. Browser bundles with uPlot and the real client inside,
    // so that they work offline (no CDN); each gets its CSS beside it.
    entry: {
      'pages/dashboard': 'src/dashboard/main.ts',
      'pages/bench-report': 'src/bench-report/main.ts',
    },
    format: ['esm'],
    minify: true,
    splitting: false,
    sourcemap: true,
    target: 'es2022',
    platform: 'browser',
  },
  {
    entry: { 'cli/index': 'src/cli/index.ts', 'cli/bench-hub': 'src/cli/bench/hub-process.ts' },
    format: ['esm'],
    sourcemap: true,
    target: 'node20',
    banner: { js: '#!/usr/bin/env node' },
  },
]);
