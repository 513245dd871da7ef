import { Buffer } from 'node:buffer';

import { resp, type RespValue } from '../../operators';
import { arityError, unknownSubcommand } from './replies';
import type { ClientSession } from './session';

/** The command groups of COMMAND DOCS. */
export type CommandGroup = 'connection' | 'server' | 'generic' | 'string' | 'list' | 'set' | 'hash' | 'sorted-set';

/**
 * A command and what COMMAND INFO / COMMAND DOCS say about it. `run` gets the arguments with the
 * name first, already checked against `arity`; it returns the reply, or throws a RespReplyError
 * to reply with that error.
 */
export interface Command {
  /** Lower case, as redis-server names it in its replies and errors. */
  readonly name: string;
  /** redis-server's convention: N means exactly N arguments (the name included), -N at least N. */
  readonly arity: number;
  readonly flags: readonly string[];
  /** The positions of the first and last key argument and the step between keys; 0 0 0 for none, last -1 for "to the end". */
  readonly keys: readonly [first: number, last: number, step: number];
  readonly group: CommandGroup;
  readonly since: string;
  readonly summary: string;
  readonly complexity: string;
  readonly run: (client: ClientSession, args: Buffer[]) => RespValue;
}

/** A command's description, the part of a Command that is not its behaviour. */
export type CommandDescription = Omit<Command, 'run' | 'group'>;

/** Defines a group's commands: each description with its implementation. */
export function commandGroup(group: CommandGroup, commands: readonly [CommandDescription, Command['run']][]): Command[] {
  return commands.map(([description, run]) => ({ ...description, group, run }));
}

/** A subcommand (CLIENT SETNAME, CONFIG GET...), with its arity counted from the command's name. */
export interface Subcommand {
  readonly arity: number;
  /** What HELP says about it: its synopsis, then lines of explanation. */
  readonly help: readonly string[];
  readonly run: Command['run'];
}

/**
 * The `run` of a command made of subcommands: dispatches on the second argument, with
 * redis-server's errors for an unknown one (`ERR unknown subcommand 'x'. Try CLIENT HELP.`) and
 * for a wrong number of arguments (`... for 'client|setname' command`), and a HELP subcommand.
 */
export function subcommands(command: string, table: Readonly<Record<string, Subcommand>>): Command['run'] {
  const lines = [`${command.toUpperCase()} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:`];
  for (const { help } of [...Object.values(table), { help: ['HELP', 'Prints this help.'] }]) {
    lines.push(help[0]!, ...help.slice(1).map((line) => `    ${line}`));
  }
  const helpReply = lines.map((line) => resp.simple(line));
  const all: Readonly<Record<string, Subcommand>> = { ...table, help: { arity: 2, help: [], run: () => helpReply } };
  return (client, args) => {
    const name = args[1]!.toString('latin1').toLowerCase();
    const subcommand = Object.hasOwn(all, name) ? all[name] : undefined;
    if (subcommand === undefined) throw unknownSubcommand(args[1]!, command);
    if (subcommand.arity >= 0 ? args.length !== subcommand.arity : args.length < -subcommand.arity) throw arityError(`${command}|${name}`);
    return subcommand.run(client, args);
  };
}

/** A command's keys as COMMAND reports them: [first, last, step]. */
export const NO_KEYS = [0, 0, 0] as const;
export const ONE_KEY = [1, 1, 1] as const;
export const ALL_KEYS = [1, -1, 1] as const;

/**
 * Commands by name, looked up straight from the name's bytes, without case and without making a
 * string per command: an open-addressing table hashed on the lower-cased bytes.
 */
export class CommandTable {
  private readonly slots: (Command | undefined)[];
  private readonly names: (Uint8Array | undefined)[];
  private readonly mask: number;
  readonly all: readonly Command[];

  constructor(commands: readonly Command[]) {
    let size = 8;
    while (size < commands.length * 4) size *= 2;
    this.slots = new Array<Command | undefined>(size).fill(undefined);
    this.names = new Array<Uint8Array | undefined>(size).fill(undefined);
    this.mask = size - 1;
    this.all = commands;
    for (const command of commands) {
      // Lower-casing by `| 0x20` in hashName and sameName is exact only for letters.
      if (!/^[a-z]+$/.test(command.name)) throw new Error(`command name '${command.name}' must be lower-case letters`);
      const name = Buffer.from(command.name, 'latin1');
      let slot = hashName(name) & this.mask;
      while (this.slots[slot] !== undefined) {
        if (this.slots[slot]!.name === command.name) throw new Error(`command '${command.name}' is defined twice`);
        slot = (slot + 1) & this.mask;
      }
      this.slots[slot] = command;
      this.names[slot] = name;
    }
  }

  lookup(name: Uint8Array): Command | undefined {
    for (let slot = hashName(name) & this.mask; ; slot = (slot + 1) & this.mask) {
      const candidate = this.names[slot];
      if (candidate === undefined) return undefined;
      if (sameName(candidate, name)) return this.slots[slot];
    }
  }

  /** By name given as a string, any case (for COMMAND INFO and DOCS). */
  find(name: string): Command | undefined {
    return this.lookup(Buffer.from(name, 'latin1'));
  }
}

/** FNV-1a over the bytes with ASCII letters lower-cased. */
function hashName(name: Uint8Array): number {
  let hash = 0x811c9dc5;
  for (let index = 0; index < name.length; index++) hash = Math.imul(hash ^ (name[index]! | 0x20), 0x01000193);
  return hash >>> 0;
}

/** Whether `input` is `lowerName` in any case; `lowerName` is lower-case letters only. */
function sameName(lowerName: Uint8Array, input: Uint8Array): boolean {
  if (lowerName.length !== input.length) return false;
  for (let index = 0; index < input.length; index++) {
    if ((input[index]! | 0x20) !== lowerName[index]) return false;
  }
  return true;
}
