import type { Envelope } from '../protocol/envelope.js';

/**
 * An envelope as it is fanned out: encoded once per publish, whatever the number of
 * subscribers (the socket.io in-memory adapter does the same). Transports memoise their own
 * wire form under a key of theirs, so that core knows no transport format.
 */
export class EncodedEnvelope {
  #json: string | undefined;
  #memo: Map<symbol, unknown> | undefined;

  constructor(
    readonly envelope: Envelope,
    readonly epoch: string,
    readonly seq: number,
    json?: string,
  ) {
    this.#json = json;
  }

  /** The envelope's JSON text. */
  get json(): string {
    return (this.#json ??= JSON.stringify(this.envelope));
  }

  /** The value `make` returns for this envelope, computed on first use per `key`. */
  memo<T>(key: symbol, make: (encoded: EncodedEnvelope) => T): T {
    this.#memo ??= new Map();
    if (this.#memo.has(key)) return this.#memo.get(key) as T;
    const value = make(this);
    this.#memo.set(key, value);
    return value;
  }
}
