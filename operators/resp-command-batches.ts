import type { OperatorFunction } from 'rxjs';
import { decoderOperator, type StreamDecoder } from './internal/decoder-operator';
import { commandLimits, RespCommandParser, type RespCommandLimits } from './internal/resp-command-parser';

/**
 * respCommands for pipelining servers: emits, per input chunk, the array of commands that chunk
 * completed (nothing for a chunk that completed none), so that a server can answer a batch with one
 * `encodeReplies(...)` Buffer and one write. Same parsing, limits and errors as respCommands; on a
 * protocol error the commands before it are emitted first.
 */
export function respCommandBatches(options: RespCommandLimits = {}): OperatorFunction<Buffer, Buffer[][]> {
  const limits = commandLimits(options);
  return decoderOperator(() => new BatchingDecoder(new RespCommandParser(limits)));
}

class BatchingDecoder implements StreamDecoder<Buffer[][]> {
  private batch: Buffer[][] = [];
  /** Made once rather than per chunk: the parser's callback for each command. */
  private readonly collect = (command: Buffer[]): void => {
    this.batch.push(command);
  };

  constructor(private readonly parser: RespCommandParser) {}

  write(chunk: Buffer, emit: (batch: Buffer[][]) => void): void {
    try {
      this.parser.write(chunk, this.collect);
    } finally {
      const batch = this.batch;
      if (batch.length > 0) {
        this.batch = [];
        emit(batch);
      }
    }
  }

  end(): void {
    this.parser.end();
  }
}
