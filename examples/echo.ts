import { serve } from '../lib';
import { type Example, listenUrl } from './cli';

/** Writes back whatever each peer sends, in order, and closes after the peer does. */
export const example: Example = {
  accepts: ['port', 'host', 'unix'],
  defaultPort: 5000,
  start: (args) => [serve(listenUrl(args), (conn) => conn.input$, { backend: args.backend })],
};
