import { strict as assert } from 'node:assert';
import { execFile, spawn } from 'node:child_process';
import * as http from 'node:http';
import * as https from 'node:https';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import * as readline from 'node:readline';
import * as tls from 'node:tls';
import { promisify } from 'node:util';

import { type ExampleServer } from '../examples/cli';
import { startHttp } from '../examples/http';
import { testCertificates } from './support/certificates';
import { BACKENDS, closed, connect, delay, readToEnd } from './support/helpers';

const certs = testCertificates();

interface Response {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Splits what a raw socket received into responses (all of them framed by Content-Length). */
function parseResponses(bytes: Buffer): Response[] {
  const responses: Response[] = [];
  let text = bytes.toString('latin1');
  while (text.length > 0) {
    const headEnd = text.indexOf('\r\n\r\n');
    assert.ok(headEnd > 0, `no complete head in ${JSON.stringify(text.slice(0, 80))}`);
    const [statusLine, ...fields] = text.slice(0, headEnd).split('\r\n');
    const headers: Record<string, string> = {};
    for (const field of fields) {
      const colon = field.indexOf(':');
      headers[field.slice(0, colon).toLowerCase()] = field.slice(colon + 1).trim();
    }
    const length = Number(headers['content-length']);
    responses.push({ status: Number(statusLine.split(' ')[1]), headers, body: text.slice(headEnd + 4, headEnd + 4 + length) });
    text = text.slice(headEnd + 4 + length);
  }
  return responses;
}

/** Sends `requests` in one write on a fresh connection and reads until the server closes it. */
async function exchange(port: number, requests: string | Buffer): Promise<Response[]> {
  const socket = await connect(port);
  const received = readToEnd(socket);
  socket.write(requests);
  return parseResponses(await received);
}

function get(agent: http.Agent, port: number, path: string, client: typeof http | typeof https = http, options: https.RequestOptions = {}): Promise<Response> {
  return new Promise((resolve, reject) => {
    const request = client.get({ host: '127.0.0.1', port, path, agent, ...options }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () =>
        resolve({ status: response.statusCode!, headers: response.headers as Record<string, string>, body: Buffer.concat(chunks).toString() }),
      );
    });
    request.on('error', reject);
  });
}

for (const backend of BACKENDS) {
  describe(`HTTP example (${backend} backend)`, function () {
    this.timeout(30_000);
    let servers: ExampleServer[];
    let port: number;
    let tlsPort: number;

    before(async () => {
      servers = startHttp('tcp://127.0.0.1:0', {
        backend,
        tls: { address: 'tcp://127.0.0.1:0', cert: certs.serverCert, key: certs.serverKey },
      });
      [[{ port }], [{ port: tlsPort }]] = await Promise.all(servers.map((server) => server.listening));
    });
    after(() => Promise.all(servers.map((server) => server.close())));

    it('answers GET / with Hello World!, keeping one connection alive for node:http', async () => {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      try {
        const acceptedBefore = servers[0].stats()!.accepted;
        for (let i = 0; i < 5; i++) {
          const response = await get(agent, port, '/');
          assert.equal(response.status, 200);
          assert.equal(response.body, 'Hello World!\n');
          assert.equal(response.headers['content-type'], 'text/plain');
          assert.ok(response.headers.date);
        }
        assert.equal(servers[0].stats()!.accepted - acceptedBefore, 1, 'five requests on one connection');
      } finally {
        agent.destroy();
      }
    });

    it('answers 3 pipelined requests with 3 responses, in one write', async () => {
      const socket = await connect(port);
      const received = readToEnd(socket);
      const writesBefore = servers[0].stats()!.writev;
      socket.write('GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /nope HTTP/1.1\r\nHost: a\r\n\r\nHEAD / HTTP/1.1\r\nHost: a\r\n\r\n');
      await new Promise((resolve) => socket.once('data', resolve));
      assert.equal(servers[0].stats()!.writev - writesBefore, 1, 'the three responses left together');
      socket.end();
      const responses = parseResponses(await received);
      assert.deepEqual(responses.map((r) => [r.status, r.body]), [
        [200, 'Hello World!\n'],
        [404, 'not found\n'],
        [200, ''], // HEAD: the head alone (Content-Length still says 13)
      ]);
      assert.equal(responses[2].headers['content-length'], '13');
    });

    it('runs /compute in the pool and keeps pipelined responses in request order', async () => {
      const responses = await exchange(
        port,
        'GET /compute?ms=60 HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\nGET /compute?ms=5 HTTP/1.1\r\n\r\nGET /compute?ms=x HTTP/1.1\r\nConnection: close\r\n\r\n',
      );
      assert.deepEqual(responses.map((r) => r.status), [200, 200, 200, 400]);
      assert.match(responses[0].body, /^sha256 [0-9a-f]{64} after \d+ rounds\n$/);
      assert.equal(responses[1].body, 'Hello World!\n');
      assert.match(responses[2].body, /^sha256 /);
      assert.equal(responses[3].headers.connection, 'close');
    });

    it('answers GET / at once while the pool is busy', async () => {
      const agent = new http.Agent({ keepAlive: true });
      try {
        const busy = Array.from({ length: 4 }, () => get(agent, port, '/compute?ms=400'));
        await new Promise((resolve) => setTimeout(resolve, 50));
        const started = Date.now();
        assert.equal((await get(agent, port, '/')).body, 'Hello World!\n');
        const waited = Date.now() - started;
        // Well under one 400 ms task: GET / did not wait for the pool, even on a loaded machine.
        assert.ok(waited < 350, `GET / took ${waited} ms beside busy workers`);
        await Promise.all(busy);
      } finally {
        agent.destroy();
      }
    });

    it('cancels the computations of a peer that resets its connection, freeing the pool', async () => {
      // Every pool thread taken by a 5-second computation whose client then resets. (A FIN alone
      // would not do: a half-closed client may still want its answer.)
      const threads = availableParallelism();
      for (let i = 0; i < threads; i++) {
        const socket = await connect(port);
        socket.write('GET /compute?ms=5000 HTTP/1.1\r\n\r\n');
        await delay(50);
        socket.resetAndDestroy();
      }
      await delay(200);
      const started = Date.now();
      const [response] = await exchange(port, 'GET /compute?ms=1 HTTP/1.1\r\nConnection: close\r\n\r\n');
      assert.equal(response.status, 200);
      const waited = Date.now() - started;
      assert.ok(waited < 2500, `a short computation waited ${waited} ms behind abandoned ones`);
    });

    it('reads request bodies, by length and chunked, and stays in step', async () => {
      const responses = await exchange(
        port,
        'POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello' +
          'POST /compute HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n' +
          'GET / HTTP/1.1\r\nConnection: close\r\n\r\n',
      );
      assert.deepEqual(responses.map((r) => [r.status, r.headers.allow]), [
        [405, 'GET, HEAD'],
        [405, 'GET'],
        [200, undefined],
      ]);
    });

    it('closes after a request that asks it to: Connection: close, or HTTP/1.0', async () => {
      for (const request of ['GET / HTTP/1.1\r\nConnection: close\r\n\r\n', 'GET / HTTP/1.0\r\n\r\n']) {
        const responses = await exchange(port, `${request}GET / HTTP/1.1\r\n\r\n`);
        assert.equal(responses.length, 1, 'nothing after the last request is answered');
        assert.equal(responses[0].headers.connection, 'close');
      }
      const kept = await exchange(port, 'GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET / HTTP/1.0\r\n\r\n');
      assert.deepEqual(kept.map((r) => r.headers.connection), ['keep-alive', 'close']);
    });

    it('refuses what it cannot frame with the right status, then closes', async () => {
      const cases: [string, number][] = [
        ['GET / HTTP/1.1\r\nHost x\r\n\r\n', 400],
        [`GET /${'a'.repeat(8 * 1024)} HTTP/1.1\r\n\r\n`, 414],
        [`GET / HTTP/1.1\r\n${'X-Filler: 0123456789abcdef0123456789abcdef\r\n'.repeat(1700)}\r\n`, 431],
        ['POST / HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n', 413],
        ['POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n', 501],
        ['GET / HTTP/2.0\r\n\r\n', 505],
      ];
      for (const [request, status] of cases) {
        // The good request before the bad one is answered first, in order.
        const responses = await exchange(port, `GET / HTTP/1.1\r\n\r\n${request}GET / HTTP/1.1\r\n\r\n`);
        assert.deepEqual(responses.map((r) => r.status), [200, status], JSON.stringify(request.slice(0, 40)));
        assert.equal(responses[1].headers.connection, 'close');
      }
    });

    it('serves HTTPS through translate: node:https, keep-alive and pipelining', async () => {
      const agent = new https.Agent({ keepAlive: true, maxSockets: 1, ca: certs.ca, servername: 'localhost' });
      try {
        for (let i = 0; i < 3; i++) assert.equal((await get(agent, tlsPort, '/', https)).body, 'Hello World!\n');
        const computed = await get(agent, tlsPort, '/compute?ms=10', https);
        assert.match(computed.body, /^sha256 /);
      } finally {
        agent.destroy();
      }
      const socket = tls.connect({ port: tlsPort, host: '127.0.0.1', ca: certs.ca, servername: 'localhost', ALPNProtocols: ['http/1.1'] });
      await new Promise((resolve) => socket.once('secureConnect', resolve));
      assert.equal(socket.alpnProtocol, 'http/1.1');
      const received = readToEnd(socket);
      socket.write('GET / HTTP/1.1\r\n\r\nGET /compute?ms=1 HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\nConnection: close\r\n\r\n');
      const responses = parseResponses(await received);
      assert.deepEqual(responses.map((r) => r.status), [200, 200, 200]);
      await closed(socket);
    });
  });
}

describe('HTTP example from the command line', function () {
  this.timeout(30_000);

  it('serves curl over HTTP and, with -k, over HTTPS, and exits 0 on SIGTERM', async () => {
    const cli = spawn(
      process.execPath,
      [join(__dirname, '..', '..', 'bin', 'rxloop.js'), 'http', '--port', '0', '--tls-port', '0', '--cert', join(certs.dir, 'server.crt'), '--key', join(certs.dir, 'server.key')],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    try {
      const lines = readline.createInterface({ input: cli.stdout! });
      const announced: string[] = [];
      for await (const line of lines) {
        announced.push(line);
        if (announced.length === 2) break;
      }
      const [plain, secure] = announced.map((line) => /^listening (tcp|tls):\/\/127\.0\.0\.1:(\d+)$/.exec(line));
      assert.ok(plain && secure, `announced ${JSON.stringify(announced)}`);
      assert.deepEqual([plain[1], secure[1]], ['tcp', 'tls']);
      // curl runs without the ASan runtime that `npm run test:asan` preloads for Node: under it,
      // curl hangs on its first request (curl's fault, not the server's).
      const { LD_PRELOAD: _preloaded, ...curlEnv } = process.env;
      const curl = (args: string[]) => promisify(execFile)('curl', args, { env: curlEnv });
      assert.equal((await curl(['-s', `http://127.0.0.1:${plain[2]}/`])).stdout, 'Hello World!\n');
      assert.equal((await curl(['-sk', `https://127.0.0.1:${secure[2]}/`])).stdout, 'Hello World!\n');
      const exited = new Promise((resolve) => cli.once('exit', resolve));
      cli.kill('SIGTERM');
      assert.equal(await exited, 0);
    } finally {
      cli.kill('SIGKILL');
    }
  });
});
