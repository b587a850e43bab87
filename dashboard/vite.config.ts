import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';
import preact from '@preact/preset-vite';
import { defineConfig } from 'vite';

/**
 * The dashboard builds on its own, from any working directory: the root and the output are
 * resolved from this file, and the service serves `dist/dashboard` under `/dashboard/`.
 */
const here = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root: here,
  base: '/dashboard/',
  plugins: [preact()],
  build: {
    outDir: resolve(here, '../dist/dashboard'),
    emptyOutDir: true,
    sourcemap: false,
  },
});
