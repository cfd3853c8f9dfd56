/** Picks the dispatcher for the configured mode. */

import type { DispatchContext } from './dispatch-context.js';
import type { Dispatcher } from './dispatcher.js';
import { LocalDispatcher } from './local-dispatcher.js';
import { PullDispatcher } from './pull-dispatcher.js';
import { PushDispatcher } from './push-dispatcher.js';

export interface CreatedDispatcher {
  dispatcher: Dispatcher;
  /** Push and pull: the same dispatcher, as the worker gateway's handler; local mode has none. */
  remote: PushDispatcher | PullDispatcher | undefined;
}

export function createDispatcher(ctx: DispatchContext): CreatedDispatcher {
  switch (ctx.config.mode) {
    case 'push': {
      const remote = new PushDispatcher(ctx);
      return { dispatcher: remote, remote };
    }
    case 'pull': {
      const remote = new PullDispatcher(ctx);
      return { dispatcher: remote, remote };
    }
    case 'local':
      return { dispatcher: new LocalDispatcher(ctx), remote: undefined };
    default: {
      const never: never = ctx.config.mode;
      throw new Error(`Unknown mode ${String(never)}`);
    }
  }
}
