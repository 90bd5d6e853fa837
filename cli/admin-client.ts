/** GET a JSON answer from the running dormant up's admin endpoints (metrics port, admin token). */
import { adminTokenFile, readAdminToken } from './admin-token.js';
import { cliErrors } from './errors.js';
import type { Settings } from './settings.js';

export async function adminGet<T>(settings: Settings, path: string, purpose: string): Promise<T> {
  const token = await readAdminToken(settings.stateDir);
  const answer = await fetch(`http://127.0.0.1:${settings.metricsPort}${path}`, { headers: token === undefined ? {} : { authorization: `Bearer ${token}` } }).catch((error: Error) => {
    throw cliErrors.notRunning({ stateDir: settings.stateDir, purpose: `${purpose} (${error.message})` });
  });
  const body = await answer.text();
  if (answer.status === 401) throw cliErrors.adminUnauthorized({ tokenFile: adminTokenFile(settings.stateDir) });
  if (!answer.ok) throw cliErrors.notRunning({ stateDir: settings.stateDir, purpose: `${purpose}: dormant up answered ${answer.status} ${body.trim().slice(0, 300)}` });
  return JSON.parse(body) as T;
}
