// The local API's settings rules, shared by the engine (its settings and `glance serve`), the IPC contract (main is
// the gate) and the Settings view (which says the same before saving). Pure TypeScript: no Node, no Electron.

/** The port when none is chosen (README: "The local API"). */
export const DEFAULT_API_PORT = 8421;

/** Ports a person may choose (below 1024 needs privileges on most systems), allowed origins, an origin's length. */
export const LOCAL_API_LIMITS = { minPort: 1024, maxPort: 65535, origins: 20, origin: 200 } as const;

/** An http(s) origin: scheme, host (a name, an IPv4 or a bracketed IPv6 address) and an optional port; no path. */
const ORIGIN = /^https?:\/\/[a-z0-9.-]+(:[0-9]{1,5})?$|^https?:\/\/\[[0-9a-f:]+\](:[0-9]{1,5})?$/i;

/** A web page origin that may be allowed to call the API. */
export function isWebOrigin(s: string): boolean {
  return s.length <= LOCAL_API_LIMITS.origin && ORIGIN.test(s);
}
