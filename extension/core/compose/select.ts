import type { ComposeProject, ComposeService } from "./model";

/** Which services a devcontainer.json starts, in an order that honours depends_on. */
export interface ServiceSelection {
  /** Dependencies before dependants; ties keep the files' order. */
  readonly ordered: readonly ComposeService[];
  /** Services added only because a selected service depends on them. */
  readonly pulledIn: readonly string[];
  /** Names in `service`/`runServices` that the project does not define. */
  readonly unknown: readonly string[];
}

/**
 * `service` ∪ `runServices` (every service whose profiles are active when runServices is
 * absent) ∪ their depends_on closure. A service named explicitly runs whatever its profiles,
 * as `docker compose up NAME` does; a dependency that is not `required` is started only when
 * it is defined.
 */
export function selectServices(
  project: ComposeProject,
  devService: string,
  runServices: readonly string[] | undefined,
): ServiceSelection {
  const active = new Set(project.activeProfiles);
  const enabled = (s: ComposeService): boolean =>
    s.profiles.length === 0 || active.has("*") || s.profiles.some((p) => active.has(p));
  const roots =
    runServices === undefined
      ? [...project.services.values()].filter(enabled).map((s) => s.name)
      : [...runServices];
  if (!roots.includes(devService)) roots.push(devService);
  const unknown = roots.filter((n) => !project.services.has(n));
  const chosen = new Set<string>();
  const pulledIn: string[] = [];
  const add = (name: string, explicit: boolean): void => {
    if (chosen.has(name)) return;
    const service = project.services.get(name);
    if (!service) return;
    chosen.add(name);
    if (!explicit) pulledIn.push(name);
    for (const dep of service.dependsOn) add(dep.service, roots.includes(dep.service));
  };
  for (const name of roots) add(name, true);
  const ordered: ComposeService[] = [];
  const placed = new Set<string>();
  const place = (name: string): void => {
    if (placed.has(name)) return;
    placed.add(name);
    const service = project.services.get(name)!;
    for (const dep of service.dependsOn) if (chosen.has(dep.service)) place(dep.service);
    ordered.push(service);
  };
  for (const name of project.services.keys()) if (chosen.has(name)) place(name);
  return { ordered, pulledIn, unknown };
}
