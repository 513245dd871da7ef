import { Observable, Subscriber, type OperatorFunction } from 'rxjs';

/** Where a decoder puts the frames it completes: the subscriber downstream, or any other observer. */
export interface FrameSink<T> {
  next(frame: T): void;
}

/** A stateful push parser: the part of a decoding operator that knows the format. */
export interface StreamDecoder<T> {
  /** Parses one chunk, passing each frame it completes to `output`; throws a typed error on bad input. */
  write(chunk: Buffer, output: FrameSink<T>): void;
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
 * through this subscriber's next alone, where an observer object would be wrapped in a
 * SafeSubscriber and its ConsumerObserver, two more calls per chunk. The decoder gets `output`
 * itself, not a callback that calls output.next: one call less per frame.
 */
class DecoderSubscriber<T> extends Subscriber<Buffer> {
  constructor(
    private readonly output: Subscriber<T>,
    private readonly decoder: StreamDecoder<T>,
  ) {
    // Added to `output`, so that it stops when `output` does: a synchronous source keeps pushing
    // chunks after a decoding error, into a state no longer meaningful.
    super(output);
  }

  /**
   * Subscriber#next, but calling the decoder directly: Subscriber#next's own `this._next(value)` is
   * one call site for every subscriber in the program, and a decoder among its targets makes it
   * polymorphic where each frame goes out through output.next, which V8 inlines into the decoder's
   * loop.
   */
  override next(chunk: Buffer): void {
    if (this.isStopped) super.next(chunk);
    else this._next(chunk);
  }

  protected override _next(chunk: Buffer): void {
    try {
      this.decoder.write(chunk, this.output);
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
