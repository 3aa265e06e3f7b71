import type { IncomingMessage, ServerResponse } from 'node:http';
import { type Hub, type Logger, TidewireError } from '../server/index.js';
import { judgeOrigin, originError } from '../server/access.js';
import { judgeBearer } from '../server/bearer.js';
import { allowMethods, parseRequestTarget, sendError, sendJson } from '../server/http-util.js';
import type { DemoAssets } from './demo-assets.js';
import { demoPage } from './demo-page.js';
import type { DashboardStateTracker } from './demo-state.js';

export interface DemoRoutesOptions {
  readonly hub: Pick<Hub, 'disconnectAll'>;
  readonly basePath: string;
  /** `--publish-token`: when set, `POST /demo/disconnect-all` requires it too. */
  readonly publishToken: string | undefined;
  /**
   * `--origin` and `--trust-proxy`: which pages may press the dashboard's buttons, judged as
   * for the hub's browser-facing endpoints. A cross-site form POST needs no preflight: without
   * this, any site could make everyone reconnect from its visitors' browsers.
   */
  readonly access: { readonly origins: readonly string[] | '*'; readonly trustProxy: number };
  readonly assets: DemoAssets;
  readonly state: DashboardStateTracker;
  readonly logger: Logger;
}

/** Answers a request if it is one of the demo's; returns false for the next handler. */
export type DemoRoutes = (req: IncomingMessage, res: ServerResponse) => boolean;

const READ = ['GET', 'HEAD'];
const ASSETS = '/assets/';

/**
 * The live dashboard of `tidewire serve`: the page at `/`, its built files under `/assets/`,
 * and what it asks the server under `/demo/` (README § `tidewire serve`).
 */
export function createDemoRoutes(options: DemoRoutesOptions): DemoRoutes {
  const page = demoPage(options.basePath);
  return (req, res) => {
    const path = parseRequestTarget(req.url ?? '/')?.pathname;
    if (path === '/') {
      if (allowMethods(req, res, READ)) servePage(res, page);
    } else if (path?.startsWith(ASSETS) && options.assets.isAsset(path.slice(ASSETS.length))) {
      if (allowMethods(req, res, READ)) options.assets.serve(req, res, path.slice(ASSETS.length));
    } else if (path === '/demo/clock') {
      // The page's NTP-style estimate of its clock's offset: the hub's `ts` against this.
      if (allowMethods(req, res, READ)) sendJson(res, 200, { now: Date.now() });
    } else if (path === '/demo/state') {
      if (allowMethods(req, res, READ)) sendJson(res, 200, options.state.current());
    } else if (path === '/demo/disconnect-all') {
      if (allowMethods(req, res, ['POST'])) void disconnectAll(req, res, options);
    } else {
      return false;
    }
    return true;
  };
}

function servePage(res: ServerResponse, page: string): void {
  res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-cache' });
  res.end(page);
}

/** `POST /demo/disconnect-all`: the page's button that makes every client reconnect. */
async function disconnectAll(
  req: IncomingMessage,
  res: ServerResponse,
  options: DemoRoutesOptions,
): Promise<void> {
  try {
    if (!judgeOrigin(req, options.access).allowed) throw originError();
    checkToken(req, options.publishToken);
    const disconnected = await options.hub.disconnectAll();
    options.logger.info({ disconnected }, 'demo: every connection closed on request');
    sendJson(res, 200, { disconnected });
  } catch (error) {
    sendError(res, error);
  }
}

/** Guarded like `POST /rt/publish`: whoever may publish may also make everyone reconnect. */
function checkToken(req: IncomingMessage, token: string | undefined): void {
  if (token === undefined) return;
  const verdict = judgeBearer(req, token);
  if (verdict === 'missing') {
    throw new TidewireError(
      'UNAUTHORIZED',
      'disconnect-all needs "Authorization: Bearer <publish token>"',
    );
  }
  if (verdict === 'wrong') throw new TidewireError('FORBIDDEN', 'the publish token is not valid');
}
