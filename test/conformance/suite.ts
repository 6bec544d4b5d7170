/*
 * The scaffolding every conformance feature shares: one real kube-apiserver per file with the
 * feature's namespace, our IngressClass and the feature's objects; then, for each proxy mode under
 * test (PASSERELLE_MODE narrows), a controller that must write the Ingress status afresh and serve
 * the feature before that mode's tests run.
 */

import { after, before, describe } from 'node:test';
import { startCluster, type Cluster } from '../kube/harness.ts';
import { clearStatus, modesUnderTest, namespace, ourClass, requireNetns, startPasserelle, waitForStatus, type Mode, type Passerelle, type Pod } from './env.ts';

/** One feature file's objects, and how to tell a controller serves them. */
export interface Feature {
  /** The namespace of the feature's objects (created, with our IngressClass, before `deploy`). */
  readonly namespace: string;
  /** The Ingress whose status each mode's controller must write: cleared before it starts, then awaited. */
  readonly ingress: string;
  /** Applies the feature's Services, Secrets and Ingresses; pushes the pods it starts to `pods` (closed at the end). */
  readonly deploy: (cluster: Cluster, pods: Pod[]) => Promise<void>;
  /** Resolves once the mode's controller serves the feature (after the status is written); absent: no wait. */
  readonly served?: (env: FeatureEnv) => Promise<unknown>;
}

/** What a mode's tests use. Read it inside hooks and tests only: the `before` hooks fill it. */
export interface FeatureEnv {
  readonly mode: Mode;
  readonly cluster: Cluster;
  /** The controller of this mode. */
  readonly pass: Passerelle;
  /** The address the controller wrote into the status of {@link Feature.ingress}. */
  readonly address: string;
}

function ready<T>(value: T | undefined, what: string): T {
  // A hook that failed leaves it unset: say so rather than fail on an undefined later.
  if (value === undefined) throw new Error(`${what} is not ready: a before hook failed (see above)`);
  return value;
}

/**
 * Declares the suite `title` of a conformance feature: the cluster hooks, then one `describe` per
 * mode under test whose hooks start (and stop) the controller, with `tests` declared inside it.
 */
export function describeFeature(title: string, feature: Feature, tests: (env: FeatureEnv) => void): void {
  describe(title, () => {
    let cluster: Cluster | undefined;
    const pods: Pod[] = [];

    before(async () => {
      requireNetns();
      cluster = await startCluster();
      await cluster.apply(namespace(feature.namespace));
      await cluster.apply(ourClass);
      await feature.deploy(cluster, pods);
    });
    after(async () => {
      for (const p of pods) await p.close();
      await cluster?.stop();
    });

    for (const mode of modesUnderTest()) {
      describe(`${mode} mode`, () => {
        let pass: Passerelle | undefined;
        let address: string | undefined;
        const env: FeatureEnv = {
          mode,
          get cluster() {
            return ready(cluster, 'the cluster');
          },
          get pass() {
            return ready(pass, `passerelle (${mode})`);
          },
          get address() {
            return ready(address, `the status of Ingress ${feature.namespace}/${feature.ingress}`);
          },
        };

        before(async () => {
          await clearStatus(env.cluster, feature.namespace, feature.ingress);
          pass = await startPasserelle(env.cluster, mode);
          address = await waitForStatus(env.cluster, feature.namespace, feature.ingress);
          await feature.served?.(env);
        });
        after(async () => {
          await pass?.stop();
        });

        tests(env);
      });
    }
  });
}
