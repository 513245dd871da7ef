// An example server in a child process, watched from outside through /proc: its memory, open fds
// and CPU time are its own, not the test runner's.
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import * as readline from 'node:readline';

const ROOT = join(__dirname, '..', '..', '..');
const CLI = join(ROOT, 'bin', 'rxloop.js');
// The benchmarks' /proc readers.
const proc = require(join(ROOT, 'bench', 'support', 'harness')) as {
  rssBytes(pid: number): number;
  fdCount(pid: number): number;
  cpuSeconds(pid: number): number;
};

export class ChildServer {
  private constructor(
    private readonly child: ChildProcess,
    /** The ports it announced, in order. */
    readonly ports: number[],
  ) {}

  /** Runs `node bin/rxloop.js <args>` and waits for its `listening` lines. */
  static async start(args: readonly string[], listeners = 1): Promise<ChildServer> {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    const ports: number[] = [];
    const lines = readline.createInterface({ input: child.stdout! });
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    for await (const line of lines) {
      const match = /^listening \w+:\/\/.*:(\d+)$/.exec(line);
      if (match) ports.push(Number(match[1]));
      if (ports.length === listeners) break;
    }
    clearTimeout(timer);
    if (ports.length < listeners) throw new Error(`rxloop ${args.join(' ')} announced ${ports.length} of ${listeners} listeners`);
    return new ChildServer(child, ports);
  }

  get pid(): number {
    return this.child.pid!;
  }

  get exited(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }

  /** Resident memory, in bytes (VmRSS). */
  rss(): number {
    return proc.rssBytes(this.pid);
  }

  openFds(): number {
    return proc.fdCount(this.pid);
  }

  /** User and system CPU time so far, in seconds. */
  cpuSeconds(): number {
    return proc.cpuSeconds(this.pid);
  }

  /** SIGTERM (the CLI drains and exits 0), SIGKILL after 6 s; resolves with the exit code. */
  async stop(): Promise<number | null> {
    if (this.exited) return this.child.exitCode;
    const exited = new Promise<number | null>((resolve) => this.child.once('exit', (code) => resolve(code)));
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 6000);
    const code = await exited;
    clearTimeout(timer);
    return code;
  }
}
