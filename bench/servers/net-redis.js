#!/usr/bin/env node
'use strict';
// The plain node:net Redis server that rxloop's redis example is measured against: what one would
// write by hand, honestly and idiomatically. Each 'data' event is parsed with a simple incremental
// parser (a command cut by the chunk boundary is parsed again from its start once more bytes
// arrive), every complete command is executed, and the chunk's replies go out in one write, as
// rxloop does. Enough for redis-benchmark's GET and SET tests: PING, ECHO, GET, SET, DEL, INCR,
// CONFIG GET and FLUSHALL, in RESP2, with inline commands too. Values are copies (Buffer.from).
//
//   node bench/servers/net-redis.js [--port 6380] [--host 127.0.0.1]
//
// Prints `listening tcp://HOST:PORT` once bound; exits 0 on SIGINT/SIGTERM.
const net = require('node:net');
const { listen, serverArgs } = require('./serve-cli');

const values = serverArgs(6380);

const store = new Map(); // latin1 key → Buffer

const OK = Buffer.from('+OK\r\n');
const PONG = Buffer.from('+PONG\r\n');
const NIL = Buffer.from('$-1\r\n');
const CONFIG = { save: '', appendonly: 'no' };

const CR = 13;

// A bulk reply in one exact-size Buffer.
function bulk(value) {
  const header = `$${value.length}\r\n`;
  const reply = Buffer.allocUnsafe(header.length + value.length + 2);
  reply.latin1Write(header, 0);
  value.copy(reply, header.length);
  reply[reply.length - 2] = CR;
  reply[reply.length - 1] = 10;
  return reply;
}
const integer = (value) => Buffer.from(`:${value}\r\n`);
const error = (message) => Buffer.from(`-${message}\r\n`);
const array = (items) => Buffer.concat([Buffer.from(`*${items.length}\r\n`), ...items]);

function execute(args) {
  const name = args[0].toString('latin1').toLowerCase();
  switch (name) {
    case 'ping':
      return args.length > 1 ? bulk(args[1]) : PONG;
    case 'echo':
      return bulk(args[1]);
    case 'get': {
      const value = store.get(args[1].toString('latin1'));
      return value === undefined ? NIL : bulk(value);
    }
    case 'set':
      store.set(args[1].toString('latin1'), Buffer.from(args[2]));
      return OK;
    case 'del':
      return integer(args.slice(1).filter((key) => store.delete(key.toString('latin1'))).length);
    case 'incr': {
      const key = args[1].toString('latin1');
      const next = Number(store.get(key) ?? 0) + 1;
      store.set(key, Buffer.from(String(next)));
      return integer(next);
    }
    case 'config': {
      const pattern = args[2].toString();
      return array(pattern in CONFIG ? [bulk(Buffer.from(pattern)), bulk(Buffer.from(CONFIG[pattern]))] : []);
    }
    case 'flushall':
      store.clear();
      return OK;
    default:
      return error(`ERR unknown command '${args[0]}'`);
  }
}

// The decimal number between `start` and `end` (a RESP length), or NaN.
function readNumber(buffer, start, end) {
  let value = 0;
  for (let index = start; index < end; index++) {
    const digit = buffer[index] - 48;
    if (digit < 0 || digit > 9) return Number.NaN;
    value = value * 10 + digit;
  }
  return value;
}

// Parses one command at `offset`: { args, next } when it is complete, null when more bytes are needed.
function parseCommand(buffer, offset) {
  if (buffer[offset] !== 0x2a) {
    // An inline command: words up to the end of the line.
    const end = buffer.indexOf(10, offset);
    if (end < 0) return null;
    const line = buffer.toString('latin1', offset, end).trim();
    const args = line ? line.split(/\s+/).map((word) => Buffer.from(word, 'latin1')) : [];
    return { args, next: end + 1 };
  }
  let lineEnd = buffer.indexOf(CR, offset);
  if (lineEnd < 0) return null;
  const count = readNumber(buffer, offset + 1, lineEnd);
  let position = lineEnd + 2;
  const args = [];
  for (let index = 0; index < count; index++) {
    lineEnd = buffer.indexOf(CR, position);
    if (lineEnd < 0) return null;
    const length = readNumber(buffer, position + 1, lineEnd);
    const start = lineEnd + 2;
    if (start + length + 2 > buffer.length) return null;
    args.push(buffer.subarray(start, start + length));
    position = start + length + 2;
  }
  return { args, next: position };
}

const server = net.createServer({ noDelay: true }, (socket) => {
  let pending = null; // the start of a command that the last chunk cut short
  socket.on('data', (chunk) => {
    const buffer = pending ? Buffer.concat([pending, chunk]) : chunk;
    const replies = [];
    let offset = 0;
    for (let parsed; offset < buffer.length && (parsed = parseCommand(buffer, offset)); offset = parsed.next) {
      if (parsed.args.length > 0) replies.push(execute(parsed.args));
    }
    pending = offset < buffer.length ? Buffer.from(buffer.subarray(offset)) : null;
    if (replies.length > 0) socket.write(replies.length === 1 ? replies[0] : Buffer.concat(replies));
  });
  socket.on('error', () => socket.destroy()); // a reset peer is not the server's problem
});

listen('net-redis', server, values);
