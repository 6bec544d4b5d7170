import type { CliFlags } from '../config/flags.ts';
import type { RoutingModel } from '../model/types.ts';
import type { Snapshot } from '../model/k8s.ts';
import { buildModel } from '../controller/sync.ts';
import { createSource, loadContext, type Context } from './context.ts';

/** Loads the config, reads the source once (no watch), and builds the model (and returns the objects it read). */
export async function buildOnce(flags: CliFlags): Promise<{ context: Context; model: RoutingModel; snapshot: Snapshot }> {
  const context = await loadContext(flags);
  const source = createSource(context.config, false);
  await source.start();
  try {
    const model = buildModel(source, context.translate);
    return { context, model: { ...model, diagnostics: [...context.warnings, ...model.diagnostics] }, snapshot: source.snapshot() };
  } finally {
    await source.stop();
  }
}
