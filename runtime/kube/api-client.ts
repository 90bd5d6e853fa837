/**
 * API clients whose every request has a deadline. client-node's own clients wait as long
 * as the connection stays open: an apiserver that accepts connections and never answers
 * (stopped, overloaded, a half-dead proxy in between) would hang a scale write, and with it
 * every later write of that app's serialized writer. Watches and log streams are made by
 * other classes and are not affected: they are meant to stay open.
 */
import { createConfiguration, type KubeConfig, type RequestContext, type ResponseContext, ServerConfiguration } from '@kubernetes/client-node';

/** Long enough for any single call Dormant makes (a list of every pod of a busy namespace), short enough to retry soon. */
export const defaultRequestTimeoutMs = 15_000;

export function apiClient<T>(config: KubeConfig, Api: new (configuration: ReturnType<typeof createConfiguration>) => T, timeoutMs = defaultRequestTimeoutMs): T {
  const cluster = config.getCurrentCluster();
  if (!cluster) throw new Error('the kubeconfig names no current cluster; set its current-context');
  return new Api(
    createConfiguration({
      baseServer: new ServerConfiguration(cluster.server, {}),
      authMethods: { default: config },
      promiseMiddleware: [
        {
          pre: async (context: RequestContext) => {
            if (context.getSignal() === undefined) context.setSignal(AbortSignal.timeout(timeoutMs));
            return context;
          },
          post: async (response: ResponseContext) => response,
        },
      ],
    }),
  );
}
