import type { OperatorFunction } from 'rxjs';
import { decoderOperator, type FrameSink, type StreamDecoder } from './internal/decoder-operator';
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
  /** Made once rather than per chunk: where the parser puts each command. */
  private readonly collect: FrameSink<Buffer[]> = {
    next: (command) => {
      this.batch.push(command);
    },
  };

  constructor(private readonly parser: RespCommandParser) {}

  write(chunk: Buffer, output: FrameSink<Buffer[][]>): void {
    try {
      this.parser.write(chunk, this.collect);
    } finally {
      const batch = this.batch;
      if (batch.length > 0) {
        this.batch = [];
        output.next(batch);
      }
    }
  }

  end(): void {
    this.parser.end();
  }
}
