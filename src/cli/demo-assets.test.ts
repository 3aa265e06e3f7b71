import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { type DemoAssets, loadDemoAssets, locatePagesDir } from './demo-assets.js';

const dirs: string[] = [];
const servers: http.Server[] = [];

afterEach(async () => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  await Promise.all(
    servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))),
  );
});

/** A folder holding `files`, as tsup would write `dist/pages/`; its path ends with a slash. */
function pagesDir(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'tidewire-pages-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  return `${dir}${path.sep}`;
}

/** Serves `/<name>` from the assets on 127.0.0.1; resolves with the base URL. */
async function serveAssets(assets: DemoAssets): Promise<string> {
  const server = http.createServer((req, res) => assets.serve(req, res, req.url?.slice(1) ?? ''));
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('loadDemoAssets', () => {
  it('serves each file with its type, no-cache and an ETag, and a 304 when it matches', async () => {
    const dir = pagesDir({ 'dashboard.js': 'run()', 'dashboard.css': 'body{}' });
    const assets = loadDemoAssets(dir);
    expect(assets.missing).toEqual([]);
    const url = await serveAssets(assets);
    const js = await fetch(`${url}/dashboard.js`);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(js.headers.get('cache-control')).toBe('no-cache');
    expect(await js.text()).toBe('run()');
    const css = await fetch(`${url}/dashboard.css`);
    expect(css.headers.get('content-type')).toBe('text/css; charset=utf-8');
    const etag = js.headers.get('etag') as string;
    expect(etag).not.toBe(css.headers.get('etag'));
    for (const header of [etag, `W/${etag}`, `"other", ${etag}`, '*']) {
      const again = await fetch(`${url}/dashboard.js`, { headers: { 'If-None-Match': header } });
      expect([again.status, await again.text()], header).toEqual([304, '']);
    }
    const stale = await fetch(`${url}/dashboard.js`, { headers: { 'If-None-Match': '"old"' } });
    expect(stale.status).toBe(200);
  });

  it('reads files once: a rebuild shows after a restart, not in between', async () => {
    const dir = pagesDir({ 'dashboard.js': 'v1', 'dashboard.css': '' });
    const url = await serveAssets(loadDemoAssets(dir));
    writeFileSync(`${dir}dashboard.js`, 'v2');
    expect(await (await fetch(`${url}/dashboard.js`)).text()).toBe('v1');
  });

  it('names what is not built and answers a JSON 404 that says how to build it', async () => {
    const dir = pagesDir({ 'dashboard.js': 'run()' });
    const assets = loadDemoAssets(dir);
    expect(assets.missing).toEqual(['dashboard.css']);
    expect(assets.isAsset('dashboard.css')).toBe(true);
    expect(assets.isAsset('dashboard.js.map')).toBe(true);
    expect(assets.isAsset('../index.js')).toBe(false);
    const url = await serveAssets(assets);
    for (const name of ['dashboard.css', 'dashboard.js.map']) {
      const answer = await fetch(`${url}/${name}`);
      expect(answer.status).toBe(404);
      expect(answer.headers.get('content-type')).toBe('application/json; charset=utf-8');
      const body = (await answer.json()) as { code: string; message: string };
      expect(body.code).toBe('NOT_FOUND');
      expect(body.message).toContain(`${name} is not built: run "npm run build"`);
    }
  });
});

describe('locatePagesDir', () => {
  it('finds pages/ beside the folder of the bin, or beside a chunk at the root of dist/', () => {
    const dist = pagesDir({});
    const pages = `${dist}pages${path.sep}`;
    const bin = pathToFileURL(`${dist}cli${path.sep}index.js`).href;
    const chunk = pathToFileURL(`${dist}chunk-X.js`).href;
    // Not built yet: the bin's sibling, for the warning to name.
    expect(locatePagesDir(bin)).toBe(pages);
    mkdirSync(pages);
    writeFileSync(`${pages}dashboard.js`, '');
    expect(locatePagesDir(bin)).toBe(pages);
    expect(locatePagesDir(chunk)).toBe(pages);
  });
});
