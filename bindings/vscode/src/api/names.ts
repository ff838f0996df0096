// How the extension shows tether.v1 enum values: without the enum's prefix, in CamelCase, as the
// CLI prints them (`REASON_KIND_NO_READY_POD` → `NoReadyPod`, `PHASE_READY` → `Ready`).

function enumName(value: string, prefix: string): string {
  return value
    .slice(value.startsWith(prefix) ? prefix.length : 0)
    .toLowerCase()
    .split('_')
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join('');
}

/** `PHASE_READY` → `Ready`. */
export const phaseName = (phase: string): string => enumName(phase, 'PHASE_');

/** `REASON_KIND_NO_READY_POD` → `NoReadyPod`. */
export const reasonName = (kind: string): string => enumName(kind, 'REASON_KIND_');

/** `SESSION_PHASE_RUNNING` → `Running`. */
export const sessionPhase = (phase: string): string => enumName(phase, 'SESSION_PHASE_');
