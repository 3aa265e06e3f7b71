/**
 * Peer: nginx with the nchan module, the pub/sub server people put in front of an app that
 * cannot hold connections itself. This process is only a wrapper: it starts nginx (one
 * worker) in a fresh temp dir and publishes by HTTP POST to nchan's publisher location, as an
 * application backend does. The fan-out runs in the nginx worker, so `ready.pid` and the
 * memory figures are the worker's: the orchestrator pins and measures that process.
 *
 * One subscriber location serves WebSocket (`url`) and EventSource (`sseUrl`); a message
 * arrives as the published body, unwrapped, on both.
 */
import { spawn } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { servePeer } from '../lib/peer-ipc.mjs';
import { freePort } from '../lib/free-port.mjs';

const NGINX = '/usr/sbin/nginx';
/** Where Debian's libnginx-mod-nchan (and most builds) put the module. */
const MODULE_DIRS = ['/usr/lib/nginx/modules', '/usr/share/nginx/modules', '/etc/nginx/modules'];
const MODULE_FILE = 'ngx_nchan_module.so';
const START_TIMEOUT_MS = 5_000;
/** After SIGQUIT (graceful stop), how long nginx may wait for its connections to end. */
const QUIT_GRACE_MS = 1_000;
/** POSTs on the way at once in a burst, and the publisher's keep-alive sockets. */
const IN_FLIGHT = 8;

servePeer(async () => {
  if (!existsSync(NGINX)) return { unavailable: `${NGINX} not found (apt-get install nginx)` };
  const module = MODULE_DIRS.map((dir) => join(dir, MODULE_FILE)).find((path) => existsSync(path));
  if (!module) {
    return { unavailable: `${MODULE_FILE} not found (apt-get install libnginx-mod-nchan)` };
  }
  const nginx = await startNginx(module);
  const agent = new http.Agent({ keepAlive: true, maxSockets: IN_FLIGHT });
  const { port } = nginx;
  return {
    ready: {
      port,
      url: `ws://127.0.0.1:${port}/sub`,
      sseUrl: `http://127.0.0.1:${port}/sub`,
      dialect: 'ws',
      pid: nginx.workerPid,
      masterPid: nginx.masterPid,
    },
    inFlight: IN_FLIGHT,
    publish: (text) => post(agent, port, text),
    stats: () => workerMemory(nginx.workerPid),
    connections: () => subscriberCount(port).catch(() => -1),
    async close() {
      agent.destroy();
      await nginx.stop();
    },
  };
});

/**
 * Starts nginx in the foreground (`daemon off`, so that it stays our child) and resolves once
 * it answers and its worker is found. nginx is stopped when this process exits, whatever the
 * reason: a crash of the wrapper must not leave a server holding a port.
 */
async function startNginx(module) {
  const dir = mkdtempSync(join(tmpdir(), 'tidewire-bench-nchan-'));
  // Run as root, nginx hands its worker to `nobody`, which must reach the temp paths below.
  if (process.getuid?.() === 0) chmodSync(dir, 0o755);
  const port = await freePort();
  const conf = join(dir, 'nginx.conf');
  writeFileSync(conf, nginxConf({ dir, module, port }));
  const child = spawn(NGINX, ['-p', `${dir}/`, '-c', conf, '-e', join(dir, 'error.log')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk) => (stderr += chunk));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  let workerPid;

  const killNow = () => {
    for (const pid of [child.pid, workerPid]) {
      try {
        if (pid) process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', killNow);
  for (const signal of ['SIGTERM', 'SIGINT']) process.once(signal, () => process.exit(0));

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGQUIT');
    await Promise.race([exited, delay(QUIT_GRACE_MS)]);
    killNow();
    process.removeListener('exit', killNow);
  };

  try {
    await waitUntilAnswering(port, child, () => `${stderr}${readLog(dir)}`);
    workerPid = await findWorker(child.pid);
  } catch (error) {
    await stop();
    throw error;
  }
  return { port, masterPid: child.pid, workerPid, stop };
}

function nginxConf({ dir, module, port }) {
  return `load_module ${module};
daemon off;
master_process on;
worker_processes 1;
# Room for worker_connections sockets plus files (an alert in error.log if not allowed).
worker_rlimit_nofile 40000;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 20000; }
http {
  access_log off;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  # Published bodies stay in memory; the publisher's keep-alive sockets are never recycled.
  client_body_buffer_size 1m;
  client_max_body_size 1m;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:${port};
    # WebSocket and EventSource on one location. A newcomer waits for the next message
    # instead of getting the buffered ones (nchan's default is the oldest held).
    location = /sub {
      nchan_subscriber;
      nchan_channel_id bench;
      nchan_subscriber_first_message newest;
    }
    # A short buffer: the channel holds no history worth replaying.
    location = /pub {
      nchan_publisher;
      nchan_channel_id bench;
      nchan_message_buffer_length 10;
    }
    location = /status {
      nchan_stub_status;
    }
  }
}
`;
}

/** POSTs one message; resolves once nchan answered (201 delivered, 202 queued). */
function post(agent, port, text) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path: '/pub',
        method: 'POST',
        agent,
        headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) },
      },
      (res) => {
        res.resume();
        res.once('end', () => {
          if (res.statusCode >= 200 && res.statusCode < 300) resolve();
          else reject(new Error(`nchan answered the publish with ${res.statusCode}`));
        });
      },
    );
    req.once('error', reject);
    req.end(text);
  });
}

/** The worker's resident memory (VmRSS, which counts the shared-memory pages it touched). */
function workerMemory(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1]);
  return { rss: kib * 1024, heapUsed: 0, external: 0, arrayBuffers: 0 };
}

/** `subscribers: N` of nchan_stub_status. */
async function subscriberCount(port) {
  const response = await fetch(`http://127.0.0.1:${port}/status`);
  const match = /^subscribers: (\d+)$/m.exec(await response.text());
  return match ? Number(match[1]) : -1;
}

async function waitUntilAnswering(port, child, log) {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`nginx exited (${child.signalCode ?? child.exitCode}): ${log().trim()}`);
    }
    try {
      const response = await fetch(`http://127.0.0.1:${port}/status`);
      await response.text();
      if (response.status === 200) return;
    } catch {
      // not listening yet
    }
    await delay(20);
  }
  throw new Error(`nginx did not answer within ${START_TIMEOUT_MS} ms: ${log().trim()}`);
}

/** The child of the master: with `worker_processes 1` and no cache, its only one. */
async function findWorker(masterPid) {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    for (const name of readdirSync('/proc')) {
      if (!/^\d+$/.test(name)) continue;
      let stat;
      try {
        stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      } catch {
        continue; // ended meanwhile
      }
      // `pid (comm) state ppid …`: comm may hold spaces and parentheses, so cut at the last ')'.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === masterPid) return Number(name);
    }
    await delay(20);
  }
  throw new Error(`no nginx worker under master ${masterPid}`);
}

function readLog(dir) {
  try {
    return readFileSync(join(dir, 'error.log'), 'utf8');
  } catch {
    return '';
  }
}

function delay(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
