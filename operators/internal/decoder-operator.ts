import { Observable, type OperatorFunction } from 'rxjs';

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
      const decoder = createDecoder();
      const emit = (frame: T): void => subscriber.next(frame);
      return source.subscribe({
        next(chunk) {
          // A synchronous source keeps calling next after we errored; its state is no longer meaningful.
          if (subscriber.closed) return;
          try {
            decoder.write(chunk, emit);
          } catch (error) {
            subscriber.error(error);
          }
        },
        error(error: unknown) {
          subscriber.error(error);
        },
        complete() {
          try {
            decoder.end();
          } catch (error) {
            subscriber.error(error);
            return;
          }
          subscriber.complete();
        },
      });
    });
}
