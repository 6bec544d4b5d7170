/* Which Ingresses this controller serves: spec.ingressClassName, the legacy annotation, the default class. */

import { isRecord } from './object.ts';

/** The class-selection part of the translate options. */
export interface ClassOptions {
  readonly ingressClass: string;
  readonly controllerName: string;
  readonly classAliases: readonly string[];
  readonly watchIngressWithoutClass: boolean;
}

/** Whether an Ingress is ours, and a one-line reason (for logs, `passerelle check`, status). */
export interface ClassDecision {
  readonly ours: boolean;
  readonly reason: string;
  /**
   * Served through `classAliases` although its IngressClass belongs to another controller (a
   * side-by-side migration off ingress-nginx): that controller keeps writing its status.
   */
  readonly takenOver?: boolean;
}

export const CLASS_ANNOTATION = 'kubernetes.io/ingress.class';
export const DEFAULT_CLASS_ANNOTATION = 'ingressclass.kubernetes.io/is-default-class';

interface ClassInfo {
  readonly name: string;
  readonly controller: string | undefined;
  readonly isDefault: boolean;
}

function readIngressClass(obj: unknown): ClassInfo | undefined {
  if (!isRecord(obj) || !isRecord(obj['metadata'])) return undefined;
  const meta = obj['metadata'];
  const name = meta['name'];
  if (typeof name !== 'string') return undefined;
  const spec = obj['spec'];
  const controller = isRecord(spec) && typeof spec['controller'] === 'string' ? spec['controller'] : undefined;
  const annotations = meta['annotations'];
  const isDefault = isRecord(annotations) && annotations[DEFAULT_CLASS_ANNOTATION] === 'true';
  return { name, controller, isDefault };
}

/**
 * Decides whether an Ingress belongs to this controller. In order: `spec.ingressClassName` (the
 * IngressClass of that name decides by its `spec.controller`; without such an object, the name must
 * be `options.ingressClass`), then the deprecated `kubernetes.io/ingress.class` annotation
 * (`options.ingressClass` or one of `classAliases`), then, for an Ingress with no class at all, a
 * default IngressClass of our controller or `watchIngressWithoutClass`.
 */
export function isOurIngress(ingress: unknown, ingressClasses: readonly unknown[], options: ClassOptions): ClassDecision {
  return decideClass(ingress, readIngressClasses(ingressClasses), options);
}

/** The IngressClasses of a snapshot, read once for many decisions. */
export type IngressClasses = readonly ClassInfo[];

export function readIngressClasses(ingressClasses: readonly unknown[]): IngressClasses {
  return ingressClasses.map(readIngressClass).filter((c): c is ClassInfo => c !== undefined);
}

/** {@link isOurIngress} with the IngressClasses already read. */
export function decideClass(ingress: unknown, classes: IngressClasses, options: ClassOptions): ClassDecision {
  if (!isRecord(ingress)) return { ours: false, reason: 'not an object' };
  const meta = isRecord(ingress['metadata']) ? ingress['metadata'] : {};
  const spec = isRecord(ingress['spec']) ? ingress['spec'] : {};

  const className = spec['ingressClassName'];
  if (typeof className === 'string' && className !== '') {
    const cls = classes.find((c) => c.name === className);
    if (className !== options.ingressClass && options.classAliases.includes(className) && cls?.controller !== options.controllerName) {
      return { ours: true, takenOver: true, reason: `spec.ingressClassName "${className}" is in classAliases: served beside its own controller (${cls?.controller ?? 'no IngressClass'}), which keeps the status` };
    }
    if (cls !== undefined) {
      return cls.controller === options.controllerName
        ? { ours: true, reason: `spec.ingressClassName "${className}" is an IngressClass of controller ${options.controllerName}` }
        : { ours: false, reason: `spec.ingressClassName "${className}" belongs to controller ${cls.controller ?? '(none)'}` };
    }
    // Without an IngressClass object (file source, or not created yet), our own class name still counts.
    return className === options.ingressClass
      ? { ours: true, reason: `spec.ingressClassName is "${className}"` }
      : { ours: false, reason: `spec.ingressClassName "${className}" is not an IngressClass of ours` };
  }

  const annotations = meta['annotations'];
  const annotated = isRecord(annotations) ? annotations[CLASS_ANNOTATION] : undefined;
  if (typeof annotated === 'string' && annotated !== '') {
    if (annotated === options.ingressClass) return { ours: true, reason: `annotation ${CLASS_ANNOTATION} is "${annotated}"` };
    if (options.classAliases.includes(annotated)) {
      // ingress-nginx also serves its class by this annotation: an IngressClass of another controller says it runs.
      const other = classes.find((c) => c.name === annotated && c.controller !== options.controllerName);
      return other === undefined
        ? { ours: true, reason: `annotation ${CLASS_ANNOTATION} "${annotated}" is an accepted alias` }
        : { ours: true, takenOver: true, reason: `annotation ${CLASS_ANNOTATION} "${annotated}" is in classAliases: served beside its own controller (${other.controller ?? 'none'}), which keeps the status` };
    }
    return { ours: false, reason: `annotation ${CLASS_ANNOTATION} "${annotated}" is another class` };
  }

  const defaultClass = classes.find((c) => c.isDefault && c.controller === options.controllerName);
  if (defaultClass !== undefined) {
    return { ours: true, reason: `no class set and IngressClass "${defaultClass.name}" of our controller is the default` };
  }
  if (options.watchIngressWithoutClass) return { ours: true, reason: 'no class set and watchIngressWithoutClass is on' };
  return { ours: false, reason: 'no class set' };
}
