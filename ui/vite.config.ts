import { defineConfig } from 'vite';

declare const process: { env: Record<string, string | undefined> };

// One build for the desktop window and for any browser pointed at a headless server:
// the server embeds dist/ and serves it at /_syncscope/ui/.
export default defineConfig({
  base: '/_syncscope/ui/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // Strict CSP: no inline scripts, no data: module preload polyfill.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
  },
  server: {
    // `npm run dev` against a running server: `SYNCSCOPE_URL=http://127.0.0.1:4000 npm run dev`
    proxy: {
      '/_syncscope/': {
        target: process.env.SYNCSCOPE_URL ?? 'http://127.0.0.1:4000',
        ws: true,
        changeOrigin: true,
        bypass: (req) => (req.url?.startsWith('/_syncscope/ui/') ? req.url : undefined),
      },
    },
  },
});
