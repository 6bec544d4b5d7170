// The stages of docs/architecture.md in pipeline order; a stage may import only earlier stages.
// Stages on the same level (sources, render, acme) do not import each other.
/** @type {readonly (readonly string[])[]} */
export const pipeline = [
  ['shared'],
  ['config'],
  ['model'],
  ['sources', 'render', 'acme'],
  ['drivers'],
  ['controller'],
  ['dashboard'],
  ['cli'],
];

/** Zones for import-x/no-restricted-paths: for each stage, every stage it must not import. */
export function pipelineZones() {
  /** @type {{ target: string, from: string[], message: string }[]} */
  const zones = [];
  pipeline.forEach((level, i) => {
    for (const stage of level) {
      const later = pipeline.slice(i + 1).flat();
      const siblings = level.filter((s) => s !== stage);
      const from = [...later, ...siblings].map((s) => `./src/${s}`);
      if (from.length === 0) continue;
      zones.push({
        target: `./src/${stage}`,
        from,
        message: `src/${stage} is an earlier stage of the pipeline (docs/architecture.md): it must not import a later or sibling stage.`,
      });
    }
  });
  return zones;
}
