import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defaultClientConditions, defineConfig } from 'vite';

// Absolute paths, so the config behaves the same whether Vite runs on its own (`vite build`) or in
// middleware mode inside the gateway, whatever the current directory is.
const clientRoot = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root: clientRoot,
  plugins: [react()],
  resolve: {
    // The shared API types are used from source through common's package exports ("source"), as tsc and
    // jest resolve them: no build of `common` is needed for the client.
    conditions: ['source', ...defaultClientConditions],
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
  },
});
