import type { CliFlags } from './flags.ts';
import type { RoutingModel } from '../model/types.ts';
import type { Snapshot } from '../model/k8s.ts';
import type { KubeClient } from '../sources/kubernetes/client.ts';
import { silentLogger } from '../shared/logger.ts';
import { buildModel } from '../controller/sync.ts';
import { createKubeClient, loadContext, wireSource } from './wire.ts';
import type { Context } from './wire.ts';

/** What {@link buildOnce} read and built. */
export interface BuiltOnce {
  readonly context: Context;
  /** The model, with the config file's warnings first among its diagnostics. */
  readonly model: RoutingModel;
  readonly snapshot: Snapshot;
  /** The process's Kubernetes client, when the Kubernetes source is on (check reads ACME Secrets with it). */
  readonly kube: KubeClient | undefined;
}

/** Loads the config, reads the source once (no watch, no writes), and builds the model (and returns the objects it read). */
export async function buildOnce(flags: CliFlags): Promise<BuiltOnce> {
  const context = await loadContext(flags);
  const kube = createKubeClient(context.config);
  const { source } = wireSource(context, false, silentLogger, kube);
  await source.start();
  try {
    const model = buildModel(source, context.translate);
    return { context, model: { ...model, diagnostics: [...context.warnings, ...model.diagnostics] }, snapshot: source.snapshot(), kube };
  } finally {
    await source.stop();
  }
}
