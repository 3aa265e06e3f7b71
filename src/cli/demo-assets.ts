import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import { TidewireError } from '../server/index.js';
import { sendError } from '../server/http-util.js';

/** The files the dashboard page loads, by the name it asks for under `/assets/`. */
const CONTENT_TYPES: Readonly<Record<string, string>> = {
  'dashboard.js': 'text/javascript; charset=utf-8',
  'dashboard.css': 'text/css; charset=utf-8',
  'dashboard.js.map': 'application/json; charset=utf-8',
  'dashboard.css.map': 'application/json; charset=utf-8',
};

/** Without these the page cannot run; the source maps are nice to have. */
const REQUIRED = ['dashboard.js', 'dashboard.css'];

interface Asset {
  readonly body: Buffer;
  readonly contentType: string;
  readonly etag: string;
}

/** The dashboard's built files, read once at start and served from memory. */
export interface DemoAssets {
  /** Where they were read from. */
  readonly dir: string;
  /** Required files that are not there (the pages were not built): the start log says so. */
  readonly missing: readonly string[];
  /** Whether `name` is one of the dashboard's files (built or not). */
  isAsset(name: string): boolean;
  /** Answers a GET or HEAD of `name`: the file, a 304, or a JSON 404 when it is not built. */
  serve(req: IncomingMessage, res: ServerResponse, name: string): void;
}

/**
 * Where tsup writes the pages: `dist/pages/`, beside `dist/cli/`, which holds the bin this
 * code runs in. Should this module ever land in a shared chunk at the root of `dist/`
 * (tsup splits code shared by entries), `./pages/` is that same folder.
 */
export function locatePagesDir(moduleUrl: string = import.meta.url): string {
  const candidates = ['../pages/', './pages/'].map((relative) =>
    fileURLToPath(new URL(relative, moduleUrl)),
  );
  return candidates.find((dir) => existsSync(`${dir}dashboard.js`)) ?? (candidates[0] as string);
}

/** Reads the dashboard's files from `dir` (a path ending with a slash) once. */
export function loadDemoAssets(dir: string): DemoAssets {
  const assets = new Map<string, Asset>();
  for (const [name, contentType] of Object.entries(CONTENT_TYPES)) {
    const body = readIfThere(`${dir}${name}`);
    if (body !== undefined) assets.set(name, { body, contentType, etag: etagOf(body) });
  }
  return {
    dir,
    missing: REQUIRED.filter((name) => !assets.has(name)),
    isAsset: (name) => Object.hasOwn(CONTENT_TYPES, name),
    serve(req, res, name) {
      const asset = assets.get(name);
      if (asset === undefined) {
        const message = `${name} is not built: run "npm run build" (tsup writes ${dir}${name})`;
        sendError(res, new TidewireError('NOT_FOUND', message));
        return;
      }
      serveAsset(req, res, asset);
    },
  };
}

function serveAsset(req: IncomingMessage, res: ServerResponse, asset: Asset): void {
  // no-cache: the browser keeps the file but asks each time, so a rebuilt page is never stale;
  // the ETag makes asking cheap.
  const headers = { ETag: asset.etag, 'Cache-Control': 'no-cache' };
  if (matchesEtag(req.headers['if-none-match'], asset.etag)) {
    res.writeHead(304, headers).end();
    return;
  }
  res.writeHead(200, {
    ...headers,
    'Content-Type': asset.contentType,
    'Content-Length': asset.body.length,
    'X-Content-Type-Options': 'nosniff',
  });
  res.end(req.method === 'HEAD' ? undefined : asset.body);
}

function readIfThere(path: string): Buffer | undefined {
  try {
    return readFileSync(path);
  } catch {
    return undefined;
  }
}

function etagOf(body: Buffer): string {
  return `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
}

/** RFC 9110 § 13.1.2: `*`, or any listed tag, weak or not, equal to ours. */
function matchesEtag(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  return header
    .split(',')
    .map((tag) => tag.trim().replace(/^W\//, ''))
    .some((tag) => tag === '*' || tag === etag);
}
