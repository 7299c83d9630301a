/** The operator console: `npm run build:console` writes console/dist, which the API serves at `/`. */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const root = path.dirname(fileURLToPath(import.meta.url));

export default defineConfig({
  root,
  base: '/',
  // React's automatic JSX runtime, compiled by Vite's own transformer (no Babel plugin needed for a build).
  oxc: { jsx: { runtime: 'automatic' } },
  build: {
    outDir: path.join(root, 'dist'),
    emptyOutDir: true,
    chunkSizeWarningLimit: 1500,
    rolldownOptions: {
      // Mantine marks its modules "use client" (for React Server Components); meaningless in an SPA.
      onwarn(warning, warn) {
        if (warning.code === 'MODULE_LEVEL_DIRECTIVE') return;
        warn(warning);
      },
    },
  },
  // `npx vite --config console/vite.config.mts` for development against an API on :3000.
  server: { proxy: { '/api': 'http://localhost:3000' } },
});
