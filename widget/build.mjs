// Builds the embed SDK into static/sdk/ (hitch.js: script tag, hitch.mjs: ES module).
//   node widget/build.mjs          write static/sdk/ and print gzipped sizes
//   node widget/build.mjs --check  fail if static/sdk/ is not what the sources build to
import { build } from 'esbuild';
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.dirname(fileURLToPath(import.meta.url));
const outDir = path.join(root, '..', 'static', 'sdk');
const banner = '/* Hitch embed SDK. Built from widget/src by `npm run build`; do not edit. */';

// Both bundles, built in memory: {file name: contents}. Tests import the ESM one from here too.
export async function bundle() {
  const common = {
    bundle: true,
    minify: true,
    write: false,
    target: 'es2020',
    legalComments: 'none',
    charset: 'utf8',
    banner: { js: banner },
    // Private members are named with a leading underscore; shorten them.
    mangleProps: /^_/,
    logLevel: 'warning',
  };
  const [iife, esm] = await Promise.all([
    build({ ...common, entryPoints: [path.join(root, 'src', 'global.ts')], format: 'iife' }),
    build({ ...common, entryPoints: [path.join(root, 'src', 'index.ts')], format: 'esm' }),
  ]);
  return { 'hitch.js': iife.outputFiles[0].text, 'hitch.mjs': esm.outputFiles[0].text };
}

async function main() {
  const files = await bundle();
  if (process.argv.includes('--check')) {
    const stale = [];
    for (const [name, text] of Object.entries(files)) {
      const have = await readFile(path.join(outDir, name), 'utf8').catch(() => null);
      if (have !== text) stale.push('static/sdk/' + name);
    }
    if (stale.length) {
      console.error(`stale: ${stale.join(', ')} differ from widget/src; run npm run build`);
      process.exit(1);
    }
    console.log('static/sdk is up to date');
    return;
  }
  await mkdir(outDir, { recursive: true });
  for (const [name, text] of Object.entries(files)) {
    await writeFile(path.join(outDir, name), text);
    const raw = Buffer.byteLength(text);
    const gz = gzipSync(text, { level: 9 }).length;
    console.log(`static/sdk/${name}: ${raw} B, ${gz} B gzipped${gz >= 3072 ? ' (over the 3 KB target)' : ''}`);
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await main();
}
