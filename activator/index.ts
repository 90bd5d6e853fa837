// activator: the data plane (host routing, hold at zero, proxy, per-app stats).
// Not built yet: issue #4. README's status table says so.
export {};
