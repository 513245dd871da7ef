import { Observable, Subscriber, type OperatorFunction } from 'rxjs';

/** A stateful push parser: the part of a decoding operator that knows the format. */
export interface StreamDecoder<T> {
  /** Parses one chunk, calling `emit` for each frame it completes; throws a typed error on bad input. */
  write(chunk: Buffer, emit: (frame: T) => void): void;
  /** The input has completed: throws if it ended inside a frame. */
  end(): void;
}

/** Turns a decoder factory into an operator, with one decoder per subscription. */
export function decoderOperator<T>(createDecoder: () => StreamDecoder<T>): OperatorFunction<Buffer, T> {
  return (source) =>
    new Observable<T>((subscriber) => {
      const decoding = new DecoderSubscriber(subscriber, createDecoder());
      source.subscribe(decoding);
      return decoding;
    });
}

/**
 * Subscribed to the source directly, as RxJS's own operators are: each chunk reaches write()
 * through Subscriber#next alone, where an observer object would be wrapped in a SafeSubscriber and
 * its ConsumerObserver, two more calls per chunk.
 */
class DecoderSubscriber<T> extends Subscriber<Buffer> {
  private readonly emit: (frame: T) => void;

  constructor(
    private readonly output: Subscriber<T>,
    private readonly decoder: StreamDecoder<T>,
  ) {
    // Added to `output`, so that it stops when `output` does: a synchronous source keeps pushing
    // chunks after a decoding error, into a state no longer meaningful.
    super(output);
    this.emit = (frame) => output.next(frame);
  }

  protected override _next(chunk: Buffer): void {
    try {
      this.decoder.write(chunk, this.emit);
    } catch (error) {
      this.output.error(error);
    }
  }

  protected override _error(error: unknown): void {
    this.output.error(error);
  }

  protected override _complete(): void {
    try {
      this.decoder.end();
    } catch (error) {
      this.output.error(error);
      return;
    }
    this.output.complete();
  }
}
