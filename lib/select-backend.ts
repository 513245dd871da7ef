import type { Backend } from './backend';
import { RxloopError } from './errors';
import { nativeLoop } from './native/loop';
import { nodeBackend } from './node/backend';

export type BackendName = 'native' | 'node' | 'auto';

let warned = false;

/**
 * 'native' insists on the addon, 'node' uses node:net, 'auto' (the default, or RXLOOP_BACKEND)
 * takes native where it loads and otherwise falls back to node:net with one warning.
 */
export function selectBackend(requested?: BackendName): Backend {
  const name = requested ?? (process.env.RXLOOP_BACKEND as BackendName | undefined) ?? 'auto';
  if (name === 'node') return nodeBackend();
  if (name !== 'native' && name !== 'auto') {
    throw new RxloopError(`unknown backend '${String(name)}' (expected native, node or auto)`, 'ERR_RXLOOP_BACKEND');
  }
  const loop = nativeLoop();
  if (!(loop instanceof Error)) return loop;
  if (name === 'native') {
    throw new RxloopError(`the native addon cannot be loaded: ${loop.message}`, 'ERR_RXLOOP_NO_ADDON');
  }
  if (!warned) {
    warned = true;
    process.emitWarning(
      `rxloop: native addon unavailable (${loop.message}); using the node:net backend. ` +
        'If npm skipped its install script, allow it (npm install-scripts approve rxloop) and run npm rebuild rxloop.',
      'RxloopWarning',
    );
  }
  return nodeBackend();
}
