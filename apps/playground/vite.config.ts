import react from '@vitejs/plugin-react';
import { defaultClientConditions, defineConfig } from 'vite';

export default defineConfig({
  plugins: [react()],
  // Read workspace packages from source, like the tests do.
  resolve: { conditions: ['@wan-video/source', ...defaultClientConditions] },
  server: {
    // `pnpm dev` next to a gateway on :4000.
    proxy: { '/graphql': { target: 'http://127.0.0.1:4000', ws: true } },
  },
  build: { outDir: 'dist', emptyOutDir: true },
});
